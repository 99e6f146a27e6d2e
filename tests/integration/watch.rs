//! WatchEvents: changes as they happen, to whoever may see them — a runner's
//! CREATE, UPDATE and its lease running out, filtered by type, id and
//! creator; the stream ends when the server stops.

use std::time::Duration;

use tonic::Code;
use uuid::Uuid;

use crate::harness::*;

type Events = tonic::Streaming<pb::WatchEventsResponse>;

fn organization() -> pb::WatchEventsRequest {
    pb::WatchEventsRequest {
        scope: Some(pb::watch_events_request::Scope::Organization(true)),
        resource_type_filters: vec![],
    }
}

async fn watch(server: &TestServer, protocol: Protocol, token: &str, request: pb::WatchEventsRequest) -> Events {
    server
        .events(protocol, token)
        .await
        .watch_events(request)
        .await
        .unwrap()
        .into_inner()
}

/// The next event, within `within`.
async fn next(events: &mut Events, within: Duration) -> pb::WatchEventsResponse {
    tokio::time::timeout(within, events.message())
        .await
        .expect("an event in time")
        .expect("a message, not an error")
        .expect("the stream goes on")
}

/// Nothing arrives within `within`.
async fn silence(events: &mut Events, within: Duration) {
    if let Ok(got) = tokio::time::timeout(within, events.message()).await {
        panic!("expected nothing, got {got:?}");
    }
}

fn is(event: &pb::WatchEventsResponse, operation: pb::ResourceOperation, kind: pb::ResourceType, id: &str) -> bool {
    event.operation == operation as i32 && event.resource_type == kind as i32 && event.resource_id == id
}

/// Skips events of other resources until one of `id` arrives.
async fn next_of(events: &mut Events, id: &str) -> pb::WatchEventsResponse {
    loop {
        let event = next(events, Duration::from_secs(5)).await;
        if event.resource_id == id {
            return event;
        }
    }
}

#[tokio::test]
async fn a_watcher_hears_a_runner_created_updated_and_going_inactive() {
    for protocol in [Protocol::Grpc, Protocol::GrpcWeb] {
        let server = TestServer::start_with(|s| {
            s.runner_lease = Duration::from_millis(300);
            s.runner_lease_grace = Duration::from_millis(300);
        })
        .await;
        let mut events = watch(&server, protocol, &server.admin.token, organization()).await;

        // another client makes the changes
        let (runner_id, token, _) = signed_up(&server, Protocol::Grpc, "watched").await;
        let created = next(&mut events, Duration::from_secs(1)).await;
        assert!(
            is(
                &created,
                pb::ResourceOperation::Create,
                pb::ResourceType::Runner,
                &runner_id
            ),
            "{created:?}"
        );
        // the sign-up: its status changed (its class came with it)
        let signup = next_of(&mut events, &runner_id).await;
        assert_eq!(signup.operation, pb::ResourceOperation::UpdateStatus as i32);

        server
            .runners(Protocol::Grpc, &server.admin.token)
            .await
            .update_runner(pb::UpdateRunnerRequest {
                runner_id: runner_id.clone(),
                name: Some("renamed".into()),
                spec: None,
            })
            .await
            .unwrap();
        let updated = next_of(&mut events, &runner_id).await;
        assert!(
            is(
                &updated,
                pb::ResourceOperation::Update,
                pb::ResourceType::Runner,
                &runner_id
            ),
            "{updated:?}"
        );

        // its leases stop: INACTIVE, as an UPDATE_STATUS
        let inactive = next_of(&mut events, &runner_id).await;
        assert!(
            is(
                &inactive,
                pb::ResourceOperation::UpdateStatus,
                pb::ResourceType::Runner,
                &runner_id
            ),
            "{inactive:?}"
        );
        assert_eq!(
            phase_of(&server, Protocol::Grpc, &runner_id).await.0,
            pb::RunnerPhase::Inactive as i32
        );
        // and its next lease brings it back, another UPDATE_STATUS
        server
            .interaction(Protocol::Grpc, &token)
            .await
            .mark_runner_active(pb::MarkRunnerActiveRequest {
                runner_id: runner_id.clone(),
            })
            .await
            .unwrap();
        let back = next_of(&mut events, &runner_id).await;
        assert!(is(
            &back,
            pb::ResourceOperation::UpdateStatus,
            pb::ResourceType::Runner,
            &runner_id
        ));
        server.stop().await;
    }
}

#[tokio::test]
async fn watchers_see_only_what_they_may_see() {
    let server = TestServer::start().await;
    let alice = server.member("alice").await;
    let bob = server.member("bob").await;
    let (runner_id, runner_token, _) = signed_up(&server, Protocol::Grpc, "shared").await;
    let (other_runner, _, _) = signed_up(&server, Protocol::Grpc, "other").await;
    let stranger = server.user_in("elsewhere", "eve", true).await;

    let mut as_bob = watch(&server, Protocol::Grpc, &bob.token, organization()).await;
    let mut as_admin = watch(&server, Protocol::Grpc, &server.admin.token, organization()).await;
    let mut as_runner = watch(&server, Protocol::Grpc, &runner_token, organization()).await;
    let mut as_stranger = watch(&server, Protocol::Grpc, &stranger.token, organization()).await;

    // alice's host token: alice's and the admins' business, not bob's
    let token_id = server
        .configuration(Protocol::Grpc, &alice.token)
        .await
        .create_host_authentication_token(pb::CreateHostAuthenticationTokenRequest {
            runner_id: runner_id.clone(),
            host: "github.com".into(),
            token: "ghp_alice".into(),
            source: pb::HostAuthenticationTokenSource::Pat as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .token
        .unwrap()
        .id;
    let seen = next(&mut as_admin, Duration::from_secs(1)).await;
    assert!(is(
        &seen,
        pb::ResourceOperation::Create,
        pb::ResourceType::HostAuthenticationToken,
        &token_id
    ));
    // not even the runner it is for: a runner reads token values, never tokens

    // a class of the other runner: members see it, this runner does not
    let class_id = server
        .configuration(Protocol::Grpc, &server.admin.token)
        .await
        .create_environment_class(pb::CreateEnvironmentClassRequest {
            runner_id: other_runner.clone(),
            display_name: "Large".into(),
            description: "many cores".into(),
            configuration: vec![],
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    let seen = next(&mut as_bob, Duration::from_secs(1)).await;
    assert!(
        is(
            &seen,
            pb::ResourceOperation::Create,
            pb::ResourceType::EnvironmentClass,
            &class_id
        ),
        "bob saw no host token before it: {seen:?}"
    );
    let seen = next(&mut as_admin, Duration::from_secs(1)).await;
    assert_eq!(seen.resource_id, class_id);
    silence(&mut as_runner, Duration::from_millis(300)).await;
    // another organization hears nothing at all
    silence(&mut as_stranger, Duration::from_millis(300)).await;
    server.stop().await;
}

#[tokio::test]
async fn filters_by_type_resource_and_creator() {
    let server = TestServer::start().await;
    let alice = server.user_in(paddock::DEFAULT_ORGANIZATION, "alice", false).await;
    let mut runners = server.runners(Protocol::Grpc, &server.admin.token).await;
    let first = runners
        .create_runner(linux_runner("first"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    let filter = |resource_ids: Vec<String>, creator_ids: Vec<String>| pb::WatchEventsRequest {
        scope: Some(pb::watch_events_request::Scope::Organization(true)),
        resource_type_filters: vec![pb::watch_events_request::ResourceTypeFilter {
            resource_type: pb::ResourceType::Runner as i32,
            resource_ids,
            creator_ids,
        }],
    };
    let mut only_first = watch(
        &server,
        Protocol::Grpc,
        &server.admin.token,
        filter(vec![first.clone()], vec![]),
    )
    .await;
    let mut by_alice = watch(
        &server,
        Protocol::Grpc,
        &server.admin.token,
        filter(vec![], vec![alice.id.to_string()]),
    )
    .await;
    let mut classes_only = watch(
        &server,
        Protocol::Grpc,
        &server.admin.token,
        pb::WatchEventsRequest {
            scope: Some(pb::watch_events_request::Scope::Organization(true)),
            resource_type_filters: vec![pb::watch_events_request::ResourceTypeFilter {
                resource_type: pb::ResourceType::EnvironmentClass as i32,
                ..Default::default()
            }],
        },
    )
    .await;

    runners.create_runner(linux_runner("second")).await.unwrap();
    let alices = server
        .runners(Protocol::Grpc, &alice.token)
        .await
        .create_runner(linux_runner("alice's"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    runners
        .update_runner(pb::UpdateRunnerRequest {
            runner_id: first.clone(),
            name: Some("first, renamed".into()),
            spec: None,
        })
        .await
        .unwrap();

    let seen = next(&mut only_first, Duration::from_secs(1)).await;
    assert!(is(
        &seen,
        pb::ResourceOperation::Update,
        pb::ResourceType::Runner,
        &first
    ));
    let seen = next(&mut by_alice, Duration::from_secs(1)).await;
    assert!(is(
        &seen,
        pb::ResourceOperation::Create,
        pb::ResourceType::Runner,
        &alices
    ));
    silence(&mut by_alice, Duration::from_millis(200)).await;
    silence(&mut classes_only, Duration::from_millis(200)).await;
    server.stop().await;
}

protocol_tests!(bad_watch_requests_name_the_field);
async fn bad_watch_requests_name_the_field(protocol: Protocol) {
    if matches!(protocol, Protocol::ConnectProto | Protocol::ConnectJson) {
        // the harness's Connect client is unary; Connect streams are tested with their protocol
        return;
    }
    let server = TestServer::start().await;
    let mut api = server.events(protocol, &server.admin.token).await;
    let refused = |result: Result<tonic::Response<Events>, tonic::Status>| {
        let err = result.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        violated_fields(&err)
    };
    let err = refused(api.watch_events(pb::WatchEventsRequest::default()).await);
    assert_eq!(err, ["scope"]);
    let err = refused(
        api.watch_events(pb::WatchEventsRequest {
            scope: Some(pb::watch_events_request::Scope::EnvironmentId(
                Uuid::now_v7().to_string(),
            )),
            resource_type_filters: vec![],
        })
        .await,
    );
    assert_eq!(err, ["environment_id"]);
    let err = refused(
        api.watch_events(pb::WatchEventsRequest {
            scope: Some(pb::watch_events_request::Scope::Organization(true)),
            resource_type_filters: vec![pb::watch_events_request::ResourceTypeFilter {
                resource_type: 0,
                resource_ids: vec!["nope".into()],
                creator_ids: (0..26).map(|_| Uuid::now_v7().to_string()).collect(),
            }],
        })
        .await,
    );
    assert_eq!(
        err,
        [
            "resource_type_filters[0].resource_type",
            "resource_type_filters[0].resource_ids[0]",
            "resource_type_filters[0].creator_ids"
        ]
    );
    let err = refused(
        api.watch_events(pb::WatchEventsRequest {
            scope: Some(pb::watch_events_request::Scope::Organization(true)),
            resource_type_filters: (0..51)
                .map(|_| pb::watch_events_request::ResourceTypeFilter {
                    resource_type: 2,
                    ..Default::default()
                })
                .collect(),
        })
        .await,
    );
    assert_eq!(err, ["resource_type_filters"]);
    let err = server
        .events(protocol, "not-a-token")
        .await
        .watch_events(organization())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    server.stop().await;
}

/// Open watch streams do not hold a shutdown for its grace: they end.
#[tokio::test]
async fn streams_end_when_the_server_stops() {
    let server = TestServer::start().await;
    let mut events = watch(&server, Protocol::Grpc, &server.admin.token, organization()).await;
    let started = std::time::Instant::now();
    let stopping = tokio::spawn(server.stop());
    let ended = tokio::time::timeout(Duration::from_secs(5), events.message())
        .await
        .expect("the stream ends");
    assert!(matches!(ended, Ok(None) | Err(_)), "{ended:?}");
    stopping.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

/// PostgreSQL: when a replica's LISTEN connection drops, changes may be
/// lost; its watchers are told to list again (UNAVAILABLE) rather than left
/// believing they saw everything.
#[tokio::test]
async fn a_lost_listen_connection_tells_watchers_to_list_again() {
    if !using_postgres() {
        eprintln!("SQLite has no LISTEN connection: this test runs against PostgreSQL");
        return;
    }
    use sea_orm::ConnectionTrait;
    let server = TestServer::start().await;
    let mut events = watch(&server, Protocol::Grpc, &server.admin.token, organization()).await;
    // the listener is up once a change arrives
    let made = server
        .runners(Protocol::Grpc, &server.admin.token)
        .await
        .create_runner(linux_runner("before the drop"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    assert_eq!(next(&mut events, Duration::from_secs(5)).await.resource_id, made);
    // this test database's LISTEN connection goes away
    let killed = server
        .state
        .db
        .execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
        )
        .await
        .unwrap();
    assert!(killed.rows_affected() >= 1, "a LISTEN connection to end");
    let ended = tokio::time::timeout(Duration::from_secs(10), events.message())
        .await
        .expect("the watcher is told");
    let status = ended.expect_err("an error ends the stream");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    server.stop().await;
}
