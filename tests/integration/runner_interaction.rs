//! The runner's side: Signup, the lease, status reports, its own lists, its
//! secrets sealed to its key, its configuration schema — callable only with
//! the runner's own access token.

use crypto_box::SecretKey;
use crypto_box::aead::OsRng;
use tonic::Code;

use crate::harness::*;

protocol_tests!(signup_brings_a_runner_alive_once_and_keeps_its_key);
async fn signup_brings_a_runner_alive_once_and_keeps_its_key(protocol: Protocol) {
    let server = TestServer::start().await;
    let (runner_id, token) = server.runner_with_token(protocol, &server.admin, "arriving").await;
    assert_eq!(
        phase_of(&server, protocol, &runner_id).await.0,
        pb::RunnerPhase::Created as i32
    );
    let mut api = server.interaction(protocol, &token).await;

    // before Signup the runner has no lease to hold
    let err = api
        .mark_runner_active(pb::MarkRunnerActiveRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    let err = api
        .signup(pb::SignupRequest {
            public_key: vec![7; 31],
            environment_classes: vec![class("x")],
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        ["public_key", "environment_classes[0].display_name"]
    );

    let key = SecretKey::generate(&mut OsRng);
    let public = key.public_key().as_bytes().to_vec();
    let signup = pb::SignupRequest {
        public_key: public.clone(),
        environment_classes: vec![class("4 cores"), class("8 cores")],
    };
    let answer = api.signup(signup.clone()).await.unwrap().into_inner();
    assert_eq!(answer.runner_id, runner_id);
    let (phase, status) = phase_of(&server, protocol, &runner_id).await;
    assert_eq!(phase, pb::RunnerPhase::Active as i32);
    assert_eq!(status.public_key, public);

    // the same again changes nothing (no second set of classes)
    api.signup(signup).await.unwrap();
    let classes = api
        .list_runner_environment_classes(pb::ListRunnerEnvironmentClassesRequest {
            runner_id: runner_id.clone(),
            pagination: None,
        })
        .await
        .unwrap()
        .into_inner()
        .environment_classes;
    let names: Vec<_> = classes.iter().map(|c| c.display_name.as_str()).collect();
    assert_eq!(names, ["4 cores", "8 cores"]);
    assert!(classes.iter().all(|c| c.runner_id == runner_id && c.enabled));

    // another key needs another token
    let other = SecretKey::generate(&mut OsRng);
    let err = api
        .signup(pb::SignupRequest {
            public_key: other.public_key().as_bytes().to_vec(),
            environment_classes: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");

    // a new token (the old one leaked, or its key was lost) replaces the old
    // one: the old token is refused, and the new one signs up with a new key
    let exchange_token = server
        .runners(protocol, &server.admin.token)
        .await
        .create_runner_token(pb::CreateRunnerTokenRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .exchange_token;
    let new_token = server
        .identity(protocol, None)
        .await
        .exchange_token(pb::ExchangeTokenRequest { exchange_token })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let err = api
        .signup(pb::SignupRequest {
            public_key: other.public_key().as_bytes().to_vec(),
            environment_classes: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "the old token is revoked: {err:?}");
    server
        .interaction(protocol, &new_token)
        .await
        .signup(pb::SignupRequest {
            public_key: other.public_key().as_bytes().to_vec(),
            environment_classes: vec![],
        })
        .await
        .unwrap();
    let (_, status) = phase_of(&server, protocol, &runner_id).await;
    assert_eq!(status.public_key, other.public_key().as_bytes().to_vec());
    server.stop().await;
}

protocol_tests!(only_the_runner_itself_may_call_and_a_runner_changes_nothing_else);
async fn only_the_runner_itself_may_call_and_a_runner_changes_nothing_else(protocol: Protocol) {
    let server = TestServer::start().await;
    let (runner_a, token_a, _) = signed_up(&server, protocol, "runner a").await;
    let (runner_b, _, _) = signed_up(&server, protocol, "runner b").await;

    // a user is not a runner
    let mut as_admin = server.interaction(protocol, &server.admin.token).await;
    let err = as_admin
        .mark_runner_active(pb::MarkRunnerActiveRequest {
            runner_id: runner_a.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = as_admin
        .signup(pb::SignupRequest {
            public_key: vec![1; 32],
            environment_classes: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // a runner learns nothing of another runner
    let mut as_a = server.interaction(protocol, &token_a).await;
    let err = as_a
        .update_runner_status(pb::UpdateRunnerStatusRequest {
            runner_id: runner_b.clone(),
            message: Some("hijack".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = as_a
        .mark_runner_active(pb::MarkRunnerActiveRequest {
            runner_id: "not-a-uuid".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["runner_id"]);

    // and its token changes nothing through the user RPCs
    let mut runners = server.runners(protocol, &token_a).await;
    let err = runners.create_runner(linux_runner("spawned")).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = runners
        .update_runner(pb::UpdateRunnerRequest {
            runner_id: runner_a.clone(),
            name: Some("renamed".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = runners
        .delete_runner(pb::DeleteRunnerRequest {
            runner_id: runner_a.clone(),
            force: true,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = runners
        .create_runner_token(pb::CreateRunnerTokenRequest {
            runner_id: runner_a.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    server.stop().await;
}

protocol_tests!(status_reports_keep_what_they_leave_out_and_a_runner_sets_only_its_own_phases);
async fn status_reports_keep_what_they_leave_out_and_a_runner_sets_only_its_own_phases(protocol: Protocol) {
    let server = TestServer::start().await;
    let (runner_id, token, _) = signed_up(&server, protocol, "reporting").await;
    let mut api = server.interaction(protocol, &token).await;
    api.update_runner_status(pb::UpdateRunnerStatusRequest {
        runner_id: runner_id.clone(),
        version: Some("2026.12.1".into()),
        region: Some("eu-central-1".into()),
        system_details: Some("linux/amd64".into()),
        capabilities: vec![pb::RunnerCapability::FetchLocalScmIntegrations as i32],
        additional_info: vec![pb::FieldValue {
            key: "kernel".into(),
            value: "6.18".into(),
        }],
        ..Default::default()
    })
    .await
    .unwrap();
    api.update_runner_status(pb::UpdateRunnerStatusRequest {
        runner_id: runner_id.clone(),
        message: Some("disk 91% full".into()),
        phase: Some(pb::RunnerPhase::Degraded as i32),
        ..Default::default()
    })
    .await
    .unwrap();
    let (phase, status) = phase_of(&server, protocol, &runner_id).await;
    assert_eq!(phase, pb::RunnerPhase::Degraded as i32);
    assert_eq!(status.version, "2026.12.1");
    assert_eq!(status.region, "eu-central-1");
    assert_eq!(status.system_details, "linux/amd64");
    assert_eq!(status.message, "disk 91% full");
    assert_eq!(
        status.capabilities,
        [pb::RunnerCapability::FetchLocalScmIntegrations as i32]
    );
    assert_eq!(status.additional_info.len(), 1);
    assert!(status.updated_at.is_some());

    for not_a_runners_to_set in [
        pb::RunnerPhase::Created,
        pb::RunnerPhase::Inactive,
        pb::RunnerPhase::Deleting,
        pb::RunnerPhase::Unspecified,
    ] {
        let err = api
            .update_runner_status(pb::UpdateRunnerStatusRequest {
                runner_id: runner_id.clone(),
                phase: Some(not_a_runners_to_set as i32),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["phase"], "{not_a_runners_to_set:?}");
    }
    let err = api
        .update_runner_status(pb::UpdateRunnerStatusRequest {
            runner_id: runner_id.clone(),
            capabilities: vec![999],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["capabilities[0]"]);
    // DELETED answers a DeleteRunner; nobody asked
    let err = api
        .update_runner_status(pb::UpdateRunnerStatusRequest {
            runner_id: runner_id.clone(),
            phase: Some(pb::RunnerPhase::Deleted as i32),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        phase_of(&server, protocol, &runner_id).await.0,
        pb::RunnerPhase::Degraded as i32
    );
    server.stop().await;
}

protocol_tests!(a_deleted_runner_hears_it_in_its_lease_and_goes_when_it_confirms);
async fn a_deleted_runner_hears_it_in_its_lease_and_goes_when_it_confirms(protocol: Protocol) {
    let server = TestServer::start().await;
    let (runner_id, token, _) = signed_up(&server, protocol, "leaving").await;
    let mut api = server.interaction(protocol, &token).await;
    let lease = api
        .mark_runner_active(pb::MarkRunnerActiveRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!lease.deleting);
    assert_eq!(lease.phase, pb::RunnerPhase::Active as i32);
    assert_eq!(lease.lease_duration.unwrap().seconds, 30);

    let mut admin = server.runners(protocol, &server.admin.token).await;
    admin
        .delete_runner(pb::DeleteRunnerRequest {
            runner_id: runner_id.clone(),
            force: false,
        })
        .await
        .unwrap();
    assert_eq!(
        phase_of(&server, protocol, &runner_id).await.0,
        pb::RunnerPhase::Deleting as i32
    );

    // the runner hears it in its next lease, and confirms
    let lease = api
        .mark_runner_active(pb::MarkRunnerActiveRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(lease.deleting);
    assert_eq!(lease.phase, pb::RunnerPhase::Deleting as i32);
    assert_eq!(lease.desired_phase, pb::RunnerPhase::Deleted as i32);
    // a runner being deleted stays DELETING whatever it says of its health
    api.update_runner_status(pb::UpdateRunnerStatusRequest {
        runner_id: runner_id.clone(),
        phase: Some(pb::RunnerPhase::Active as i32),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        phase_of(&server, protocol, &runner_id).await.0,
        pb::RunnerPhase::Deleting as i32
    );
    api.update_runner_status(pb::UpdateRunnerStatusRequest {
        runner_id: runner_id.clone(),
        phase: Some(pb::RunnerPhase::Deleted as i32),
        ..Default::default()
    })
    .await
    .unwrap();

    // gone, with everything it owned, and its token with it
    let err = admin
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = api
        .mark_runner_active(pb::MarkRunnerActiveRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    server.stop().await;
}

protocol_tests!(host_tokens_reach_the_runner_sealed_to_its_key_only);
async fn host_tokens_reach_the_runner_sealed_to_its_key_only(protocol: Protocol) {
    let server = TestServer::start().await;
    let (runner_id, token, key) = signed_up(&server, protocol, "sealing").await;
    let alice = server.member("alice").await;
    server
        .configuration(protocol, &alice.token)
        .await
        .create_host_authentication_token(pb::CreateHostAuthenticationTokenRequest {
            runner_id: runner_id.clone(),
            host: "github.com".into(),
            token: "ghp_alice_secret_token".into(),
            refresh_token: "ghr_alice_refresh".into(),
            source: pb::HostAuthenticationTokenSource::Oauth as i32,
            ..Default::default()
        })
        .await
        .unwrap();

    let mut api = server.interaction(protocol, &token).await;
    let value = api
        .get_host_authentication_token_value(pb::GetHostAuthenticationTokenValueRequest {
            runner_id: runner_id.clone(),
            host: "github.com".into(),
            principal_id: alice.id.to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!value.token_id.is_empty());
    assert_eq!(value.source, pb::HostAuthenticationTokenSource::Oauth as i32);
    assert_eq!(key.unseal(&value.value).unwrap(), b"ghp_alice_secret_token");
    assert_eq!(key.unseal(&value.refresh_token).unwrap(), b"ghr_alice_refresh");
    let stranger = SecretKey::generate(&mut OsRng);
    assert!(stranger.unseal(&value.value).is_err(), "only the runner's key opens it");
    assert!(!String::from_utf8_lossy(&value.value).contains("ghp_alice"));

    // nobody else ever receives the value: not its owner, not an admin
    use prost::Message;
    for reader in [&alice, &server.admin] {
        let mut config = server.configuration(protocol, &reader.token).await;
        let got = config
            .get_host_authentication_token(pb::GetHostAuthenticationTokenRequest {
                id: value.token_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .encode_to_vec();
        let listed = config
            .list_host_authentication_tokens(pb::ListHostAuthenticationTokensRequest::default())
            .await
            .unwrap()
            .into_inner()
            .encode_to_vec();
        for bytes in [got, listed] {
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains("ghp_alice") && !text.contains("ghr_alice"), "{text}");
        }
        let err = server
            .interaction(protocol, &reader.token)
            .await
            .get_host_authentication_token_value(pb::GetHostAuthenticationTokenValueRequest {
                runner_id: runner_id.clone(),
                host: "github.com".into(),
                principal_id: alice.id.to_string(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
    }

    // nobody's token for another host, and bad input by field
    let err = api
        .get_host_authentication_token_value(pb::GetHostAuthenticationTokenValueRequest {
            runner_id: runner_id.clone(),
            host: "gitlab.com".into(),
            principal_id: alice.id.to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = api
        .get_host_authentication_token_value(pb::GetHostAuthenticationTokenValueRequest {
            runner_id: "nope".into(),
            host: String::new(),
            principal_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["principal_id", "host", "runner_id"]);
    server.stop().await;
}

protocol_tests!(scm_client_secrets_reach_the_runner_sealed_to_its_key);
async fn scm_client_secrets_reach_the_runner_sealed_to_its_key(protocol: Protocol) {
    let server = TestServer::start().await;
    let (runner_id, token, key) = signed_up(&server, protocol, "scm").await;
    server
        .configuration(protocol, &server.admin.token)
        .await
        .create_scm_integration(pb::CreateScmIntegrationRequest {
            runner_id: runner_id.clone(),
            scm_id: "github".into(),
            host: "github.com".into(),
            oauth_client_id: Some("client-id".into()),
            oauth_plaintext_client_secret: Some("client-secret-value".into()),
            pat: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let listed = server
        .interaction(protocol, &token)
        .await
        .list_runner_scm_integrations(pb::ListRunnerScmIntegrationsRequest {
            runner_id: runner_id.clone(),
            pagination: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.integrations.len(), 1);
    let oauth = listed.integrations[0].oauth.clone().unwrap();
    assert_eq!(oauth.client_id, "client-id");
    assert_eq!(
        key.unseal(&oauth.encrypted_client_secret).unwrap(),
        b"client-secret-value"
    );
    server.stop().await;
}

protocol_tests!(the_runner_publishes_its_schema_and_learns_its_release);
async fn the_runner_publishes_its_schema_and_learns_its_release(protocol: Protocol) {
    let server = TestServer::start_with(|s| {
        s.runner_releases =
            paddock::fleet::releases::parse(&["stable=2026.12.1,ghcr.io/acme/runner:2026.12.1".into()]).unwrap();
    })
    .await;
    let (runner_id, token, _) = signed_up(&server, protocol, "versioned").await;
    let mut api = server.interaction(protocol, &token).await;
    let latest = api
        .get_latest_version(pb::GetLatestVersionRequest {
            runner_id: runner_id.clone(),
            current_version: "2026.11.0".into(),
            infrastructure_version: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(latest.version, "2026.12.1");
    assert_eq!(latest.runner_image, "ghcr.io/acme/runner:2026.12.1");
    assert_eq!(latest.release_channel, pb::RunnerReleaseChannel::Stable as i32);
    assert!(!latest.auto_update, "the runner's spec did not ask for auto-update");

    let schema = pb::RunnerConfigurationSchema {
        version: "custom-1".into(),
        ..Default::default()
    };
    api.update_runner_configuration_schema(pb::UpdateRunnerConfigurationSchemaRequest {
        runner_id: runner_id.clone(),
        config_schema: Some(schema),
    })
    .await
    .unwrap();
    let served = server
        .configuration(protocol, &server.admin.token)
        .await
        .get_runner_configuration_schema(pb::GetRunnerConfigurationSchemaRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .schema
        .unwrap();
    assert_eq!(served.version, "custom-1");
    let err = api
        .update_runner_configuration_schema(pb::UpdateRunnerConfigurationSchemaRequest {
            runner_id,
            config_schema: None,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["config_schema"]);
    server.stop().await;
}

/// Leases of an ACTIVE runner are kept in memory and written in batches: the
/// stored lease moves within a flush interval, not with every call.
#[tokio::test]
async fn leases_are_written_in_batches_within_a_flush_interval() {
    let server = TestServer::start_with(|s| s.runner_lease = std::time::Duration::from_millis(400)).await;
    let (runner_id, token, _) = signed_up(&server, Protocol::Grpc, "heartbeating").await;
    let id = uuid::Uuid::parse_str(&runner_id).unwrap();
    let stored = || async {
        paddock::store::runners::get(&server.state.db, id)
            .await
            .unwrap()
            .unwrap()
            .lease_renewed_at
            .unwrap()
    };
    let at_signup = stored().await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let lease = server
        .interaction(Protocol::Grpc, &token)
        .await
        .mark_runner_active(pb::MarkRunnerActiveRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(lease.lease_duration.unwrap().nanos, 400_000_000);
    // the flush interval is a quarter of the lease: 100 ms
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(stored().await > at_signup, "the lease was written by the flusher");
    server.stop().await;
}

protocol_tests!(every_interaction_rpc_names_the_field_it_refuses);
async fn every_interaction_rpc_names_the_field_it_refuses(protocol: Protocol) {
    let server = TestServer::start().await;
    let (_, token, _) = signed_up(&server, protocol, "strict").await;
    let mut api = server.interaction(protocol, &token).await;
    let not_a_uuid = "runner-7".to_owned();

    let err = refused(
        api.signup(pb::SignupRequest {
            public_key: vec![1; 33],
            environment_classes: vec![],
        })
        .await,
    );
    assert_eq!(err, ["public_key"]);
    let err = refused(
        api.mark_runner_active(pb::MarkRunnerActiveRequest {
            runner_id: not_a_uuid.clone(),
        })
        .await,
    );
    assert_eq!(err, ["runner_id"]);
    let err = refused(
        api.update_runner_status(pb::UpdateRunnerStatusRequest {
            runner_id: not_a_uuid.clone(),
            phase: Some(pb::RunnerPhase::Deleting as i32),
            ..Default::default()
        })
        .await,
    );
    assert_eq!(err, ["phase", "runner_id"]);
    let err = refused(
        api.get_latest_version(pb::GetLatestVersionRequest {
            runner_id: not_a_uuid.clone(),
            ..Default::default()
        })
        .await,
    );
    assert_eq!(err, ["runner_id"]);
    let err = refused(
        api.list_runner_environment_classes(pb::ListRunnerEnvironmentClassesRequest {
            runner_id: not_a_uuid.clone(),
            pagination: Some(pb::PaginationRequest {
                token: String::new(),
                page_size: 101,
            }),
        })
        .await,
    );
    assert_eq!(err, ["pagination.page_size", "runner_id"]);
    let err = refused(
        api.list_runner_scm_integrations(pb::ListRunnerScmIntegrationsRequest {
            runner_id: not_a_uuid.clone(),
            pagination: Some(pb::PaginationRequest {
                token: String::new(),
                page_size: 101,
            }),
        })
        .await,
    );
    assert_eq!(err, ["pagination.page_size", "runner_id"]);
    let err = refused(
        api.get_host_authentication_token_value(pb::GetHostAuthenticationTokenValueRequest {
            runner_id: not_a_uuid.clone(),
            host: String::new(),
            principal_id: "alice".into(),
        })
        .await,
    );
    assert_eq!(err, ["principal_id", "host", "runner_id"]);
    let err = refused(
        api.update_runner_configuration_schema(pb::UpdateRunnerConfigurationSchemaRequest {
            runner_id: not_a_uuid,
            config_schema: Some(Default::default()),
        })
        .await,
    );
    assert_eq!(err, ["runner_id"]);
    server.stop().await;
}

/// The fields an INVALID_ARGUMENT names; panics on any other answer.
fn refused<T: std::fmt::Debug>(result: Result<tonic::Response<T>, tonic::Status>) -> Vec<String> {
    let err = result.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    violated_fields(&err)
}
