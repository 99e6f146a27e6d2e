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

protocol_tests!(the_message_size_limit_holds_on_every_protocol);
async fn the_message_size_limit_holds_on_every_protocol(protocol: Protocol) {
    let server = TestServer::start_with(|s| s.limits.max_message_bytes = 64 * 1024).await;
    let mut runners = server.runners(protocol, &server.admin.token).await;
    let get = |size: usize| pb::GetRunnerRequest {
        runner_id: "x".repeat(size),
    };
    // under the limit: decoded, then refused by validation
    let small = runners.get_runner(get(32 * 1024)).await.unwrap_err();
    assert_eq!(small.code(), Code::InvalidArgument, "{small:?}");
    // over it: never decoded
    let large = runners.get_runner(get(100 * 1024)).await.unwrap_err();
    assert_eq!(large.code(), Code::ResourceExhausted, "{large:?}");
    server.stop().await;
}

#[tokio::test]
async fn oversized_headers_are_refused_on_http1_and_http2() {
    let server = TestServer::start_with(|s| s.limits.max_header_bytes = 4096).await;
    let path = "/gitpod.v1.IdentityService/GetAuthenticatedIdentity";
    let http = Http::new(&server, Some(&server.admin.token));
    let headers = |filler: &'static str| {
        [
            ("content-type", "application/json"),
            ("connect-protocol-version", "1"),
            ("x-filler", filler),
        ]
    };
    // HTTP/1.1 (Connect, as a browser sends it): 431 with a Connect error body
    let big: &'static str = Box::leak("f".repeat(5000).into_boxed_str());
    let refused = http.send(http::Method::POST, path, &headers(big), b"{}".to_vec()).await;
    assert_eq!(refused.status.as_u16(), 431);
    assert_eq!(refused.json()["code"], "resource_exhausted");
    let fine: &'static str = Box::leak("f".repeat(2000).into_boxed_str());
    let served = http
        .send(http::Method::POST, path, &headers(fine), b"{}".to_vec())
        .await;
    assert_eq!(served.status.as_u16(), 200);

    // HTTP/2 (gRPC): the server's header list limit, enforced by HTTP/2 itself
    let mut identity = server.identity(P, Some(&server.admin.token)).await;
    let mut request = tonic::Request::new(pb::GetAuthenticatedIdentityRequest {});
    request.metadata_mut().insert("x-filler", big.parse().unwrap());
    let refused = identity.get_authenticated_identity(request).await.unwrap_err();
    assert_ne!(refused.code(), Code::Ok);
    let mut request = tonic::Request::new(pb::GetAuthenticatedIdentityRequest {});
    request.metadata_mut().insert("x-filler", fine.parse().unwrap());
    let mut identity = server.identity(P, Some(&server.admin.token)).await;
    identity
        .get_authenticated_identity(request)
        .await
        .expect("a header under the limit");
    server.stop().await;
}

#[tokio::test]
async fn calls_past_the_streams_of_one_connection_wait_for_a_stream_to_end() {
    let server = TestServer::start_with(|s| s.limits.streams_per_connection = 2).await;
    // one HTTP/2 connection shared by every client below
    let connection = server.transport(P, Some(&server.admin.token)).await;
    let watch = || {
        let mut events = EventServiceClient::new(connection.clone());
        async move {
            events
                .watch_events(pb::WatchEventsRequest {
                    scope: Some(pb::watch_events_request::Scope::Organization(true)),
                    resource_type_filters: vec![],
                })
                .await
                .unwrap()
                .into_inner()
        }
    };
    let first = watch().await;
    let _second = watch().await;
    let mut identity = IdentityServiceClient::new(connection.clone());
    let call = identity.get_authenticated_identity(pb::GetAuthenticatedIdentityRequest {});
    tokio::pin!(call);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut call)
            .await
            .is_err(),
        "a third stream on the connection waits"
    );
    drop(first);
    tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("it goes once a stream ends")
        .expect("and succeeds");
    server.stop().await;
}

#[tokio::test]
async fn idle_connections_close_but_not_while_a_call_is_open() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start_with(|s| s.limits.idle_timeout = Duration::from_millis(300)).await;

    // a connection that never says anything
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(3), silent.read(&mut [0u8; 16])).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "closed by the server: {closed:?}"
    );

    // an HTTP/1.1 keep-alive connection after its call
    let mut kept = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "POST /gitpod.v1.IdentityService/GetAuthenticatedIdentity HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer {}\r\ncontent-length: 2\r\n\r\n{{}}",
        server.admin.token
    );
    kept.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = kept.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
    let started = std::time::Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(3), kept.read(&mut answer)).await;
    assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "closed once idle: {closed:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );

    // a watch stream with nothing to say for longer than the idle timeout stays open
    let mut stream = server
        .events(P, &server.admin.token)
        .await
        .watch_events(pb::WatchEventsRequest {
            scope: Some(pb::watch_events_request::Scope::Organization(true)),
            resource_type_filters: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(Duration::from_secs(1)).await;
    server
        .runners(P, &server.admin.token)
        .await
        .create_runner(linux_runner("news after a quiet second"))
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("an event")
        .expect("the stream is still open");
    assert!(event.is_some());
    server.stop().await;
}

#[tokio::test]
async fn a_connect_call_ends_when_its_timeout_does() {
    // an SCM host that accepts and never answers
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = hanging.local_addr().unwrap();
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = hanging.accept().await {
            open.push(socket);
        }
    });
    let server = TestServer::start_with(|s| {
        s.scm_api_urls
            .insert("git.example.com".into(), format!("http://{address}/api/v4"));
    })
    .await;
    let (runner_id, _) = server.runner_with_token(P, &server.admin, "slow scm").await;
    // (gRPC's grpc-timeout is tonic's to enforce; Connect's is the translator's)
    let mut configuration = server.configuration(P, &server.admin.token).await;
    let (integration, host_token) = gitlab_access(&runner_id, "git.example.com");
    configuration.create_scm_integration(integration).await.unwrap();
    configuration
        .create_host_authentication_token(host_token)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let answer = Http::new(&server, Some(&server.admin.token))
        .send(
            http::Method::POST,
            "/gitpod.v1.RunnerService/SearchRepositories",
            &[
                ("content-type", "application/json"),
                ("connect-protocol-version", "1"),
                ("connect-timeout-ms", "400"),
            ],
            serde_json::to_vec(&json!({"runnerId": runner_id, "scmHost": "git.example.com", "searchString": "x"}))
                .unwrap(),
        )
        .await;
    assert_eq!(answer.json()["code"], "deadline_exceeded");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    server.stop().await;
}
