//! Limits on what one client may ask: failed authentications and token
//! exchanges per address and per token, open watch streams per token. Over a
//! limit a call answers RESOURCE_EXHAUSTED with google.rpc.RetryInfo, and on
//! Connect HTTP 429 with Retry-After.

use std::time::Duration;

use serde_json::json;
use tonic::Code;
use tonic_types::StatusExt;

use crate::connect::Http;
use crate::harness::*;

const P: Protocol = Protocol::Grpc;

/// A well-formed token paddock never issued.
fn unknown_token(n: usize) -> String {
    format!("pdk_pat_{:0>43}", n)
}

async fn get_identity(server: &TestServer, token: &str) -> tonic::Status {
    match server
        .identity(P, Some(token))
        .await
        .get_authenticated_identity(pb::GetAuthenticatedIdentityRequest {})
        .await
    {
        Ok(_) => tonic::Status::ok(""),
        Err(status) => status,
    }
}

/// How long a refused call was told to wait.
fn retry_delay(status: &tonic::Status) -> Duration {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .unwrap_or_else(|| panic!("no RetryInfo in {status:?}"))
}

#[tokio::test]
async fn an_address_that_keeps_failing_to_authenticate_is_refused_until_its_budget_refills() {
    // 120 a minute: two a second come back
    let server = TestServer::start_with(|s| {
        s.limits.failed_auth_per_address = 120;
        s.limits.failed_auth_per_token = 0;
    })
    .await;
    // a member whose token was verified before the flood
    let member = server.member("mia").await;
    assert_eq!(get_identity(&server, &member.token).await.code(), Code::Ok);
    // a member who has not called yet
    let latecomer = server.member("lee").await;

    for n in 0..120 {
        assert_eq!(
            get_identity(&server, &unknown_token(n)).await.code(),
            Code::Unauthenticated
        );
    }
    let refused = get_identity(&server, &unknown_token(999)).await;
    let wait = retry_delay(&refused);
    assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500), "{wait:?}");
    // no token at all is a failure like any other
    let anonymous = server
        .identity(P, None)
        .await
        .get_authenticated_identity(pb::GetAuthenticatedIdentityRequest {})
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::ResourceExhausted);

    // a token verified moments ago is still served from this address ...
    assert_eq!(get_identity(&server, &member.token).await.code(), Code::Ok);
    // ... but one that would need the database waits like the guesser
    assert_eq!(
        get_identity(&server, &latecomer.token).await.code(),
        Code::ResourceExhausted
    );

    // Connect: HTTP 429 with Retry-After in whole seconds, and the RetryInfo detail
    let answer = Http::new(&server, Some(&unknown_token(1000)))
        .json("/gitpod.v1.IdentityService/GetAuthenticatedIdentity", json!({}))
        .await;
    assert_eq!(answer.status.as_u16(), 429);
    assert_eq!(answer.headers["retry-after"], "1");
    let error = answer.json();
    assert_eq!(error["code"], "resource_exhausted");
    assert_eq!(error["details"][0]["type"], "google.rpc.RetryInfo");

    // once the budget refills the latecomer gets in
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
    assert_eq!(get_identity(&server, &latecomer.token).await.code(), Code::Ok);
    server.stop().await;
}

#[tokio::test]
async fn one_token_that_keeps_failing_is_refused_whoever_presents_it() {
    let server = TestServer::start_with(|s| {
        s.limits.failed_auth_per_address = 0;
        s.limits.failed_auth_per_token = 3;
    })
    .await;
    let revoked = unknown_token(7);
    for _ in 0..3 {
        assert_eq!(get_identity(&server, &revoked).await.code(), Code::Unauthenticated);
    }
    let refused = get_identity(&server, &revoked).await;
    // 3 a minute: one comes back in 20 s
    let wait = retry_delay(&refused);
    assert!(
        wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
        "{wait:?}"
    );
    // other tokens are not held back by it
    assert_eq!(
        get_identity(&server, &unknown_token(8)).await.code(),
        Code::Unauthenticated
    );
    assert_eq!(get_identity(&server, &server.admin.token).await.code(), Code::Ok);
    server.stop().await;
}

#[tokio::test]
async fn token_exchanges_are_limited_per_address_and_per_exchange_token() {
    let server = TestServer::start_with(|s| {
        s.limits.exchange_per_address = 4;
        s.limits.exchange_per_token = 2;
    })
    .await;
    let exchange = |token: String| {
        let server = &server;
        async move {
            server
                .identity(P, None)
                .await
                .exchange_token(pb::ExchangeTokenRequest { exchange_token: token })
                .await
                .map(|_| ())
        }
    };
    // one exchange token tried again and again
    let used = "pdk_rex_never-issued".to_owned();
    for _ in 0..2 {
        assert_eq!(exchange(used.clone()).await.unwrap_err().code(), Code::Unauthenticated);
    }
    let refused = exchange(used.clone()).await.unwrap_err();
    assert!(
        retry_delay(&refused) > Duration::from_secs(29),
        "2 a minute: 30 s for the next"
    );

    // a real one still goes through (the address's fourth exchange) ...
    let created = server
        .runners(P, &server.admin.token)
        .await
        .create_runner(linux_runner("behind a NAT"))
        .await
        .unwrap()
        .into_inner();
    exchange(created.exchange_token).await.expect("the fourth exchange");
    // ... and then the address has had its four a minute
    let refused = exchange("pdk_rex_another".into()).await.unwrap_err();
    assert!(retry_delay(&refused) > Duration::from_secs(14));
    let answer = Http::new(&server, None)
        .json(
            "/gitpod.v1.IdentityService/ExchangeToken",
            json!({"exchangeToken": "pdk_rex_third"}),
        )
        .await;
    assert_eq!(answer.status.as_u16(), 429);
    let seconds: u64 = answer.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((14..=15).contains(&seconds), "{seconds}");
    server.stop().await;
}

#[tokio::test]
async fn one_token_may_hold_only_so_many_watch_streams_open() {
    let server = TestServer::start_with(|s| s.limits.watches_per_token = 2).await;
    let watch = |token: String| {
        let server = &server;
        async move {
            server
                .events(P, &token)
                .await
                .watch_events(pb::WatchEventsRequest {
                    scope: Some(pb::watch_events_request::Scope::Organization(true)),
                    resource_type_filters: vec![],
                })
                .await
                .map(tonic::Response::into_inner)
        }
    };
    let admin = server.admin.token.clone();
    let first = watch(admin.clone()).await.expect("first");
    let _second = watch(admin.clone()).await.expect("second");
    let refused = watch(admin.clone()).await.unwrap_err();
    assert_eq!(retry_delay(&refused), Duration::from_secs(5));
    assert!(refused.message().contains("2 watch streams"), "{refused:?}");

    // another token (of the same user, even) counts its own
    let other = server
        .users(P, &admin)
        .await
        .create_personal_access_token(pb::CreatePersonalAccessTokenRequest {
            user_id: server.admin.id.to_string(),
            description: "second device".into(),
            valid_for: None,
            read_only: false,
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    let _elsewhere = watch(other).await.expect("another token's stream");

    // closing a stream frees its place
    drop(first);
    let reopened = eventually(Duration::from_secs(5), "a place after closing a stream", async || {
        watch(admin.clone()).await.ok()
    })
    .await;
    drop(reopened);
    server.stop().await;
}
