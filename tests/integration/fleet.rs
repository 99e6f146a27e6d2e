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

/// A fleet of one runner in each state, plus another organization's.
struct Mixed {
    never: String,
    active: String,
    active_token: String,
    degraded: String,
    stale: String,
    resting: String,
    leaving: String,
    stranger: User,
}

/// Stale after an hour; stable's release is 1.2.0.
async fn mixed_fleet_server() -> TestServer {
    TestServer::start_with(|s| {
        s.stale_after = Duration::from_secs(3600);
        s.runner_releases = paddock::fleet::releases::parse(&["stable=1.2.0".into()]).unwrap();
    })
    .await
}

async fn mixed_fleet(server: &TestServer) -> Mixed {
    let admin = server.admin.clone();
    // never connected, configured for us-east-1
    let mut request = linux_runner("never");
    request.spec = Some(pb::RunnerSpec {
        configuration: Some(pb::RunnerConfiguration {
            region: "us-east-1".into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    let never = server
        .runners(P, &admin.token)
        .await
        .create_runner(request)
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    // active, on an old version, reporting eu-west-1
    let (active, active_token, _) = signed_up(server, P, "active").await;
    server
        .interaction(P, &active_token)
        .await
        .mark_runner_active(pb::MarkRunnerActiveRequest {
            runner_id: active.clone(),
        })
        .await
        .unwrap();
    report(server, &active_token, &active, "1.1.0", None).await;
    server
        .interaction(P, &active_token)
        .await
        .update_runner_status(pb::UpdateRunnerStatusRequest {
            runner_id: active.clone(),
            region: Some("eu-west-1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    // degraded, up to date
    let (degraded, degraded_token, _) = signed_up(server, P, "Degraded 100%").await;
    report(
        server,
        &degraded_token,
        &degraded,
        "1.2.0",
        Some(pb::RunnerPhase::Degraded),
    )
    .await;
    // inactive for two hours (stale), and for ten minutes (not yet)
    let (stale, stale_token, _) = signed_up(server, P, "stale").await;
    report(server, &stale_token, &stale, "0.9.0", None).await;
    inactive_since(server, &stale, chrono::Duration::hours(2)).await;
    let (resting, _, _) = signed_up(server, P, "resting").await;
    inactive_since(server, &resting, chrono::Duration::minutes(10)).await;
    // deleting: waiting for the runner to clean up
    let (leaving, _, _) = signed_up(server, P, "leaving").await;
    server
        .runners(P, &admin.token)
        .await
        .delete_runner(pb::DeleteRunnerRequest {
            runner_id: leaving.clone(),
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
    Mixed {
        never,
        active,
        active_token,
        degraded,
        stale,
        resting,
        leaving,
        stranger,
    }
}

#[tokio::test]
async fn the_summary_counts_the_organizations_runners_by_state() {
    let server = mixed_fleet_server().await;
    let Mixed {
        active_token, stranger, ..
    } = mixed_fleet(&server).await;

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
    // the reported region, or the configured one until one is reported
    assert_eq!(summary.regions, ["eu-west-1", "us-east-1"]);

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

/// Every page of the fleet list under `filter`, `page_size` at a time.
async fn list_all(server: &TestServer, token: &str, filter: ppb::FleetFilter, page_size: i32) -> Vec<ppb::FleetRunner> {
    let mut client = fleet(server, token).await;
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_fleet_runners(ppb::ListFleetRunnersRequest {
                pagination: Some(pb::PaginationRequest {
                    token: page_token,
                    page_size,
                }),
                filter: Some(filter.clone()),
            })
            .await
            .unwrap()
            .into_inner();
        all.extend(page.runners);
        page_token = page.pagination.unwrap().next_token;
        if page_token.is_empty() {
            return all;
        }
    }
}

fn ids(runners: &[ppb::FleetRunner]) -> Vec<&String> {
    runners.iter().map(|r| &r.runner.as_ref().unwrap().runner_id).collect()
}

#[tokio::test]
async fn the_fleet_list_says_what_a_runner_message_does_not() {
    let server = mixed_fleet_server().await;
    let m = mixed_fleet(&server).await;
    let member = server.member("mia").await;
    let all = list_all(&server, &member.token, ppb::FleetFilter::default(), 0).await;
    // the organization's six, in creation order; not the other organization's
    assert_eq!(
        ids(&all),
        [&m.never, &m.active, &m.degraded, &m.stale, &m.resting, &m.leaving]
    );
    let by_id = |id: &str| all.iter().find(|r| r.runner.as_ref().unwrap().runner_id == id).unwrap();
    use ppb::{FleetState as S, VersionDrift as D};
    for (id, state, drift) in [
        (&m.never, S::NeverConnected, D::Unknown),
        (&m.active, S::Active, D::Outdated),
        (&m.degraded, S::Degraded, D::UpToDate),
        (&m.stale, S::Stale, D::Outdated),
        (&m.resting, S::Inactive, D::Unknown),
        (&m.leaving, S::Deleting, D::Unknown),
    ] {
        let r = by_id(id);
        assert_eq!(
            (r.state(), r.drift()),
            (state, drift),
            "{}",
            r.runner.as_ref().unwrap().name
        );
        assert_eq!(r.release_version, "1.2.0");
    }
    // the lease MarkRunnerActive took (held by this replica, not yet
    // written) is the last one; a runner never leased has none
    let leased = by_id(&m.active).last_lease_at.expect("the active runner's lease");
    assert!(Utc::now().timestamp() - leased.seconds < 60, "{leased:?}");
    assert!(by_id(&m.never).last_lease_at.is_none());
    assert!(by_id(&m.stale).inactive_since.is_some());
    assert!(by_id(&m.active).inactive_since.is_none());
    // regions: reported, else configured
    assert_eq!(by_id(&m.active).region, "eu-west-1");
    assert_eq!(by_id(&m.never).region, "us-east-1");
    assert_eq!(by_id(&m.resting).region, "");
    // each runner's own message comes along, as GetRunner answers it
    assert_eq!(by_id(&m.active).runner.as_ref().unwrap().name, "active");
    server.stop().await;
}

#[tokio::test]
async fn the_fleet_list_filters_on_the_server() {
    let server = mixed_fleet_server().await;
    let m = mixed_fleet(&server).await;
    let mut aws = linux_runner("aws-never");
    aws.provider = pb::RunnerProvider::AwsEc2 as i32;
    let aws = server
        .runners(P, &server.admin.token)
        .await
        .create_runner(aws)
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    let member = server.member("mia").await;
    use ppb::{FleetFilter as F, FleetState as S, VersionDrift as D};
    let cases: Vec<(&str, F, Vec<&String>)> = vec![
        (
            "stale, not the runner inactive for ten minutes",
            F {
                states: vec![S::Stale as i32],
                ..Default::default()
            },
            vec![&m.stale],
        ),
        (
            "inactive and not yet stale",
            F {
                states: vec![S::Inactive as i32],
                ..Default::default()
            },
            vec![&m.resting],
        ),
        (
            "any of several states",
            F {
                states: vec![S::NeverConnected as i32, S::Deleting as i32, S::Degraded as i32],
                ..Default::default()
            },
            vec![&m.never, &m.degraded, &m.leaving, &aws],
        ),
        (
            "a provider",
            F {
                providers: vec![pb::RunnerProvider::AwsEc2 as i32],
                ..Default::default()
            },
            vec![&aws],
        ),
        (
            "a provider and a state",
            F {
                providers: vec![pb::RunnerProvider::LinuxHost as i32],
                states: vec![S::NeverConnected as i32],
                ..Default::default()
            },
            vec![&m.never],
        ),
        (
            "a reported region and a configured one",
            F {
                regions: vec!["eu-west-1".into(), "us-east-1".into()],
                ..Default::default()
            },
            vec![&m.never, &m.active],
        ),
        (
            "outdated",
            F {
                drift: D::Outdated as i32,
                ..Default::default()
            },
            vec![&m.active, &m.stale],
        ),
        (
            "up to date",
            F {
                drift: D::UpToDate as i32,
                ..Default::default()
            },
            vec![&m.degraded],
        ),
        (
            "no version known",
            F {
                drift: D::Unknown as i32,
                ..Default::default()
            },
            vec![&m.never, &m.resting, &m.leaving, &aws],
        ),
        (
            "a part of a name, in any case",
            F {
                search: "  NEVER ".into(),
                ..Default::default()
            },
            vec![&m.never, &aws],
        ),
        (
            "% and _ match only themselves",
            F {
                search: "100%".into(),
                ..Default::default()
            },
            vec![&m.degraded],
        ),
        (
            "no name has an underscore",
            F {
                search: "_".into(),
                ..Default::default()
            },
            vec![],
        ),
        (
            "an id",
            F {
                search: m.stale.clone(),
                ..Default::default()
            },
            vec![&m.stale],
        ),
    ];
    for (what, filter, expected) in cases {
        // a page of one at a time: each page token carries the filter on
        let got = list_all(&server, &member.token, filter, 1).await;
        assert_eq!(ids(&got), expected, "{what}");
    }

    // another organization sees only its own under any filter
    let theirs = list_all(&server, &m.stranger.token, F::default(), 0).await;
    assert_eq!(theirs.len(), 1);
    assert!(
        list_all(
            &server,
            &m.stranger.token,
            F {
                search: m.never.clone(),
                ..Default::default()
            },
            0
        )
        .await
        .is_empty()
    );

    // a page token continues only the listing it came from
    let mut client = fleet(&server, &member.token).await;
    let first = client
        .list_fleet_runners(ppb::ListFleetRunnersRequest {
            pagination: Some(pb::PaginationRequest {
                token: String::new(),
                page_size: 1,
            }),
            filter: Some(F {
                drift: D::Unknown as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let refused = client
        .list_fleet_runners(ppb::ListFleetRunnersRequest {
            pagination: Some(pb::PaginationRequest {
                token: first.pagination.unwrap().next_token,
                page_size: 1,
            }),
            filter: Some(F {
                drift: D::Outdated as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");

    // runners read no fleet
    let refused = fleet(&server, &m.active_token)
        .await
        .list_fleet_runners(ppb::ListFleetRunnersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    server.stop().await;
}

#[tokio::test]
async fn the_fleet_list_refuses_malformed_filters_naming_the_field() {
    let server = TestServer::start().await;
    let mut client = fleet(&server, &server.admin.token).await;
    use ppb::FleetFilter as F;
    for (filter, page_size, field) in [
        (
            F {
                states: vec![0],
                ..Default::default()
            },
            0,
            "filter.states[0]",
        ),
        (
            F {
                states: vec![1, 99],
                ..Default::default()
            },
            0,
            "filter.states[1]",
        ),
        (
            F {
                states: vec![1; 7],
                ..Default::default()
            },
            0,
            "filter.states",
        ),
        (
            F {
                providers: vec![77],
                ..Default::default()
            },
            0,
            "filter.providers[0]",
        ),
        (
            F {
                regions: vec!["eu".into(), String::new()],
                ..Default::default()
            },
            0,
            "filter.regions[1]",
        ),
        (
            F {
                regions: vec!["r".repeat(65)],
                ..Default::default()
            },
            0,
            "filter.regions[0]",
        ),
        (
            F {
                regions: vec!["eu".into(); 26],
                ..Default::default()
            },
            0,
            "filter.regions",
        ),
        (
            F {
                drift: 4,
                ..Default::default()
            },
            0,
            "filter.drift",
        ),
        (
            F {
                search: "x".repeat(129),
                ..Default::default()
            },
            0,
            "filter.search",
        ),
        (
            F {
                search: "a\0b".into(),
                ..Default::default()
            },
            0,
            "filter.search",
        ),
        (F::default(), 101, "pagination.page_size"),
    ] {
        let refused = client
            .list_fleet_runners(ppb::ListFleetRunnersRequest {
                pagination: Some(pb::PaginationRequest {
                    token: String::new(),
                    page_size,
                }),
                filter: Some(filter),
            })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), [field], "{refused:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn revoking_many_stops_the_credentials_of_each_runner_named() {
    let server = TestServer::start().await;
    let cara = server.member("cara").await;
    // cara's: one holding an access token, one never connected (its exchange
    // token unused)
    let (connected, access) = server.runner_with_token(P, &cara, "connected").await;
    let created = server
        .runners(P, &cara.token)
        .await
        .create_runner(linux_runner("waiting"))
        .await
        .unwrap()
        .into_inner();
    let waiting = created.runner.unwrap().runner_id;
    let (admins, admins_access) = server.runner_with_token(P, &server.admin, "the admin's").await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let mut as_cara = fleet(&server, &cara.token).await;

    for (ids, field) in [
        (vec![], "runner_ids"),
        (vec![waiting.clone(), waiting.clone()], "runner_ids[1]"),
        (vec!["x".into()], "runner_ids[0]"),
        (vec![unknown.clone(); 101], "runner_ids"),
    ] {
        let refused = as_cara
            .revoke_runner_credentials(ppb::RevokeRunnerCredentialsRequest { runner_ids: ids })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&refused), [field], "{refused:?}");
    }
    // a runner's own token acts on no runner
    let refused = fleet(&server, &access)
        .await
        .revoke_runner_credentials(ppb::RevokeRunnerCredentialsRequest {
            runner_ids: vec![connected.clone()],
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    // (the access token has just worked: the server holds it verified)
    server
        .runners(P, &access)
        .await
        .get_runner(pb::GetRunnerRequest {
            runner_id: connected.clone(),
        })
        .await
        .unwrap();
    let answer = as_cara
        .revoke_runner_credentials(ppb::RevokeRunnerCredentialsRequest {
            runner_ids: vec![connected.clone(), admins.clone(), unknown.clone(), waiting.clone()],
        })
        .await
        .unwrap()
        .into_inner();
    let outcomes: Vec<(String, Code, i32)> = answer
        .revocations
        .iter()
        .map(|r| (r.runner_id.clone(), Code::from(r.code), r.revoked))
        .collect();
    assert_eq!(
        outcomes,
        [
            (connected.clone(), Code::Ok, 1),
            (admins.clone(), Code::PermissionDenied, 0),
            (unknown, Code::NotFound, 0),
            (waiting.clone(), Code::Ok, 1),
        ]
    );
    // the connected runner is locked out at once; the exchange token trades
    // for nothing; the admin's runner is untouched
    let locked_out = server
        .runners(P, &access)
        .await
        .get_runner(pb::GetRunnerRequest {
            runner_id: connected.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(locked_out.code(), Code::Unauthenticated, "{locked_out:?}");
    let traded = server
        .identity(P, None)
        .await
        .exchange_token(pb::ExchangeTokenRequest {
            exchange_token: created.exchange_token,
        })
        .await
        .unwrap_err();
    assert_eq!(traded.code(), Code::Unauthenticated, "{traded:?}");
    server
        .runners(P, &admins_access)
        .await
        .get_runner(pb::GetRunnerRequest {
            runner_id: admins.clone(),
        })
        .await
        .unwrap();
    // nothing left to revoke is no error
    let again = as_cara
        .revoke_runner_credentials(ppb::RevokeRunnerCredentialsRequest {
            runner_ids: vec![connected.clone()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.revocations[0].code, again.revocations[0].revoked), (0, 0));
    server.stop().await;
}

#[tokio::test]
async fn a_name_search_finds_the_name_as_written_whatever_its_letters() {
    let server = TestServer::start().await;
    let mut runners = server.runners(P, &server.admin.token).await;
    let eclair = runners
        .create_runner(linux_runner("Éclair-7"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    runners.create_runner(linux_runner("tart-8")).await.unwrap();
    for search in ["Éclair", "ÉCLAIR-7", "clair"] {
        let found = list_all(
            &server,
            &server.admin.token,
            ppb::FleetFilter {
                search: search.into(),
                ..Default::default()
            },
            0,
        )
        .await;
        assert_eq!(ids(&found), [&eclair], "{search}");
    }
    server.stop().await;
}
