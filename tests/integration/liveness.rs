//! Liveness decided from stored lease timestamps: a runner whose lease ran
//! out becomes INACTIVE (saying since when), comes back with its next lease,
//! and is forgotten after --runner-gc-after when that is set. Sweeps are safe
//! to run on several replicas at once.

use std::time::Duration;

use chrono::Utc;
use paddock::store;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::Code;
use uuid::Uuid;

use crate::harness::*;

/// A server whose leases run out fast: 300 ms lease, 300 ms grace (sweeps every 100 ms).
async fn quick_server(gc_after: Option<Duration>) -> TestServer {
    TestServer::start_with(|s| {
        s.runner_lease = Duration::from_millis(300);
        s.runner_lease_grace = Duration::from_millis(300);
        s.runner_gc_after = gc_after;
    })
    .await
}

async fn lease(server: &TestServer, token: &str, runner_id: &str) -> pb::MarkRunnerActiveResponse {
    server
        .interaction(Protocol::Grpc, token)
        .await
        .mark_runner_active(pb::MarkRunnerActiveRequest {
            runner_id: runner_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

async fn wait_for_phase(server: &TestServer, runner_id: &str, phase: pb::RunnerPhase) -> pb::RunnerStatus {
    eventually(Duration::from_secs(10), &format!("runner {phase:?}"), async || {
        let (now, status) = phase_of(server, Protocol::Grpc, runner_id).await;
        (now == phase as i32).then_some(status)
    })
    .await
}

#[tokio::test]
async fn a_silent_runner_goes_inactive_saying_since_when_and_its_next_lease_revives_it() {
    let server = quick_server(None).await;
    let (runner_id, token, _) = signed_up(&server, Protocol::Grpc, "going-quiet").await;
    let signed_up_at = Utc::now();
    assert_eq!(
        phase_of(&server, Protocol::Grpc, &runner_id).await.0,
        pb::RunnerPhase::Active as i32
    );

    let status = wait_for_phase(&server, &runner_id, pb::RunnerPhase::Inactive).await;
    let went_inactive = Utc::now();
    assert!(
        status.message.starts_with("no heartbeat since 20"),
        "the reason and the time: {:?}",
        status.message
    );
    // lease + grace = 600 ms; a sweep every 100 ms; (generous for a loaded machine)
    let took = went_inactive - signed_up_at;
    assert!(
        took >= chrono::Duration::milliseconds(550),
        "not before lease + grace: {took}"
    );

    // the next lease brings it back at once, the reason cleared
    let answer = lease(&server, &token, &runner_id).await;
    assert_eq!(answer.phase, pb::RunnerPhase::Active as i32);
    let (now, status) = phase_of(&server, Protocol::Grpc, &runner_id).await;
    assert_eq!(now, pb::RunnerPhase::Active as i32);
    assert_eq!(status.message, "");
    server.stop().await;
}

#[tokio::test]
async fn a_runner_that_keeps_its_lease_stays_active() {
    // leases every 150 ms against a lease of 500 ms and a grace of 1 s: room for a loaded machine
    let server = TestServer::start_with(|s| {
        s.runner_lease = Duration::from_millis(500);
        s.runner_lease_grace = Duration::from_millis(1000);
    })
    .await;
    let (runner_id, token, _) = signed_up(&server, Protocol::Grpc, "steady").await;
    let until = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < until {
        lease(&server, &token, &runner_id).await;
        assert_eq!(
            phase_of(&server, Protocol::Grpc, &runner_id).await.0,
            pb::RunnerPhase::Active as i32,
            "a lease every 150 ms keeps the runner ACTIVE"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn degraded_runners_expire_too_but_created_and_deleting_ones_never_do() {
    let server = quick_server(None).await;
    let (degraded, token, _) = signed_up(&server, Protocol::Grpc, "degraded").await;
    server
        .interaction(Protocol::Grpc, &token)
        .await
        .update_runner_status(pb::UpdateRunnerStatusRequest {
            runner_id: degraded.clone(),
            phase: Some(pb::RunnerPhase::Degraded as i32),
            ..Default::default()
        })
        .await
        .unwrap();
    let (created, _) = server
        .runner_with_token(Protocol::Grpc, &server.admin, "never-signed-up")
        .await;
    let (deleting, _, _) = signed_up(&server, Protocol::Grpc, "being-deleted").await;
    server
        .runners(Protocol::Grpc, &server.admin.token)
        .await
        .delete_runner(pb::DeleteRunnerRequest {
            runner_id: deleting.clone(),
            force: false,
        })
        .await
        .unwrap();

    wait_for_phase(&server, &degraded, pb::RunnerPhase::Inactive).await;
    // well past lease + grace and several sweeps
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        phase_of(&server, Protocol::Grpc, &created).await.0,
        pb::RunnerPhase::Created as i32
    );
    assert_eq!(
        phase_of(&server, Protocol::Grpc, &deleting).await.0,
        pb::RunnerPhase::Deleting as i32
    );
    server.stop().await;
}

#[tokio::test]
async fn gc_removes_runners_inactive_for_longer_than_configured_with_what_they_own() {
    let server = quick_server(Some(Duration::from_millis(500))).await;
    let (runner_id, _, _) = signed_up(&server, Protocol::Grpc, "abandoned").await;
    let (kept, kept_token, _) = signed_up(&server, Protocol::Grpc, "kept-alive").await;
    let mut admin = server.runners(Protocol::Grpc, &server.admin.token).await;
    eventually(Duration::from_secs(10), "the abandoned runner removed", async || {
        lease(&server, &kept_token, &kept).await;
        let found = admin
            .get_runner(pb::GetRunnerRequest {
                runner_id: runner_id.clone(),
            })
            .await;
        match found {
            Err(status) if status.code() == Code::NotFound => Some(()),
            Ok(_) => None,
            Err(status) => panic!("{status:?}"),
        }
    })
    .await;
    // its environment class went with it
    let id = Uuid::parse_str(&runner_id).unwrap();
    let classes = store::entities::environment_class::Entity::find()
        .filter(store::entities::environment_class::Column::RunnerId.eq(id))
        .all(&server.state.db)
        .await
        .unwrap();
    assert!(classes.is_empty());
    // the log says paddock collected it
    let collected = server
        .events(Protocol::Grpc, &server.admin.token)
        .await
        .list_audit_logs(pb::ListAuditLogsRequest {
            filter: Some(pb::list_audit_logs_request::Filter {
                subject_ids: vec![runner_id.clone()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(collected[0].action, "runner.collect");
    assert_eq!(collected[0].actor_id, Uuid::nil().to_string());
    // a runner that holds its lease is never collected
    assert_eq!(
        phase_of(&server, Protocol::Grpc, &kept).await.0,
        pb::RunnerPhase::Active as i32
    );
    server.stop().await;
}

#[tokio::test]
async fn without_gc_inactive_runners_are_kept() {
    let server = quick_server(None).await;
    let (runner_id, _, _) = signed_up(&server, Protocol::Grpc, "offline-for-long").await;
    wait_for_phase(&server, &runner_id, pb::RunnerPhase::Inactive).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        phase_of(&server, Protocol::Grpc, &runner_id).await.0,
        pb::RunnerPhase::Inactive as i32
    );
    server.stop().await;
}

/// Two sweeps at once (as two replicas run them) make every transition
/// exactly once between them.
#[tokio::test]
async fn concurrent_sweeps_make_each_transition_once() {
    // a long lease: only this test's sweeps touch the runners
    let server = TestServer::start().await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let (id, _, _) = signed_up(&server, Protocol::Grpc, &format!("fleet-{i}")).await;
        ids.push(Uuid::parse_str(&id).unwrap());
    }
    let long_ago = Utc::now() - chrono::Duration::hours(1);
    store::entities::runner::Entity::update_many()
        .col_expr(store::entities::runner::Column::LeaseRenewedAt, Expr::value(long_ago))
        .filter(store::entities::runner::Column::Id.is_in(ids.clone()))
        .exec(&server.state.db)
        .await
        .unwrap();
    // a second connection pool, as a second replica has
    let other = store::connect(&server.db.url).await.unwrap();
    let cutoff = Utc::now() - chrono::Duration::minutes(1);
    let (a, b) = tokio::join!(
        store::leases::expire(&server.state.db, cutoff, Utc::now()),
        store::leases::expire(&other, cutoff, Utc::now()),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut made: Vec<Uuid> = a.iter().chain(b.iter()).map(|e| e.runner_id).collect();
    made.sort();
    ids.sort();
    assert_eq!(made, ids, "every runner expired once, by one of the two");
    // and a sweep after them finds nothing left to do
    assert!(
        store::leases::expire(&other, cutoff, Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
    other.close().await.ok();
    server.stop().await;
}

#[tokio::test]
async fn gc_forgets_a_deleting_runner_whose_agent_never_comes_back() {
    let server = quick_server(Some(Duration::from_millis(300))).await;
    let (runner_id, _, _) = signed_up(&server, Protocol::Grpc, "deleted-while-dead").await;
    server
        .runners(Protocol::Grpc, &server.admin.token)
        .await
        .delete_runner(pb::DeleteRunnerRequest {
            runner_id: runner_id.clone(),
            force: false,
        })
        .await
        .unwrap();
    let mut admin = server.runners(Protocol::Grpc, &server.admin.token).await;
    eventually(Duration::from_secs(10), "the DELETING runner forgotten", async || {
        let found = admin
            .get_runner(pb::GetRunnerRequest {
                runner_id: runner_id.clone(),
            })
            .await;
        match found {
            Err(status) if status.code() == Code::NotFound => Some(()),
            Ok(r) => {
                let phase = r.into_inner().runner.unwrap().status.unwrap().phase;
                assert_eq!(phase, pb::RunnerPhase::Deleting as i32, "never INACTIVE on the way");
                None
            }
            Err(status) => panic!("{status:?}"),
        }
    })
    .await;
    server.stop().await;
}

/// A replica that could not write for a while flushes old leases late; they
/// never undo a newer lease another replica wrote.
#[tokio::test]
async fn a_late_lease_never_moves_a_lease_backwards() {
    let server = TestServer::start().await;
    let (runner_id, _, _) = signed_up(&server, Protocol::Grpc, "two-replicas").await;
    let id = Uuid::parse_str(&runner_id).unwrap();
    let newer = Utc::now() + chrono::Duration::seconds(5);
    store::leases::write(&server.state.db, &[id], newer).await.unwrap();
    store::leases::write(&server.state.db, &[id], newer - chrono::Duration::seconds(50))
        .await
        .unwrap();
    let stored = store::runners::get(&server.state.db, id).await.unwrap().unwrap();
    assert_eq!(
        stored.lease_renewed_at.map(|t| t.timestamp_millis()),
        Some(newer.timestamp_millis())
    );
    server.stop().await;
}

/// After the replicas (or the database) were down, a replica that starts
/// gives every runner a whole lease and grace to be heard before it marks
/// any INACTIVE.
#[tokio::test]
async fn a_starting_replica_gives_runners_a_lease_and_grace_before_expiring_them() {
    let server = TestServer::start_with(|s| {
        s.runner_lease = Duration::from_millis(1000);
        s.runner_lease_grace = Duration::from_millis(1000);
    })
    .await;
    let (runner_id, _, _) = signed_up(&server, Protocol::Grpc, "through-the-outage").await;
    let id = Uuid::parse_str(&runner_id).unwrap();
    let (db, key, admin) = server.stop().await;
    // the outage: its last lease is long gone
    let conn = store::connect(&db.url).await.unwrap();
    store::entities::runner::Entity::update_many()
        .col_expr(
            store::entities::runner::Column::LeaseRenewedAt,
            Expr::value(Utc::now() - chrono::Duration::hours(1)),
        )
        .filter(store::entities::runner::Column::Id.eq(id))
        .exec(&conn)
        .await
        .unwrap();
    conn.close().await.ok();

    let server = TestServer::start_configured(db, key, Some(admin), |s| {
        s.runner_lease = Duration::from_millis(1000);
        s.runner_lease_grace = Duration::from_millis(1000);
    })
    .await;
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (phase, _) = phase_of(&server, Protocol::Grpc, &runner_id).await;
    if started.elapsed() < Duration::from_millis(1900) {
        assert_eq!(phase, pb::RunnerPhase::Active as i32, "held back after start");
    }
    // nobody came back: then it goes
    wait_for_phase(&server, &runner_id, pb::RunnerPhase::Inactive).await;
    assert!(
        // without the hold-back the first sweep (within 333 ms) would have done it
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    server.stop().await;
}
