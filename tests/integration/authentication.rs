//! Bearer tokens are checked before dispatch; runner tokens come only from
//! the one-time exchange.

use tonic::Code;

use crate::harness::*;

protocol_tests!(calls_without_a_live_token_are_unauthenticated);
async fn calls_without_a_live_token_are_unauthenticated(protocol: Protocol) {
    let server = TestServer::start().await;
    // no token at all
    let mut anonymous =
        RunnerServiceClient::with_origin(server.transport(protocol, None).await, server.url().parse().unwrap());
    let err = anonymous
        .list_runners(pb::ListRunnersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{protocol:?}: no token");

    // a token paddock never issued, of the right shape
    let mut forged = server
        .runners(protocol, "pdk_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .await;
    let err = forged
        .list_runners(pb::ListRunnersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{protocol:?}: unknown token");

    // also on an RPC that is not implemented: authentication comes first
    let err = server
        .users(protocol, "pdk_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .await
        .set_suspended(pb::SetSuspendedRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::Unauthenticated,
        "{protocol:?}: unimplemented RPC, unknown token"
    );
    let mut config = server.configuration(protocol, "nope").await;
    let err = config
        .get_runner_configuration_schema(pb::GetRunnerConfigurationSchemaRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{protocol:?}: unimplemented RPC");

    // an exchange token is not a bearer token
    let mut admin = server.runners(protocol, &server.admin.token).await;
    let exchange = admin
        .create_runner(linux_runner("exchange only"))
        .await
        .unwrap()
        .into_inner()
        .exchange_token;
    let mut with_exchange = server.runners(protocol, &exchange).await;
    let err = with_exchange
        .list_runners(pb::ListRunnersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::Unauthenticated,
        "{protocol:?}: exchange token as bearer"
    );
    server.stop().await;
}

protocol_tests!(unimplemented_rpcs_answer_unimplemented_once_authenticated);
async fn unimplemented_rpcs_answer_unimplemented_once_authenticated(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut users = server.users(protocol, &server.admin.token).await;
    let err = users
        .set_suspended(pb::SetSuspendedRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    server.stop().await;
}

protocol_tests!(exchange_tokens_are_one_time_and_create_runner_token_keeps_earlier_ones);
async fn exchange_tokens_are_one_time_and_create_runner_token_keeps_earlier_ones(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut runners = server.runners(protocol, &server.admin.token).await;
    let mut identity = server.identity(protocol, None).await;
    let created = runners
        .create_runner(linux_runner("tokens"))
        .await
        .unwrap()
        .into_inner();
    let runner_id = created.runner.unwrap().runner_id;

    let second = runners
        .create_runner_token(pb::CreateRunnerTokenRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(second.exchange_token.starts_with("pdk_rex_"));
    assert_ne!(second.exchange_token, created.exchange_token);

    // both the first and the second exchange token still work, once each
    for exchange_token in [&created.exchange_token, &second.exchange_token] {
        let access = identity
            .exchange_token(pb::ExchangeTokenRequest {
                exchange_token: exchange_token.clone(),
            })
            .await
            .expect("first use")
            .into_inner()
            .access_token;
        let mut as_runner = server.identity(protocol, Some(&access)).await;
        let me = as_runner
            .get_authenticated_identity(pb::GetAuthenticatedIdentityRequest {})
            .await
            .unwrap()
            .into_inner();
        let subject = me.subject.unwrap();
        assert_eq!(subject.id, runner_id);
        assert_eq!(subject.principal, pb::Principal::Runner as i32);
        assert_eq!(me.organization_id, server.admin.organization_id.to_string());

        let reuse = identity
            .exchange_token(pb::ExchangeTokenRequest {
                exchange_token: exchange_token.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(reuse.code(), Code::Unauthenticated);
    }

    for bogus in ["", "pdk_rex_unknown", "not even a token"] {
        let err = identity
            .exchange_token(pb::ExchangeTokenRequest {
                exchange_token: bogus.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{bogus:?}");
    }
    server.stop().await;
}

protocol_tests!(expired_exchange_tokens_are_refused);
async fn expired_exchange_tokens_are_refused(protocol: Protocol) {
    use sea_orm::{ConnectionTrait, Statement};

    let server = TestServer::start().await;
    let mut runners = server.runners(protocol, &server.admin.token).await;
    let created = runners
        .create_runner(linux_runner("expiring"))
        .await
        .unwrap()
        .into_inner();
    // age the token past its 24 h
    let backend = server.state.db.get_database_backend();
    server
        .state
        .db
        .execute(Statement::from_sql_and_values(
            backend,
            "UPDATE tokens SET expires_at = $1 WHERE kind = 'runner_exchange'",
            [(chrono::Utc::now() - chrono::Duration::seconds(1)).into()],
        ))
        .await
        .unwrap();
    let mut identity = server.identity(protocol, None).await;
    let err = identity
        .exchange_token(pb::ExchangeTokenRequest {
            exchange_token: created.exchange_token,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    server.stop().await;
}

protocol_tests!(concurrent_exchanges_of_one_token_succeed_once);
async fn concurrent_exchanges_of_one_token_succeed_once(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut runners = server.runners(protocol, &server.admin.token).await;
    let token = runners
        .create_runner(linux_runner("racy"))
        .await
        .unwrap()
        .into_inner()
        .exchange_token;
    // tasks of this thread: a boxed test transport's calls cannot prove Send
    let tasks = tokio::task::LocalSet::new();
    let mut calls = Vec::new();
    for _ in 0..8 {
        let mut identity = server.identity(protocol, None).await;
        let exchange_token = token.clone();
        calls.push(tasks.spawn_local(async move {
            identity
                .exchange_token(pb::ExchangeTokenRequest { exchange_token })
                .await
        }));
    }
    let mut ok = 0;
    tasks
        .run_until(async {
            for call in calls {
                match call.await.unwrap() {
                    Ok(_) => ok += 1,
                    Err(status) => assert_eq!(status.code(), Code::Unauthenticated),
                }
            }
        })
        .await;
    assert_eq!(ok, 1);
    server.stop().await;
}

protocol_tests!(get_authenticated_identity_names_the_user);
async fn get_authenticated_identity_names_the_user(protocol: Protocol) {
    let server = TestServer::start().await;
    let alice = server.member("alice").await;
    let mut identity = server.identity(protocol, Some(&alice.token)).await;
    let me = identity
        .get_authenticated_identity(pb::GetAuthenticatedIdentityRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        me.subject,
        Some(pb::Subject {
            id: alice.id.to_string(),
            principal: pb::Principal::User as i32
        })
    );
    assert_eq!(me.organization_id, alice.organization_id.to_string());
    server.stop().await;
}

protocol_tests!(a_token_revoked_by_another_replica_stops_working_within_the_cache_ttl);
async fn a_token_revoked_by_another_replica_stops_working_within_the_cache_ttl(protocol: Protocol) {
    use std::time::Duration;
    // two replicas over one database; B trusts verified tokens for 300 ms
    let a = TestServer::start().await;
    let b = TestServer::start_configured(a.db.clone(), a.key.clone(), Some(a.admin.clone()), |s| {
        s.token_cache_ttl = Duration::from_millis(300);
    })
    .await;
    let created = a
        .runners(protocol, &a.admin.token)
        .await
        .create_runner(linux_runner("replicated"))
        .await
        .unwrap();
    let created = created.into_inner();
    let runner_id = created.runner.unwrap().runner_id;
    let access = a
        .identity(protocol, None)
        .await
        .exchange_token(pb::ExchangeTokenRequest {
            exchange_token: created.exchange_token,
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    let mut on_b = b.runners(protocol, &access).await;
    on_b.get_runner(pb::GetRunnerRequest {
        runner_id: runner_id.clone(),
    })
    .await
    .expect("verified and cached on B");

    // deleted on A: A refuses the token at once ...
    a.runners(protocol, &a.admin.token)
        .await
        .delete_runner(pb::DeleteRunnerRequest {
            runner_id: runner_id.clone(),
            force: true,
        })
        .await
        .unwrap();
    let mut on_a = a.runners(protocol, &access).await;
    assert_eq!(
        on_a.get_runner(pb::GetRunnerRequest {
            runner_id: runner_id.clone()
        })
        .await
        .unwrap_err()
        .code(),
        Code::Unauthenticated
    );
    // ... and B within its TTL
    tokio::time::sleep(Duration::from_millis(400)).await;
    let err = on_b.list_runners(pb::ListRunnersRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    b.stop().await;
    a.stop().await;
}
