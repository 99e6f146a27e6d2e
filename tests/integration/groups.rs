//! GroupService's groups: organization admins create, rename and delete
//! them; members read them (with their member counts); runners and other
//! organizations do not; deleting a group takes its memberships and runner
//! policies with it.

use tonic::Code;
use uuid::Uuid;

use crate::harness::*;

fn create(server: &TestServer, name: &str) -> pb::CreateGroupRequest {
    pb::CreateGroupRequest {
        organization_id: server.admin.organization_id.to_string(),
        name: name.into(),
        description: format!("the {name} team"),
    }
}

protocol_tests!(admins_manage_groups_and_members_read_them);
async fn admins_manage_groups_and_members_read_them(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut admin = server.groups(protocol, &server.admin.token).await;
    let group = admin
        .create_group(create(&server, "platform"))
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    assert_eq!(group.name, "platform");
    assert_eq!(group.description, "the platform team");
    assert_eq!(group.organization_id, server.admin.organization_id.to_string());
    assert_eq!(group.member_count, 0);
    assert!(!group.system_managed && !group.direct_share);

    // a member reads it, by id and by name, with its member count
    let alice = server.member("alice").await;
    let bob = server.member("bob").await;
    let with_members = server
        .group(server.admin.organization_id, "reviewers", &[&alice, &bob])
        .await
        .to_string();
    let mut member = server.groups(protocol, &alice.token).await;
    let by_id = member
        .get_group(pb::GetGroupRequest {
            group: Some(pb::get_group_request::Group::Id(with_members.clone())),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    assert_eq!((by_id.name.as_str(), by_id.member_count), ("reviewers", 2));
    let by_name = member
        .get_group(pb::GetGroupRequest {
            group: Some(pb::get_group_request::Group::Name("platform".into())),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    assert_eq!(by_name.id, group.id);

    // lists: all, by search, by id, a page at a time
    let list = |filter: pb::list_groups_request::Filter, size: i32, token: String| pb::ListGroupsRequest {
        pagination: Some(pb::PaginationRequest { token, page_size: size }),
        filter: Some(filter),
    };
    let names = |groups: &[pb::Group]| groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>();
    let all = member
        .list_groups(list(Default::default(), 100, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&all.groups), ["platform", "reviewers"]);
    let found = member
        .list_groups(list(
            pb::list_groups_request::Filter {
                search: "VIEW".into(),
                ..Default::default()
            },
            100,
            String::new(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&found.groups), ["reviewers"]);
    let page = member
        .list_groups(list(Default::default(), 1, String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&page.groups), ["platform"]);
    let next = member
        .list_groups(list(Default::default(), 1, page.pagination.unwrap().next_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(&next.groups), ["reviewers"]);
    let none = member
        .list_groups(list(
            pb::list_groups_request::Filter {
                system_managed: Some(true),
                ..Default::default()
            },
            100,
            String::new(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(none.groups.is_empty(), "paddock has no system-managed groups");

    // members may not change groups
    let err = member.create_group(create(&server, "mine")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = member
        .delete_group(pb::DeleteGroupRequest {
            group_id: group.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // an admin renames one
    let renamed = admin
        .update_group(pb::UpdateGroupRequest {
            group_id: group.id.clone(),
            name: "platform-team".into(),
            description: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.description.as_str()),
        ("platform-team", "")
    );
    assert!(renamed.updated_at.unwrap().seconds >= renamed.created_at.unwrap().seconds);
    server.stop().await;
}

#[tokio::test]
async fn deleting_a_group_removes_its_memberships_and_runner_policies() {
    let server = TestServer::start().await;
    let alice = server.member("alice").await;
    let group = server.group(server.admin.organization_id, "operators", &[&alice]).await;
    let mut runners = server.runners(Protocol::Grpc, &server.admin.token).await;
    let runner_id = runners
        .create_runner(linux_runner("guarded"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    runners
        .create_runner_policy(pb::CreateRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: group.to_string(),
            role: pb::RunnerRole::Admin as i32,
        })
        .await
        .unwrap();
    // alice manages the runner through the group
    let mut as_alice = server.runners(Protocol::Grpc, &alice.token).await;
    let rename = |name: &str| pb::UpdateRunnerRequest {
        runner_id: runner_id.clone(),
        name: Some(name.into()),
        spec: None,
    };
    as_alice.update_runner(rename("renamed by alice")).await.unwrap();

    // while it holds the policy, the group is not offered for that runner again
    let mut groups = server.groups(Protocol::Grpc, &server.admin.token).await;
    let other = server.group(server.admin.organization_id, "bystanders", &[]).await;
    let offered = groups
        .list_groups(pb::ListGroupsRequest {
            pagination: None,
            filter: Some(pb::list_groups_request::Filter {
                exclude_assigned_to_resource: Some(pb::list_groups_request::filter::ExcludeAssignedToResource {
                    resource_type: pb::ResourceType::Runner as i32,
                    resource_id: runner_id.clone(),
                }),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .groups;
    assert_eq!(
        offered.iter().map(|g| g.id.clone()).collect::<Vec<_>>(),
        [other.to_string()]
    );
    server
        .groups(Protocol::Grpc, &server.admin.token)
        .await
        .delete_group(pb::DeleteGroupRequest {
            group_id: group.to_string(),
        })
        .await
        .unwrap();
    let policies = runners
        .list_runner_policies(pb::ListRunnerPoliciesRequest {
            runner_id: runner_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .policies;
    assert!(policies.is_empty());
    let err = as_alice.update_runner(rename("again")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = server
        .groups(Protocol::Grpc, &server.admin.token)
        .await
        .get_group(pb::GetGroupRequest {
            group: Some(pb::get_group_request::Group::Id(group.to_string())),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // the log says who did it
    let entries = server
        .events(Protocol::Grpc, &server.admin.token)
        .await
        .list_audit_logs(pb::ListAuditLogsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(entries[0].action, "group.delete");
    assert_eq!(entries[0].actor_id, server.admin.id.to_string());
    server.stop().await;
}

protocol_tests!(runners_and_other_organizations_see_no_groups);
async fn runners_and_other_organizations_see_no_groups(protocol: Protocol) {
    let server = TestServer::start().await;
    let group = server
        .group(server.admin.organization_id, "hidden", &[])
        .await
        .to_string();
    let (_, runner_token) = server.runner_with_token(protocol, &server.admin, "curious").await;
    let err = server
        .groups(protocol, &runner_token)
        .await
        .list_groups(pb::ListGroupsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let eve = server.user_in("elsewhere", "eve", true).await;
    let mut as_eve = server.groups(protocol, &eve.token).await;
    let err = as_eve
        .get_group(pb::GetGroupRequest {
            group: Some(pb::get_group_request::Group::Id(group.clone())),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    for err in [
        as_eve
            .update_group(pb::UpdateGroupRequest {
                group_id: group.clone(),
                name: "taken over".into(),
                description: String::new(),
            })
            .await
            .unwrap_err(),
        as_eve
            .delete_group(pb::DeleteGroupRequest {
                group_id: group.clone(),
            })
            .await
            .unwrap_err(),
        as_eve.create_group(create(&server, "in your org")).await.unwrap_err(),
    ] {
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
    }
    let theirs = as_eve
        .list_groups(pb::ListGroupsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .groups;
    assert!(theirs.is_empty());
    let err = server
        .groups(protocol, "nobody")
        .await
        .list_groups(pb::ListGroupsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    server.stop().await;
}

protocol_tests!(bad_group_requests_name_the_field);
async fn bad_group_requests_name_the_field(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut api = server.groups(protocol, &server.admin.token).await;
    let err = api
        .create_group(pb::CreateGroupRequest {
            organization_id: "org".into(),
            name: "ab".into(),
            description: "x".repeat(256),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["organization_id", "name", "description"]);
    let err = api
        .create_group(pb::CreateGroupRequest {
            name: "n".repeat(81),
            ..create(&server, "")
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["name"]);
    let err = api.get_group(pb::GetGroupRequest::default()).await.unwrap_err();
    assert_eq!(violated_fields(&err), ["group"]);
    let err = api
        .get_group(pb::GetGroupRequest {
            group: Some(pb::get_group_request::Group::Id("nope".into())),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["id"]);
    let err = api
        .get_group(pb::GetGroupRequest {
            group: Some(pb::get_group_request::Group::Name("ab".into())),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["name"]);
    let err = api
        .list_groups(pb::ListGroupsRequest {
            pagination: Some(pb::PaginationRequest {
                token: String::new(),
                page_size: 101,
            }),
            filter: Some(pb::list_groups_request::Filter {
                search: "s".repeat(257),
                group_ids: vec!["nope".into()],
                exclude_assigned_to_resource: Some(pb::list_groups_request::filter::ExcludeAssignedToResource {
                    resource_type: 0,
                    resource_id: "x".into(),
                }),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        [
            "pagination.page_size",
            "filter.search",
            "filter.group_ids[0]",
            "filter.exclude_assigned_to_resource.resource_type",
            "filter.exclude_assigned_to_resource.resource_id"
        ]
    );
    let err = api
        .update_group(pb::UpdateGroupRequest {
            group_id: "g".into(),
            name: String::new(),
            description: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["group_id", "name"]);
    let err = api
        .delete_group(pb::DeleteGroupRequest {
            group_id: Uuid::nil().to_string() + "x",
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["group_id"]);
    let err = api
        .delete_group(pb::DeleteGroupRequest {
            group_id: Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

fn user_subject(id: Uuid) -> Option<pb::Subject> {
    Some(pb::Subject {
        id: id.to_string(),
        principal: pb::Principal::User as i32,
    })
}

// The story of the issue: a group, a member, RUNNER_ROLE_ADMIN on a runner
// through a runner policy — the member may change the runner; the
// membership removed — they no longer may.
protocol_tests!(membership_through_the_api_grants_and_withdraws_runner_access);
async fn membership_through_the_api_grants_and_withdraws_runner_access(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut groups = server.groups(protocol, &server.admin.token).await;
    let group = groups
        .create_group(create(&server, "runner admins"))
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    let carol = server.member("carol").await;
    let member = groups
        .create_membership(pb::CreateMembershipRequest {
            group_id: group.id.clone(),
            subject: user_subject(carol.id),
        })
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();
    assert_eq!(member.group_id, group.id);
    assert_eq!(member.name, "carol");
    assert_eq!(member.subject, user_subject(carol.id));
    let err = groups
        .create_membership(pb::CreateMembershipRequest {
            group_id: group.id.clone(),
            subject: user_subject(carol.id),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    // members read memberships
    let mut as_carol = server.groups(protocol, &carol.token).await;
    let got = as_carol
        .get_membership(pb::GetMembershipRequest {
            group_id: group.id.clone(),
            subject: user_subject(carol.id),
        })
        .await
        .unwrap()
        .into_inner()
        .member
        .unwrap();
    assert_eq!(got, member);
    let listed = as_carol
        .list_memberships(pb::ListMembershipsRequest {
            group_id: group.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .members;
    assert_eq!(listed, std::slice::from_ref(&member));
    let searched = as_carol
        .list_memberships(pb::ListMembershipsRequest {
            group_id: group.id.clone(),
            filter: Some(pb::list_memberships_request::Filter { search: "zed".into() }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .members;
    assert!(searched.is_empty());
    // but do not change them
    let err = as_carol
        .delete_membership(pb::DeleteMembershipRequest {
            membership_id: member.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // the group's policy on a runner lets carol change it
    let mut runners = server.runners(protocol, &server.admin.token).await;
    let runner_id = runners
        .create_runner(linux_runner("shared"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    runners
        .create_runner_policy(pb::CreateRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: group.id.clone(),
            role: pb::RunnerRole::Admin as i32,
        })
        .await
        .unwrap();
    let mut carol_runners = server.runners(protocol, &carol.token).await;
    let rename = |name: &str| pb::UpdateRunnerRequest {
        runner_id: runner_id.clone(),
        name: Some(name.into()),
        spec: None,
    };
    carol_runners.update_runner(rename("carol's now")).await.unwrap();

    // membership removed: at once, she may not
    groups
        .delete_membership(pb::DeleteMembershipRequest {
            membership_id: member.id.clone(),
        })
        .await
        .unwrap();
    let err = carol_runners.update_runner(rename("still?")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = groups
        .delete_membership(pb::DeleteMembershipRequest {
            membership_id: member.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let count = groups
        .get_group(pb::GetGroupRequest {
            group: Some(pb::get_group_request::Group::Id(group.id.clone())),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap()
        .member_count;
    assert_eq!(count, 0);

    // another organization's user is no member to be
    let eve = server.user_in("elsewhere", "eve", false).await;
    let err = groups
        .create_membership(pb::CreateMembershipRequest {
            group_id: group.id.clone(),
            subject: user_subject(eve.id),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

protocol_tests!(bad_membership_requests_name_the_field);
async fn bad_membership_requests_name_the_field(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut api = server.groups(protocol, &server.admin.token).await;
    let err = api
        .create_membership(pb::CreateMembershipRequest {
            group_id: "g".into(),
            subject: None,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["group_id", "subject"]);
    let err = api
        .create_membership(pb::CreateMembershipRequest {
            group_id: Uuid::now_v7().to_string(),
            subject: Some(pb::Subject {
                id: "u".into(),
                principal: pb::Principal::Runner as i32,
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["subject.principal", "subject.id"]);
    let err = api
        .get_membership(pb::GetMembershipRequest {
            group_id: String::new(),
            subject: None,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["group_id", "subject"]);
    let err = api
        .list_memberships(pb::ListMembershipsRequest {
            pagination: Some(pb::PaginationRequest {
                token: String::new(),
                page_size: -1,
            }),
            group_id: "g".into(),
            filter: Some(pb::list_memberships_request::Filter {
                search: "s".repeat(257),
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        ["pagination.page_size", "group_id", "filter.search"]
    );
    let err = api
        .delete_membership(pb::DeleteMembershipRequest {
            membership_id: "m".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["membership_id"]);
    server.stop().await;
}

protocol_tests!(a_runner_policy_and_a_role_assignment_are_one_record);
async fn a_runner_policy_and_a_role_assignment_are_one_record(protocol: Protocol) {
    let server = TestServer::start().await;
    let org = server.admin.organization_id;
    let dana = server.member("dana").await;
    let admins = server.group(org, "runner admins", &[&dana]).await.to_string();
    let users = server.group(org, "runner users", &[]).await.to_string();
    let mut runners = server.runners(protocol, &server.admin.token).await;
    let runner_id = runners
        .create_runner(linux_runner("assigned"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    let mut groups = server.groups(protocol, &server.admin.token).await;

    // an assignment made through GroupService is a policy of the runner
    let assignment = groups
        .create_role_assignment(pb::CreateRoleAssignmentRequest {
            group_id: admins.clone(),
            resource_type: pb::ResourceType::Runner as i32,
            resource_id: runner_id.clone(),
            resource_role: pb::ResourceRole::RunnerAdmin as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .assignment
        .unwrap();
    assert_eq!(assignment.organization_id, org.to_string());
    let policies = runners
        .list_runner_policies(pb::ListRunnerPoliciesRequest {
            runner_id: runner_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .policies;
    assert_eq!(
        policies
            .iter()
            .map(|p| (p.group_id.clone(), p.role))
            .collect::<Vec<_>>(),
        [(admins.clone(), pb::RunnerRole::Admin as i32)]
    );
    // and a policy made through RunnerService is an assignment
    runners
        .create_runner_policy(pb::CreateRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: users.clone(),
            role: pb::RunnerRole::User as i32,
        })
        .await
        .unwrap();
    let list = |filter: pb::list_role_assignments_request::Filter| pb::ListRoleAssignmentsRequest {
        pagination: None,
        filter: Some(filter),
    };
    let all = groups
        .list_role_assignments(list(pb::list_role_assignments_request::Filter {
            resource_id: runner_id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .assignments;
    assert_eq!(
        all.iter()
            .map(|a| (a.group_id.clone(), a.resource_role))
            .collect::<Vec<_>>(),
        [
            (admins.clone(), pb::ResourceRole::RunnerAdmin as i32),
            (users.clone(), pb::ResourceRole::RunnerUser as i32)
        ]
    );
    assert_eq!(all[0], assignment);
    // filters: by user (dana is in the admins), by role, by type
    let of_dana = groups
        .list_role_assignments(list(pb::list_role_assignments_request::Filter {
            user_id: dana.id.to_string(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .assignments;
    assert_eq!(of_dana, std::slice::from_ref(&assignment));
    let users_only = groups
        .list_role_assignments(list(pb::list_role_assignments_request::Filter {
            resource_roles: vec![pb::ResourceRole::RunnerUser as i32],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .assignments;
    assert_eq!(users_only.len(), 1);
    assert_eq!(users_only[0].group_id, users);
    let projects = groups
        .list_role_assignments(list(pb::list_role_assignments_request::Filter {
            resource_types: vec![pb::ResourceType::Project as i32],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .assignments;
    assert!(projects.is_empty());

    // dana manages the runner through the assignment; deleting it (either
    // view) withdraws that
    let mut as_dana = server.runners(protocol, &dana.token).await;
    let rename = |name: &str| pb::UpdateRunnerRequest {
        runner_id: runner_id.clone(),
        name: Some(name.into()),
        spec: None,
    };
    as_dana.update_runner(rename("dana's")).await.unwrap();
    // a member who does not manage the runner cannot hand out roles on it
    let erin = server.member("erin").await;
    let err = server
        .groups(protocol, &erin.token)
        .await
        .create_role_assignment(pb::CreateRoleAssignmentRequest {
            group_id: admins.clone(),
            resource_type: pb::ResourceType::Runner as i32,
            resource_id: runner_id.clone(),
            resource_role: pb::ResourceRole::RunnerUser as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    groups
        .delete_role_assignment(pb::DeleteRoleAssignmentRequest {
            assignment_id: assignment.id.clone(),
        })
        .await
        .unwrap();
    let remaining = runners
        .list_runner_policies(pb::ListRunnerPoliciesRequest {
            runner_id: runner_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .policies;
    assert_eq!(
        remaining
            .iter()
            .map(|p| (p.group_id.clone(), p.role))
            .collect::<Vec<_>>(),
        [(users.clone(), pb::RunnerRole::User as i32)]
    );
    let err = as_dana.update_runner(rename("still dana's?")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = groups
        .delete_role_assignment(pb::DeleteRoleAssignmentRequest {
            assignment_id: assignment.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

protocol_tests!(bad_role_assignment_requests_name_the_field);
async fn bad_role_assignment_requests_name_the_field(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut api = server.groups(protocol, &server.admin.token).await;
    let err = api
        .create_role_assignment(pb::CreateRoleAssignmentRequest {
            group_id: "g".into(),
            resource_type: pb::ResourceType::Project as i32,
            resource_id: "r".into(),
            resource_role: pb::ResourceRole::OrgAdmin as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        ["group_id", "resource_type", "resource_id", "resource_role"]
    );
    let err = api
        .list_role_assignments(pb::ListRoleAssignmentsRequest {
            pagination: Some(pb::PaginationRequest {
                token: String::new(),
                page_size: 101,
            }),
            filter: Some(pb::list_role_assignments_request::Filter {
                resource_ids: vec!["x".into()],
                group_id: "g".into(),
                user_id: "u".into(),
                resource_id: "r".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        [
            "pagination.page_size",
            "filter.resource_ids[0]",
            "filter.group_id",
            "filter.user_id",
            "filter.resource_id"
        ]
    );
    let err = api
        .delete_role_assignment(pb::DeleteRoleAssignmentRequest {
            assignment_id: "a".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["assignment_id"]);
    let (_, runner_token) = server.runner_with_token(protocol, &server.admin, "nosy").await;
    let err = server
        .groups(protocol, &runner_token)
        .await
        .list_role_assignments(pb::ListRoleAssignmentsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    server.stop().await;
}
