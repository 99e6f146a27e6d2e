//! paddock.v1.RunnerTokenService: a runner's credentials listed (never their
//! values), revoked one by one, and rotated with overlap — both tokens work
//! during the grace, only the new one after it — through the API and the
//! admin CLI alike.

use std::process::Command;
use std::time::Duration;

use tonic::Code;

use crate::harness::*;
use crate::processes::BIN;

/// Whether `token` (a runner's) still authenticates.
async fn works(server: &TestServer, protocol: Protocol, token: &str, runner_id: &str) -> Result<(), Code> {
    server
        .runners(protocol, token)
        .await
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner_id.into(),
        })
        .await
        .map(|_| ())
        .map_err(|e| e.code())
}

fn list(runner_id: &str, include_inactive: bool) -> ppb::ListRunnerTokensRequest {
    ppb::ListRunnerTokensRequest {
        runner_id: runner_id.into(),
        pagination: None,
        include_inactive,
    }
}

fn rotate(runner_id: &str, grace_seconds: i64) -> ppb::RotateRunnerTokenRequest {
    ppb::RotateRunnerTokenRequest {
        runner_id: runner_id.into(),
        grace: Some(prost_types::Duration {
            seconds: grace_seconds,
            nanos: 0,
        }),
    }
}

protocol_tests!(rotation_overlaps_for_the_grace_then_only_the_new_token_works);
async fn rotation_overlaps_for_the_grace_then_only_the_new_token_works(protocol: Protocol) {
    let server = TestServer::start_with(|s| s.token_cache_ttl = Duration::from_millis(200)).await;
    let (runner_id, old) = server.runner_with_token(protocol, &server.admin, "rotating").await;
    works(&server, protocol, &old, &runner_id).await.unwrap();
    let mut tokens = server.runner_tokens(protocol, &server.admin.token).await;

    // the working tokens: the access token (used), not the traded exchange token
    let listed = eventually(
        Duration::from_secs(5),
        "the access token's use is recorded",
        async || {
            let tokens = tokens
                .list_runner_tokens(list(&runner_id, false))
                .await
                .unwrap()
                .into_inner()
                .tokens;
            tokens.iter().all(|t| t.last_used_at.is_some()).then_some(tokens)
        },
    )
    .await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let access = &listed[0];
    assert_eq!(access.kind, ppb::RunnerTokenKind::Access as i32);
    assert!(access.active && access.expires_at.is_none() && access.revoked_at.is_none());
    assert_eq!(access.runner_id, runner_id);
    assert!(!format!("{listed:?}").contains(&old[8..]), "no value is ever listed");
    let everything = tokens
        .list_runner_tokens(list(&runner_id, true))
        .await
        .unwrap()
        .into_inner()
        .tokens;
    let exchange = everything
        .iter()
        .find(|t| t.kind == ppb::RunnerTokenKind::Exchange as i32)
        .expect("the exchange token is listed with the inactive ones");
    assert!(!exchange.active && exchange.exchanged_at.is_some());

    // an unused exchange token does not outlive a rotation
    let spare = server
        .runners(protocol, &server.admin.token)
        .await
        .create_runner_token(pb::CreateRunnerTokenRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .exchange_token;

    // rotate with a 3 s grace: both work, then only the new one
    let rotated = tokens
        .rotate_runner_token(rotate(&runner_id, 3))
        .await
        .unwrap()
        .into_inner();
    let err = server
        .identity(protocol, None)
        .await
        .exchange_token(pb::ExchangeTokenRequest { exchange_token: spare })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::Unauthenticated,
        "the spare exchange token was revoked"
    );
    let new = rotated.access_token.clone();
    assert!(new.starts_with("pdk_rat_"));
    assert_eq!(
        rotated.token.as_ref().unwrap().kind,
        ppb::RunnerTokenKind::Access as i32
    );
    let until = rotated.previous_expire_at.as_ref().unwrap().seconds;
    let expected = chrono::Utc::now().timestamp() + 3;
    assert!((expected - 2..=expected).contains(&until), "{until} vs {expected}");
    works(&server, protocol, &old, &runner_id).await.unwrap();
    works(&server, protocol, &new, &runner_id).await.unwrap();
    let during = tokens
        .list_runner_tokens(list(&runner_id, false))
        .await
        .unwrap()
        .into_inner()
        .tokens;
    assert_eq!(during.len(), 2);
    assert_eq!(during[0].expires_at.as_ref().map(|t| t.seconds), Some(until));
    eventually(
        Duration::from_secs(8),
        "the old token stops after the grace",
        async || (works(&server, protocol, &old, &runner_id).await == Err(Code::Unauthenticated)).then_some(()),
    )
    .await;
    works(&server, protocol, &new, &runner_id).await.unwrap();
    let after = tokens
        .list_runner_tokens(list(&runner_id, false))
        .await
        .unwrap()
        .into_inner()
        .tokens;
    assert_eq!(
        after.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        [rotated.token.unwrap().id]
    );

    // a rotation with no grace cuts the earlier tokens at once
    let again = tokens
        .rotate_runner_token(rotate(&runner_id, 0))
        .await
        .unwrap()
        .into_inner();
    eventually(Duration::from_secs(2), "the previous token stops at once", async || {
        (works(&server, protocol, &new, &runner_id).await == Err(Code::Unauthenticated)).then_some(())
    })
    .await;
    works(&server, protocol, &again.access_token, &runner_id).await.unwrap();
    server.stop().await;
}

protocol_tests!(a_revoked_runner_token_stops_at_once);
async fn a_revoked_runner_token_stops_at_once(protocol: Protocol) {
    let server = TestServer::start().await;
    let (runner_id, access) = server.runner_with_token(protocol, &server.admin, "revoked").await;
    let mut tokens = server.runner_tokens(protocol, &server.admin.token).await;
    let listed = tokens
        .list_runner_tokens(list(&runner_id, false))
        .await
        .unwrap()
        .into_inner()
        .tokens;
    works(&server, protocol, &access, &runner_id).await.unwrap();
    let revoked = tokens
        .revoke_runner_token(ppb::RevokeRunnerTokenRequest {
            token_id: listed[0].id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .token
        .unwrap();
    assert!(!revoked.active && revoked.revoked_at.is_some());
    assert_eq!(
        works(&server, protocol, &access, &runner_id).await,
        Err(Code::Unauthenticated)
    );
    let err = tokens
        .revoke_runner_token(ppb::RevokeRunnerTokenRequest {
            token_id: listed[0].id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(
        tokens
            .list_runner_tokens(list(&runner_id, false))
            .await
            .unwrap()
            .into_inner()
            .tokens
            .is_empty()
    );
    // the audit log says who cut it
    let entries = server
        .events(protocol, &server.admin.token)
        .await
        .list_audit_logs(pb::ListAuditLogsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert!(
        entries
            .iter()
            .any(|e| e.action == "runner.revoke_token" && e.subject_id == runner_id)
    );
    server.stop().await;
}

protocol_tests!(only_those_who_manage_the_runner_see_and_cut_its_tokens);
async fn only_those_who_manage_the_runner_see_and_cut_its_tokens(protocol: Protocol) {
    let server = TestServer::start().await;
    let org = server.admin.organization_id;
    let (runner_id, runner_token) = server.runner_with_token(protocol, &server.admin, "guarded").await;
    let quinn = server.member("quinn").await;
    let rosa = server.member("rosa").await;
    let sam = server.member("sam").await;
    let admins = server.group(org, "runner admins", &[&rosa]).await;
    let fleet = server.group(org, "fleet", &[&sam]).await;
    let mut groups = server.groups(protocol, &server.admin.token).await;
    groups
        .create_role_assignment(pb::CreateRoleAssignmentRequest {
            group_id: admins.to_string(),
            resource_type: pb::ResourceType::Runner as i32,
            resource_id: runner_id.clone(),
            resource_role: pb::ResourceRole::RunnerAdmin as i32,
        })
        .await
        .unwrap();
    groups
        .create_role_assignment(pb::CreateRoleAssignmentRequest {
            group_id: fleet.to_string(),
            resource_type: pb::ResourceType::Organization as i32,
            resource_id: org.to_string(),
            resource_role: pb::ResourceRole::OrgRunnersAdmin as i32,
        })
        .await
        .unwrap();
    let outsider = server.user_in("elsewhere", "tom", true).await;
    let (_, other_runner) = server.runner_with_token(protocol, &server.admin, "another").await;

    for (who, token, expected) in [
        ("a plain member", quinn.token.as_str(), Some(Code::PermissionDenied)),
        ("the runner itself", runner_token.as_str(), Some(Code::PermissionDenied)),
        ("another runner", other_runner.as_str(), Some(Code::NotFound)),
        (
            "another organization's admin",
            outsider.token.as_str(),
            Some(Code::NotFound),
        ),
        ("anonymous", "", Some(Code::Unauthenticated)),
        ("a RUNNER_ROLE_ADMIN group member", rosa.token.as_str(), None),
        ("an ORG_RUNNERS_ADMIN group member", sam.token.as_str(), None),
        ("the organization admin", server.admin.token.as_str(), None),
    ] {
        let mut api = server.runner_tokens(protocol, token).await;
        let listed = api.list_runner_tokens(list(&runner_id, false)).await;
        let rotated = api.rotate_runner_token(rotate(&runner_id, 60)).await;
        match expected {
            Some(code) => {
                assert_eq!(listed.unwrap_err().code(), code, "{who}: list");
                assert_eq!(rotated.unwrap_err().code(), code, "{who}: rotate");
            }
            None => {
                listed.unwrap_or_else(|e| panic!("{who}: list: {e:?}"));
                rotated.unwrap_or_else(|e| panic!("{who}: rotate: {e:?}"));
            }
        }
    }
    // revoking: a member learns nothing more than that they may not
    let some = server
        .runner_tokens(protocol, &server.admin.token)
        .await
        .list_runner_tokens(list(&runner_id, false))
        .await
        .unwrap()
        .into_inner()
        .tokens;
    let err = server
        .runner_tokens(protocol, &quinn.token)
        .await
        .revoke_runner_token(ppb::RevokeRunnerTokenRequest {
            token_id: some[0].id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = server
        .runner_tokens(protocol, &outsider.token)
        .await
        .revoke_runner_token(ppb::RevokeRunnerTokenRequest {
            token_id: some[0].id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

protocol_tests!(bad_runner_token_requests_name_the_field);
async fn bad_runner_token_requests_name_the_field(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut api = server.runner_tokens(protocol, &server.admin.token).await;
    let err = api
        .list_runner_tokens(ppb::ListRunnerTokensRequest {
            runner_id: "r".into(),
            pagination: Some(pb::PaginationRequest {
                token: String::new(),
                page_size: 101,
            }),
            include_inactive: false,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["runner_id", "pagination.page_size"]);
    for grace in [-1, 30 * 86_400 + 1] {
        let err = api.rotate_runner_token(rotate("r", grace)).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["runner_id", "grace"], "{grace}");
    }
    let err = api
        .revoke_runner_token(ppb::RevokeRunnerTokenRequest { token_id: "t".into() })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["token_id"]);
    let err = api
        .rotate_runner_token(rotate(&uuid::Uuid::now_v7().to_string(), 60))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

fn admin_cli(url: &str, args: &[&str]) -> serde_json::Value {
    let output = Command::new(BIN)
        .args(["--database-url", url, "admin", "runner-token"])
        .args(args)
        .output()
        .expect("running paddock");
    assert!(
        output.status.success(),
        "paddock admin runner-token {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[tokio::test]
async fn the_admin_cli_lists_rotates_and_revokes_the_same_tokens() {
    let server = TestServer::start_with(|s| s.token_cache_ttl = Duration::from_millis(200)).await;
    let protocol = Protocol::Grpc;
    let (runner_id, old) = server.runner_with_token(protocol, &server.admin, "by the CLI").await;
    let url = server.db.url.clone();
    let listed = admin_cli(&url, &["list", "--runner", &runner_id]);
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["kind"], "runner_access");
    assert!(!listed.to_string().contains(&old[8..]));

    let rotated = admin_cli(&url, &["rotate", "--runner", &runner_id, "--grace", "0s"]);
    let new = rotated["access_token"].as_str().unwrap().to_owned();
    works(&server, protocol, &new, &runner_id).await.unwrap();
    eventually(Duration::from_secs(2), "the old token is cut", async || {
        (works(&server, protocol, &old, &runner_id).await == Err(Code::Unauthenticated)).then_some(())
    })
    .await;
    // the API sees what the CLI did
    let via_api = server
        .runner_tokens(protocol, &server.admin.token)
        .await
        .list_runner_tokens(list(&runner_id, false))
        .await
        .unwrap()
        .into_inner()
        .tokens;
    assert_eq!(via_api.len(), 1);
    assert_eq!(via_api[0].id, rotated["token"]["id"].as_str().unwrap());

    let revoked = admin_cli(&url, &["revoke", "--token", &via_api[0].id]);
    assert_eq!(revoked["token"]["active"], false);
    eventually(Duration::from_secs(2), "the revoked token is cut", async || {
        (works(&server, protocol, &new, &runner_id).await == Err(Code::Unauthenticated)).then_some(())
    })
    .await;
    let too_long = Command::new(BIN)
        .args([
            "--database-url",
            &url,
            "admin",
            "runner-token",
            "rotate",
            "--runner",
            &runner_id,
            "--grace",
            "31d",
        ])
        .output()
        .unwrap();
    assert!(!too_long.status.success());
    server.stop().await;
}
