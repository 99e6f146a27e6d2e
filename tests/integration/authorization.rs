//! Who may see and who may change a runner.

use tonic::Code;

use crate::harness::*;

fn rename(runner_id: &str, name: &str) -> pb::UpdateRunnerRequest {
    pb::UpdateRunnerRequest {
        runner_id: runner_id.into(),
        name: Some(name.into()),
        spec: None,
    }
}

protocol_tests!(a_member_may_look_but_not_touch_until_a_policy_makes_their_group_admin);
async fn a_member_may_look_but_not_touch_until_a_policy_makes_their_group_admin(protocol: Protocol) {
    let server = TestServer::start().await;
    let owner = server.member("owner").await;
    let bob = server.member("bob").await;
    let mut as_owner = server.runners(protocol, &owner.token).await;
    let mut as_bob = server.runners(protocol, &bob.token).await;
    let runner_id = as_owner
        .create_runner(linux_runner("owner's runner"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;

    // bob sees it ...
    as_bob
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .expect("members read");
    let listed = as_bob
        .list_runners(pb::ListRunnersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.runners.len(), 1);
    // ... but may not change it, mint its tokens, delete it or set its policies
    let denied = as_bob
        .update_runner(rename(&runner_id, "bob was here"))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = as_bob
        .create_runner_token(pb::CreateRunnerTokenRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = as_bob
        .delete_runner(pb::DeleteRunnerRequest {
            runner_id: runner_id.clone(),
            force: true,
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // a group with bob gets RUNNER_ROLE_USER: still not enough
    let group = server.group(owner.organization_id, "platform", &[&bob]).await;
    let denied = as_bob
        .create_runner_policy(pb::CreateRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: group.to_string(),
            role: pb::RunnerRole::Admin as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied, "bob cannot grant himself admin");
    as_owner
        .create_runner_policy(pb::CreateRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: group.to_string(),
            role: pb::RunnerRole::User as i32,
        })
        .await
        .unwrap();
    let denied = as_bob
        .update_runner(rename(&runner_id, "bob was here"))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // the policy becomes RUNNER_ROLE_ADMIN: now bob manages the runner
    as_owner
        .update_runner_policy(pb::UpdateRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: group.to_string(),
            role: pb::RunnerRole::Admin as i32,
        })
        .await
        .unwrap();
    as_bob
        .update_runner(rename(&runner_id, "bob was here"))
        .await
        .expect("group admin updates");
    let runner = as_bob
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(runner.runner.unwrap().name, "bob was here");

    // and loses it again with the policy
    as_owner
        .delete_runner_policy(pb::DeleteRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: group.to_string(),
        })
        .await
        .unwrap();
    let denied = as_bob.update_runner(rename(&runner_id, "again")).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    server.stop().await;
}

protocol_tests!(org_admins_manage_every_runner_of_their_organization);
async fn org_admins_manage_every_runner_of_their_organization(protocol: Protocol) {
    let server = TestServer::start().await;
    let owner = server.member("owner").await;
    let mut as_owner = server.runners(protocol, &owner.token).await;
    let runner_id = as_owner
        .create_runner(linux_runner("owned"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    let mut as_admin = server.runners(protocol, &server.admin.token).await;
    as_admin
        .update_runner(rename(&runner_id, "admin renamed"))
        .await
        .expect("org admin updates");
    as_admin
        .delete_runner(pb::DeleteRunnerRequest { runner_id, force: true })
        .await
        .expect("org admin deletes");
    server.stop().await;
}

protocol_tests!(other_organizations_see_nothing);
async fn other_organizations_see_nothing(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut ours = server.runners(protocol, &server.admin.token).await;
    let runner_id = ours
        .create_runner(linux_runner("ours"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    let stranger = server.user_in("another org", "stranger", true).await;
    let mut theirs = server.runners(protocol, &stranger.token).await;

    let err = theirs
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = theirs.update_runner(rename(&runner_id, "hijacked")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = theirs
        .delete_runner(pb::DeleteRunnerRequest {
            runner_id: runner_id.clone(),
            force: true,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = theirs
        .create_runner_token(pb::CreateRunnerTokenRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = theirs
        .list_runner_policies(pb::ListRunnerPoliciesRequest {
            runner_id: runner_id.clone(),
            pagination: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let listed = theirs
        .list_runners(pb::ListRunnersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(listed.runners.is_empty());

    // nor may a policy hand our runner to their group, or theirs to ours
    let their_group = server
        .group(stranger.organization_id, "their group", &[&stranger])
        .await;
    let err = ours
        .create_runner_policy(pb::CreateRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: their_group.to_string(),
            role: pb::RunnerRole::Admin as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    ours.get_runner(pb::GetRunnerRequest { runner_id })
        .await
        .expect("untouched");
    server.stop().await;
}

protocol_tests!(a_runner_token_reads_only_its_own_runner);
async fn a_runner_token_reads_only_its_own_runner(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut admin = server.runners(protocol, &server.admin.token).await;
    let mine = admin.create_runner(linux_runner("mine")).await.unwrap().into_inner();
    let other = admin.create_runner(linux_runner("other")).await.unwrap().into_inner();
    let access = server
        .identity(protocol, None)
        .await
        .exchange_token(pb::ExchangeTokenRequest {
            exchange_token: mine.exchange_token,
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let mut as_runner = server.runners(protocol, &access).await;
    let mine_id = mine.runner.unwrap().runner_id;
    let other_id = other.runner.unwrap().runner_id;

    as_runner
        .get_runner(pb::GetRunnerRequest {
            runner_id: mine_id.clone(),
        })
        .await
        .expect("its own runner");
    let err = as_runner
        .get_runner(pb::GetRunnerRequest { runner_id: other_id })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let listed = as_runner
        .list_runners(pb::ListRunnersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed.runners.iter().map(|r| r.runner_id.as_str()).collect::<Vec<_>>(),
        vec![mine_id.as_str()]
    );
    let err = as_runner
        .update_runner(rename(&mine_id, "self-renamed"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = as_runner.create_runner(linux_runner("spawned")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    server.stop().await;
}
