//! Two `paddock serve` processes on one database, as replicas behind a load
//! balancer: leases may land on either, both report the same phases, every
//! transition is made once, and neither logs an error.

use std::time::Duration;

use crate::harness::*;
use crate::processes::*;

const LEASE_FLAGS: [&str; 4] = ["--runner-lease", "500ms", "--runner-lease-grace", "500ms"];

#[tokio::test]
async fn replicas_share_leases_agree_on_phases_and_transition_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new().await;
    let admin = "two-replicas-admin-token";
    let (a, url_a, log_a) = spawn_serve_logged(dir.path(), &db.url, admin, &LEASE_FLAGS);
    let (b, url_b, log_b) = spawn_serve_logged(dir.path(), &db.url, admin, &LEASE_FLAGS);
    let (chan_a, chan_b) = (channel(&url_a).await, channel(&url_b).await);
    let users = [
        RunnerServiceClient::with_interceptor(chan_a.clone(), bearer(admin)),
        RunnerServiceClient::with_interceptor(chan_b.clone(), bearer(admin)),
    ];

    // five runners, created on A, exchanged on B, signed up on alternate replicas
    let mut fleet = Vec::new();
    for i in 0..5 {
        let created = users[0]
            .clone()
            .create_runner(linux_runner(&format!("replicated-{i}")))
            .await
            .unwrap()
            .into_inner();
        let token = IdentityServiceClient::new(chan_b.clone())
            .exchange_token(pb::ExchangeTokenRequest {
                exchange_token: created.exchange_token,
            })
            .await
            .unwrap()
            .into_inner()
            .access_token;
        let runner_id = created.runner.unwrap().runner_id;
        let channel = if i % 2 == 0 { &chan_a } else { &chan_b };
        let key = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
        RunnerInteractionServiceClient::with_interceptor(channel.clone(), bearer(&token))
            .signup(pb::SignupRequest {
                public_key: key.public_key().as_bytes().to_vec(),
                environment_classes: vec![],
            })
            .await
            .unwrap();
        let runners = [
            RunnerInteractionServiceClient::with_interceptor(chan_a.clone(), bearer(&token)),
            RunnerInteractionServiceClient::with_interceptor(chan_b.clone(), bearer(&token)),
        ];
        fleet.push((runner_id, runners));
    }

    let phases_on = |replica: usize| {
        let mut users = users[replica].clone();
        async move {
            let listed = users
                .list_runners(pb::ListRunnersRequest::default())
                .await
                .unwrap()
                .into_inner()
                .runners;
            let mut phases: Vec<(String, i32, String)> = listed
                .into_iter()
                .map(|r| {
                    let status = r.status.unwrap();
                    (r.runner_id, status.phase, status.message)
                })
                .collect();
            phases.sort();
            phases
        }
    };

    // leases to alternating replicas, well within lease + grace: ACTIVE on both
    for round in 0..8 {
        for (runner_id, runners) in &fleet {
            runners[round % 2]
                .clone()
                .mark_runner_active(pb::MarkRunnerActiveRequest {
                    runner_id: runner_id.clone(),
                })
                .await
                .unwrap();
        }
        let (on_a, on_b) = (phases_on(0).await, phases_on(1).await);
        assert_eq!(on_a, on_b, "both replicas report the same");
        assert!(
            on_a.iter()
                .all(|(_, phase, _)| *phase == pb::RunnerPhase::Active as i32),
            "{on_a:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // silence: every runner INACTIVE on both, with the same reason
    let inactive = eventually(Duration::from_secs(10), "the fleet INACTIVE on both", async || {
        let (on_a, on_b) = (phases_on(0).await, phases_on(1).await);
        let all = on_a
            .iter()
            .all(|(_, phase, _)| *phase == pb::RunnerPhase::Inactive as i32);
        (all && on_a == on_b).then_some(on_a)
    })
    .await;
    assert!(
        inactive.iter().all(|(_, _, why)| why.starts_with("no heartbeat since")),
        "{inactive:?}"
    );
    // both replicas swept; each transition was made by exactly one of them
    let transitions = |log: &Log| {
        log.lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains("runner INACTIVE"))
            .count()
    };
    eventually(Duration::from_secs(5), "the transitions logged", async || {
        (transitions(&log_a) + transitions(&log_b) == fleet.len()).then_some(())
    })
    .await;

    // one lease on B brings a runner back on both at once
    let (first_id, runners) = &fleet[0];
    let answer = runners[1]
        .clone()
        .mark_runner_active(pb::MarkRunnerActiveRequest {
            runner_id: first_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.phase, pb::RunnerPhase::Active as i32);
    for replica in [0, 1] {
        let phases = phases_on(replica).await;
        let first = phases.iter().find(|(id, _, _)| id == first_id).unwrap();
        assert_eq!(first.1, pb::RunnerPhase::Active as i32, "on replica {replica}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        transitions(&log_a) + transitions(&log_b),
        fleet.len(),
        "no double transition"
    );

    terminate(a).await;
    terminate(b).await;
    assert_eq!(
        complaints(&log_a),
        Vec::<String>::new(),
        "replica A logged no warning or error"
    );
    assert_eq!(
        complaints(&log_b),
        Vec::<String>::new(),
        "replica B logged no warning or error"
    );
}

/// A change made through one replica reaches a watcher on the other within
/// a second (PostgreSQL NOTIFY). On SQLite paddock is one process; the test
/// runs where replicas exist: `make test-postgres`.
#[tokio::test]
async fn a_watcher_on_one_replica_hears_a_change_made_on_the_other() {
    if !using_postgres() {
        eprintln!("SQLite has no replicas: this test runs against PostgreSQL");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new().await;
    let admin = "watching-replicas-admin-token";
    let (a, url_a, log_a) = spawn_serve_logged(dir.path(), &db.url, admin, &[]);
    let (b, url_b, log_b) = spawn_serve_logged(dir.path(), &db.url, admin, &[]);
    let mut events =
        pb::event_service_client::EventServiceClient::with_interceptor(channel(&url_a).await, bearer(admin))
            .watch_events(pb::WatchEventsRequest {
                scope: Some(pb::watch_events_request::Scope::Organization(true)),
                resource_type_filters: vec![],
            })
            .await
            .unwrap()
            .into_inner();
    // the listener of a fresh replica may still be connecting: a first change
    // is retried until it is heard
    let mut on_b = RunnerServiceClient::with_interceptor(channel(&url_b).await, bearer(admin));
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let made = std::time::Instant::now();
            let created = on_b
                .create_runner(linux_runner("made on b"))
                .await
                .unwrap()
                .into_inner()
                .runner
                .unwrap()
                .runner_id;
            match tokio::time::timeout(Duration::from_secs(1), events.message()).await {
                Ok(Ok(Some(event))) => return (created, event, made.elapsed()),
                Ok(other) => panic!("{other:?}"),
                Err(_) => continue,
            }
        }
    })
    .await
    .expect("a change on B heard on A");
    let (created, event, took) = heard;
    assert_eq!(event.resource_id, created);
    assert_eq!(event.operation, pb::ResourceOperation::Create as i32);
    assert!(took < Duration::from_secs(1), "{took:?}");

    // once listening, every change arrives, in order, once
    on_b.update_runner(pb::UpdateRunnerRequest {
        runner_id: created.clone(),
        name: Some("renamed on b".into()),
        spec: None,
    })
    .await
    .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(1), events.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (event.operation, event.resource_id.as_str()),
        (pb::ResourceOperation::Update as i32, created.as_str())
    );
    drop(events);
    terminate(a).await;
    terminate(b).await;
    assert_eq!(complaints(&log_a), Vec::<String>::new());
    assert_eq!(complaints(&log_b), Vec::<String>::new());
}

/// A personal access token deleted through one replica stops working on the
/// other within the token cache's bound (5 s by default), though that
/// replica had it cached.
#[tokio::test]
async fn a_token_deleted_on_one_replica_stops_on_the_other_within_the_cache_bound() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new().await;
    let admin = "two-replicas-pat-admin-token";
    let (a, url_a, _log_a) = spawn_serve_logged(dir.path(), &db.url, admin, &[]);
    let (b, url_b, _log_b) = spawn_serve_logged(dir.path(), &db.url, admin, &[]);
    let (chan_a, chan_b) = (channel(&url_a).await, channel(&url_b).await);
    let mut users_a = UserServiceClient::with_interceptor(chan_a.clone(), bearer(admin));
    let me = users_a
        .get_authenticated_user(pb::GetAuthenticatedUserRequest {})
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    let pat = users_a
        .create_personal_access_token(pb::CreatePersonalAccessTokenRequest {
            user_id: me.id.clone(),
            description: "replicated".into(),
            valid_for: None,
            read_only: false,
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    // B verifies it, and caches it
    let mut on_b = UserServiceClient::with_interceptor(chan_b.clone(), bearer(&pat));
    on_b.get_authenticated_user(pb::GetAuthenticatedUserRequest {})
        .await
        .unwrap();
    let id = users_a
        .list_personal_access_tokens(pb::ListPersonalAccessTokensRequest::default())
        .await
        .unwrap()
        .into_inner()
        .personal_access_tokens
        .into_iter()
        .find(|t| t.description == "replicated")
        .unwrap()
        .id;
    users_a
        .delete_personal_access_token(pb::DeletePersonalAccessTokenRequest {
            personal_access_token_id: id,
        })
        .await
        .unwrap();
    let deleted = std::time::Instant::now();
    let mut on_a = UserServiceClient::with_interceptor(chan_a, bearer(&pat));
    let err = on_a
        .get_authenticated_user(pb::GetAuthenticatedUserRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated, "at once where it was deleted");
    loop {
        match on_b.get_authenticated_user(pb::GetAuthenticatedUserRequest {}).await {
            Err(e) if e.code() == tonic::Code::Unauthenticated => break,
            Err(e) => panic!("{e:?}"),
            Ok(_) => {
                assert!(
                    deleted.elapsed() < Duration::from_millis(5_500),
                    "still accepted {:?} after deletion",
                    deleted.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    terminate(a).await;
    terminate(b).await;
}
