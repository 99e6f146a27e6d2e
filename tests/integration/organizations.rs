//! OrganizationService: the caller's organization, its members (filters,
//! sorts, pages, counts) and their roles — set by admins, never leaving the
//! organization without one.

use std::time::Duration;

use tonic::Code;

use crate::harness::*;

fn list(server: &TestServer) -> pb::ListMembersRequest {
    pb::ListMembersRequest {
        organization_id: server.admin.organization_id.to_string(),
        ..Default::default()
    }
}

fn names(members: &[pb::OrganizationMember]) -> Vec<&str> {
    members.iter().map(|m| m.full_name.as_str()).collect()
}

protocol_tests!(members_are_listed_filtered_sorted_and_counted);
async fn members_are_listed_filtered_sorted_and_counted(protocol: Protocol) {
    let server = TestServer::start().await;
    let org = server.admin.organization_id;
    let zoe = server.member("Zoe").await;
    let abe = server.member("abe").await;
    let max = server.member("Max").await;
    server.group(org, "team", &[&abe]).await;
    let mut orgs = server.organizations(protocol, &zoe.token).await;

    let organization = orgs
        .get_organization(pb::GetOrganizationRequest {
            organization_id: org.to_string(),
        })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    assert_eq!(organization.id, org.to_string());
    assert_eq!(organization.tier, pb::OrganizationTier::Enterprise as i32);

    // by name, both ways, two at a time
    let by_name = |order: pb::SortOrder, token: String| pb::ListMembersRequest {
        pagination: Some(pb::PaginationRequest { token, page_size: 2 }),
        sort: Some(pb::list_members_request::Sort {
            field: pb::list_members_request::SortField::Name as i32,
            order: order as i32,
        }),
        ..list(&server)
    };
    for (order, expected) in [
        (pb::SortOrder::Asc, ["abe", "admin", "Max", "Zoe"]),
        (pb::SortOrder::Desc, ["Zoe", "Max", "admin", "abe"]),
    ] {
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = orgs.list_members(by_name(order, token)).await.unwrap().into_inner();
            seen.extend(page.members.iter().map(|m| m.full_name.to_lowercase()));
            token = page.pagination.unwrap_or_default().next_token;
            if token.is_empty() {
                break;
            }
        }
        let expected: Vec<String> = expected.iter().map(|n| n.to_lowercase()).collect();
        assert_eq!(seen, expected, "{order:?}");
    }

    // filters
    let filtered = async |orgs: &mut OrganizationServiceClient<Transport>, filter: pb::list_members_request::Filter| {
        orgs.list_members(pb::ListMembersRequest {
            filter: Some(filter),
            count: Some(pb::CountRequest { include: true }),
            ..list(&server)
        })
        .await
        .unwrap()
        .into_inner()
    };
    let admins = filtered(
        &mut orgs,
        pb::list_members_request::Filter {
            roles: vec![pb::OrganizationRole::Admin as i32],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(names(&admins.members), ["admin"]);
    assert_eq!(admins.members[0].role, pb::OrganizationRole::Admin as i32);
    assert_eq!(admins.count.unwrap().value, 1);
    let searched = filtered(
        &mut orgs,
        pb::list_members_request::Filter {
            search: "A".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(names(&searched.members), ["admin", "abe", "Max"]);
    assert_eq!(searched.count.unwrap().value, 3);
    let not_in_groups = filtered(
        &mut orgs,
        pb::list_members_request::Filter {
            exclude_members_in_any_team: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(names(&not_in_groups.members), ["admin", "Zoe", "Max"]);
    let some = filtered(
        &mut orgs,
        pb::list_members_request::Filter {
            user_ids: vec![max.id.to_string(), zoe.id.to_string()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(names(&some.members), ["Zoe", "Max"]);
    let suspended = filtered(
        &mut orgs,
        pb::list_members_request::Filter {
            statuses: vec![pb::UserStatus::Suspended as i32],
            ..Default::default()
        },
    )
    .await;
    assert!(suspended.members.is_empty());
    assert_eq!(suspended.count.unwrap().value, 0);

    // other organizations are not the caller's to see
    let outsider = server.user_in("elsewhere", "nia", true).await;
    let err = server
        .organizations(protocol, &outsider.token)
        .await
        .list_members(list(&server))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

protocol_tests!(admins_set_roles_but_never_demote_the_last_admin);
async fn admins_set_roles_but_never_demote_the_last_admin(protocol: Protocol) {
    let server = TestServer::start_with(|s| s.token_cache_ttl = Duration::from_millis(200)).await;
    let org = server.admin.organization_id.to_string();
    let olga = server.member("olga").await;
    let set = |user: &User, role: pb::OrganizationRole| pb::SetRoleRequest {
        organization_id: org.clone(),
        user_id: user.id.to_string(),
        role: role as i32,
    };
    // a member cannot promote herself
    let err = server
        .organizations(protocol, &olga.token)
        .await
        .set_role(set(&olga, pb::OrganizationRole::Admin))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // the last admin cannot step down
    let mut as_admin = server.organizations(protocol, &server.admin.token).await;
    let err = as_admin
        .set_role(set(&server.admin, pb::OrganizationRole::Member))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    // with a second admin it can; the new admin's calls say so within the cache bound
    as_admin
        .set_role(set(&olga, pb::OrganizationRole::Admin))
        .await
        .unwrap();
    let mut as_olga = server.groups(protocol, &olga.token).await;
    eventually(Duration::from_secs(5), "olga acts as an admin", async || {
        as_olga
            .create_group(pb::CreateGroupRequest {
                organization_id: org.clone(),
                name: format!("olga's {}", uuid::Uuid::now_v7()),
                description: String::new(),
            })
            .await
            .ok()
    })
    .await;
    as_admin
        .set_role(set(&server.admin, pb::OrganizationRole::Member))
        .await
        .unwrap();
    let mut as_olga = server.organizations(protocol, &olga.token).await;
    let err = as_olga
        .set_role(set(&olga, pb::OrganizationRole::Member))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "olga is the last admin now");
    // bad input names the field; users of other organizations are not found
    let err = as_olga
        .set_role(pb::SetRoleRequest {
            organization_id: "o".into(),
            user_id: "u".into(),
            role: pb::OrganizationRole::Unspecified as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["organization_id", "user_id", "role"]);
    let outsider = server.user_in("elsewhere", "pia", false).await;
    let err = as_olga
        .set_role(set(&outsider, pb::OrganizationRole::Admin))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

protocol_tests!(bad_member_lists_name_the_field);
async fn bad_member_lists_name_the_field(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut orgs = server.organizations(protocol, &server.admin.token).await;
    let err = orgs
        .list_members(pb::ListMembersRequest {
            pagination: Some(pb::PaginationRequest {
                token: String::new(),
                page_size: 101,
            }),
            organization_id: String::new(),
            filter: Some(pb::list_members_request::Filter {
                search: "s".repeat(257),
                statuses: vec![9],
                roles: vec![7],
                user_ids: vec!["u".into()],
                exclude_group_ids: vec!["g".into()],
                exclude_members_in_any_team: false,
                email: "e".repeat(321),
                login_provider: 99,
            }),
            sort: Some(pb::list_members_request::Sort { field: 5, order: 6 }),
            count: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        [
            "pagination.page_size",
            "organization_id",
            "filter.search",
            "filter.user_ids[0]",
            "filter.exclude_group_ids[0]",
            "filter.email",
            "filter.login_provider"
        ]
    );
    // statuses, roles and the sort have no `defined_only` rule: values paddock
    // does not know match nobody, or sort the default way
    let page = orgs
        .list_members(pb::ListMembersRequest {
            organization_id: server.admin.organization_id.to_string(),
            filter: Some(pb::list_members_request::Filter {
                roles: vec![7],
                ..Default::default()
            }),
            sort: Some(pb::list_members_request::Sort { field: 5, order: 6 }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(page.members.is_empty());
    let page = orgs
        .list_members(pb::ListMembersRequest {
            organization_id: server.admin.organization_id.to_string(),
            filter: Some(pb::list_members_request::Filter {
                statuses: vec![pb::UserStatus::Active as i32, 9],
                ..Default::default()
            }),
            sort: Some(pb::list_members_request::Sort { field: 5, order: 6 }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&page.members), ["admin"]);
    let err = orgs
        .get_organization(pb::GetOrganizationRequest {
            organization_id: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["organization_id"]);
    server.stop().await;
}
