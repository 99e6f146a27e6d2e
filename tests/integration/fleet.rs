//! paddock.v1.FleetService: the fleet counted by state, and deleting many
//! runners by the ids named — never all of them by omission.

use std::time::Duration;

use chrono::Utc;
use paddock::store::entities::runner;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::Code;

use crate::harness::*;

const P: Protocol = Protocol::Grpc;

fn fleet(
    server: &TestServer,
    token: &str,
) -> impl std::future::Future<Output = ppb::fleet_service_client::FleetServiceClient<Transport>> {
    let transport = server.transport(P, Some(token));
    async move { ppb::fleet_service_client::FleetServiceClient::new(transport.await) }
}

/// Puts a runner INACTIVE since `ago` (what the liveness sweep would have done then).
async fn inactive_since(server: &TestServer, runner_id: &str, ago: chrono::Duration) {
    runner::Entity::update_many()
        .col_expr(runner::Column::Phase, Expr::value(pb::RunnerPhase::Inactive as i32))
        .col_expr(runner::Column::InactiveSince, Expr::value(Utc::now() - ago))
        .filter(runner::Column::Id.eq(uuid::Uuid::parse_str(runner_id).unwrap()))
        .exec(&server.state.db)
        .await
        .unwrap();
}

async fn report(server: &TestServer, token: &str, runner_id: &str, version: &str, phase: Option<pb::RunnerPhase>) {
    server
        .interaction(P, token)
        .await
        .update_runner_status(pb::UpdateRunnerStatusRequest {
            runner_id: runner_id.into(),
            version: Some(version.into()),
            phase: phase.map(|p| p as i32),
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn the_summary_counts_the_organizations_runners_by_state() {
    let server = TestServer::start_with(|s| {
        s.stale_after = Duration::from_secs(3600);
        s.runner_releases = paddock::config::runner_releases(&["stable=1.2.0".into()]).unwrap();
    })
    .await;
    let admin = server.admin.clone();
    // never connected
    server
        .runners(P, &admin.token)
        .await
        .create_runner(linux_runner("never"))
        .await
        .unwrap();
    // active, on an old version
    let (active, active_token, _) = signed_up(&server, P, "active").await;
    server
        .interaction(P, &active_token)
        .await
        .mark_runner_active(pb::MarkRunnerActiveRequest {
            runner_id: active.clone(),
        })
        .await
        .unwrap();
    report(&server, &active_token, &active, "1.1.0", None).await;
    // degraded, up to date
    let (degraded, degraded_token, _) = signed_up(&server, P, "degraded").await;
    report(
        &server,
        &degraded_token,
        &degraded,
        "1.2.0",
        Some(pb::RunnerPhase::Degraded),
    )
    .await;
    // inactive for two hours (stale), and for ten minutes (not yet)
    let (stale, stale_token, _) = signed_up(&server, P, "stale").await;
    report(&server, &stale_token, &stale, "0.9.0", None).await;
    inactive_since(&server, &stale, chrono::Duration::hours(2)).await;
    let (resting, _, _) = signed_up(&server, P, "resting").await;
    inactive_since(&server, &resting, chrono::Duration::minutes(10)).await;
    // deleting: waiting for the runner to clean up
    let (leaving, _, _) = signed_up(&server, P, "leaving").await;
    server
        .runners(P, &admin.token)
        .await
        .delete_runner(pb::DeleteRunnerRequest {
            runner_id: leaving,
            force: false,
        })
        .await
        .unwrap();
    // another organization's runner counts there, not here
    let stranger = server.user_in("elsewhere", "olga", true).await;
    server
        .runners(P, &stranger.token)
        .await
        .create_runner(linux_runner("theirs"))
        .await
        .unwrap();

    let member = server.member("mia").await;
    let summary = fleet(&server, &member.token)
        .await
        .get_fleet_summary(ppb::GetFleetSummaryRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (summary.total, summary.never_connected, summary.active, summary.degraded),
        (6, 1, 1, 1),
        "{summary:?}"
    );
    assert_eq!(
        (summary.inactive, summary.stale, summary.deleting),
        (2, 1, 1),
        "{summary:?}"
    );
    // 1.1.0 and 0.9.0 on stable, whose release is 1.2.0
    assert_eq!(summary.outdated, 2, "{summary:?}");
    assert_eq!(summary.stale_after.unwrap().seconds, 3600);

    let theirs = fleet(&server, &stranger.token)
        .await
        .get_fleet_summary(ppb::GetFleetSummaryRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((theirs.total, theirs.never_connected), (1, 1));

    let refused = fleet(&server, &active_token)
        .await
        .get_fleet_summary(ppb::GetFleetSummaryRequest {})
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    server.stop().await;
}

#[tokio::test]
async fn deleting_many_takes_the_ids_named_and_answers_for_each() {
    let server = TestServer::start().await;
    let cara = server.member("cara").await;
    let mut as_cara = server.runners(P, &cara.token).await;
    let mut own = Vec::new();
    for name in ["one", "two"] {
        own.push(
            as_cara
                .create_runner(linux_runner(name))
                .await
                .unwrap()
                .into_inner()
                .runner
                .unwrap()
                .runner_id,
        );
    }
    let (admins, _) = server.runner_with_token(P, &server.admin, "the admin's").await;
    let stranger = server.user_in("elsewhere", "olga", true).await;
    let (theirs, _) = server.runner_with_token(P, &stranger, "theirs").await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let mut fleet_as_cara = fleet(&server, &cara.token).await;

    // never "all": an empty list, and other malformed lists, are refused whole
    for (ids, field) in [
        (vec![], "runner_ids"),
        (vec![own[0].clone(), own[0].clone()], "runner_ids[1]"),
        (vec![own[0].clone(), "not-a-uuid".into()], "runner_ids[1]"),
        (vec![unknown.clone(); 101], "runner_ids"),
    ] {
        let refused = fleet_as_cara
            .delete_runners(ppb::DeleteRunnersRequest {
                runner_ids: ids,
                force: true,
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), [field], "{refused:?}");
    }
    let listed = as_cara.list_runners(pb::ListRunnersRequest::default()).await.unwrap();
    assert_eq!(
        listed.into_inner().runners.len(),
        3,
        "nothing deleted by a refused call"
    );

    let named = vec![
        own[0].clone(),
        admins.clone(),
        theirs.clone(),
        unknown.clone(),
        own[1].clone(),
    ];
    let answer = fleet_as_cara
        .delete_runners(ppb::DeleteRunnersRequest {
            runner_ids: named.clone(),
            force: true,
        })
        .await
        .unwrap()
        .into_inner();
    let outcomes: Vec<(String, Code)> = answer
        .deletions
        .iter()
        .map(|d| (d.runner_id.clone(), Code::from(d.code)))
        .collect();
    assert_eq!(
        outcomes,
        [
            (own[0].clone(), Code::Ok),
            (admins.clone(), Code::PermissionDenied),
            (theirs.clone(), Code::NotFound),
            (unknown, Code::NotFound),
            (own[1].clone(), Code::Ok),
        ]
    );
    // what was refused is still there; what was deleted is gone
    let mut as_admin = server.runners(P, &server.admin.token).await;
    for (id, exists) in [(&own[0], false), (&own[1], false), (&admins, true)] {
        let got = as_admin
            .get_runner(pb::GetRunnerRequest { runner_id: id.clone() })
            .await;
        assert_eq!(got.is_ok(), exists, "{id}");
    }
    server.stop().await;
}
