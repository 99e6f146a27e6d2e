//! Organization roles held by groups: ORG_RUNNERS_ADMIN manages every runner
//! of the organization and its configuration, ORG_AUDIT_LOG_READER reads the
//! audit log; only organization admins hand them out, other organization
//! roles are refused, and withdrawing one withdraws the access at once.

use tonic::Code;

use crate::harness::*;

fn org_role(group_id: &str, organization_id: &str, role: pb::ResourceRole) -> pb::CreateRoleAssignmentRequest {
    pb::CreateRoleAssignmentRequest {
        group_id: group_id.into(),
        resource_type: pb::ResourceType::Organization as i32,
        resource_id: organization_id.into(),
        resource_role: role as i32,
    }
}

protocol_tests!(runners_admins_manage_every_runner_of_the_organization);
async fn runners_admins_manage_every_runner_of_the_organization(protocol: Protocol) {
    let server = TestServer::start().await;
    let org = server.admin.organization_id.to_string();
    let fay = server.member("fay").await;
    let platform = server
        .group(server.admin.organization_id, "platform", &[&fay])
        .await
        .to_string();
    let mut runners = server.runners(protocol, &server.admin.token).await;
    let runner_id = runners
        .create_runner(linux_runner("the admin's"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    let rename = |name: &str| pb::UpdateRunnerRequest {
        runner_id: runner_id.clone(),
        name: Some(name.into()),
        spec: None,
    };
    let mut as_fay = server.runners(protocol, &fay.token).await;
    let err = as_fay.update_runner(rename("fay's")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "a plain member only looks");

    // a member cannot make their own group runners admins
    let err = server
        .groups(protocol, &fay.token)
        .await
        .create_role_assignment(org_role(&platform, &org, pb::ResourceRole::OrgRunnersAdmin))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let mut groups = server.groups(protocol, &server.admin.token).await;
    let assignment = groups
        .create_role_assignment(org_role(&platform, &org, pb::ResourceRole::OrgRunnersAdmin))
        .await
        .unwrap()
        .into_inner()
        .assignment
        .unwrap();
    assert_eq!(assignment.resource_type, pb::ResourceType::Organization as i32);
    assert_eq!(assignment.resource_id, org);
    assert_eq!(assignment.organization_id, org);
    let err = groups
        .create_role_assignment(org_role(&platform, &org, pb::ResourceRole::OrgRunnersAdmin))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    // fay now manages the runner and its configuration
    as_fay.update_runner(rename("fay's")).await.unwrap();
    server
        .configuration(protocol, &fay.token)
        .await
        .create_environment_class(pb::CreateEnvironmentClassRequest {
            runner_id: runner_id.clone(),
            display_name: "large".into(),
            description: "16 cores".into(),
            configuration: vec![],
        })
        .await
        .unwrap();
    // but the role does not make her an organization admin
    let err = server
        .groups(protocol, &fay.token)
        .await
        .create_group(pb::CreateGroupRequest {
            organization_id: org.clone(),
            name: "fay's own".into(),
            description: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = server
        .events(protocol, &fay.token)
        .await
        .list_audit_logs(pb::ListAuditLogsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "runners admins do not read the audit log"
    );

    // the assignment is listed among the organization's, by type and role
    let listed = |filter: pb::list_role_assignments_request::Filter| pb::ListRoleAssignmentsRequest {
        pagination: None,
        filter: Some(filter),
    };
    let of_org = groups
        .list_role_assignments(listed(pb::list_role_assignments_request::Filter {
            resource_types: vec![pb::ResourceType::Organization as i32],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .assignments;
    assert_eq!(of_org, std::slice::from_ref(&assignment));
    let of_runners = groups
        .list_role_assignments(listed(pb::list_role_assignments_request::Filter {
            resource_types: vec![pb::ResourceType::Runner as i32],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .assignments;
    assert!(of_runners.is_empty());
    let by_role = groups
        .list_role_assignments(listed(pb::list_role_assignments_request::Filter {
            resource_roles: vec![pb::ResourceRole::OrgRunnersAdmin as i32],
            user_id: fay.id.to_string(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .assignments;
    assert_eq!(by_role, std::slice::from_ref(&assignment));

    // withdrawn: fay only looks again, at once
    groups
        .delete_role_assignment(pb::DeleteRoleAssignmentRequest {
            assignment_id: assignment.id.clone(),
        })
        .await
        .unwrap();
    let err = as_fay.update_runner(rename("fay's again?")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    server.stop().await;
}

protocol_tests!(audit_log_readers_read_the_audit_log);
async fn audit_log_readers_read_the_audit_log(protocol: Protocol) {
    let server = TestServer::start().await;
    let org = server.admin.organization_id.to_string();
    let gus = server.member("gus").await;
    let auditors = server.group(server.admin.organization_id, "auditors", &[&gus]).await;
    let mut as_gus = server.events(protocol, &gus.token).await;
    let err = as_gus
        .list_audit_logs(pb::ListAuditLogsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let mut groups = server.groups(protocol, &server.admin.token).await;
    let assignment = groups
        .create_role_assignment(org_role(
            &auditors.to_string(),
            &org,
            pb::ResourceRole::OrgAuditLogReader,
        ))
        .await
        .unwrap()
        .into_inner()
        .assignment
        .unwrap();
    let entries = as_gus
        .list_audit_logs(pb::ListAuditLogsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert!(
        entries.iter().any(|e| e.action == "org_role.create"),
        "gus reads the assignment that let him in: {entries:?}"
    );
    let one = &entries[0];
    as_gus
        .get_audit_log(pb::GetAuditLogRequest {
            audit_log_entry_id: one.id.clone(),
        })
        .await
        .unwrap();
    // reading is all: he manages no runner
    let (runner_id, _) = server.runner_with_token(protocol, &server.admin, "not gus's").await;
    let err = server
        .runners(protocol, &gus.token)
        .await
        .delete_runner(pb::DeleteRunnerRequest {
            runner_id,
            force: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // deleting the group takes the role with it
    groups
        .delete_group(pb::DeleteGroupRequest {
            group_id: auditors.to_string(),
        })
        .await
        .unwrap();
    let err = as_gus
        .list_audit_logs(pb::ListAuditLogsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = groups
        .delete_role_assignment(pb::DeleteRoleAssignmentRequest {
            assignment_id: assignment.id,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

protocol_tests!(other_organization_roles_are_refused);
async fn other_organization_roles_are_refused(protocol: Protocol) {
    let server = TestServer::start().await;
    let org = server.admin.organization_id.to_string();
    let group = server
        .group(server.admin.organization_id, "hopefuls", &[])
        .await
        .to_string();
    let mut groups = server.groups(protocol, &server.admin.token).await;
    for role in [
        pb::ResourceRole::OrgAdmin,
        pb::ResourceRole::OrgMember,
        pb::ResourceRole::OrgProjectsAdmin,
        pb::ResourceRole::OrgGroupsAdmin,
        pb::ResourceRole::RunnerAdmin,
        pb::ResourceRole::Unspecified,
    ] {
        let err = groups
            .create_role_assignment(org_role(&group, &org, role))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["resource_role"], "{role:?}");
    }
    // another organization's id is no organization of the caller's
    let other = server.user_in("elsewhere", "ivy", true).await;
    let err = groups
        .create_role_assignment(org_role(
            &group,
            &other.organization_id.to_string(),
            pb::ResourceRole::OrgRunnersAdmin,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // nor is its group
    let theirs = server.group(other.organization_id, "theirs", &[]).await.to_string();
    let err = groups
        .create_role_assignment(org_role(&theirs, &org, pb::ResourceRole::OrgRunnersAdmin))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}
