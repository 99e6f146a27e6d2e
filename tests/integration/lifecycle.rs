//! A runner's whole life, over every protocol: create → exchange → get →
//! list (60 runners, pages of 25) → update → delete.

use std::collections::BTreeSet;

use tonic::Code;

use crate::harness::*;

protocol_tests!(full_lifecycle);
async fn full_lifecycle(protocol: Protocol) {
    let server = TestServer::start().await;
    let admin = server.admin.clone();
    let mut runners = server.runners(protocol, &admin.token).await;

    // create: kind follows from the provider, creator is the caller, phase CREATED
    let created = runners
        .create_runner(pb::CreateRunnerRequest {
            name: "Production Runner".into(),
            provider: pb::RunnerProvider::AwsEc2 as i32,
            spec: Some(pb::RunnerSpec {
                desired_phase: pb::RunnerPhase::Active as i32,
                configuration: Some(pb::RunnerConfiguration {
                    region: "us-west".into(),
                    release_channel: pb::RunnerReleaseChannel::Stable as i32,
                    auto_update: true,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner();
    let runner = created.runner.expect("runner");
    assert_eq!(runner.kind, pb::RunnerKind::Remote as i32);
    assert_eq!(runner.provider, pb::RunnerProvider::AwsEc2 as i32);
    let creator = runner.creator.clone().expect("creator");
    assert_eq!(creator.id, admin.id.to_string());
    assert_eq!(creator.principal, pb::Principal::User as i32);
    assert_eq!(
        runner.status.as_ref().expect("status").phase,
        pb::RunnerPhase::Created as i32
    );
    let config = runner
        .spec
        .as_ref()
        .and_then(|s| s.configuration.clone())
        .expect("configuration");
    assert_eq!(config.region, "us-west");
    assert!(config.auto_update);
    assert!(created.exchange_token.starts_with("pdk_rex_"));
    #[allow(deprecated)]
    let deprecated_access_token = created.access_token.clone();
    assert!(deprecated_access_token.is_empty());

    // exchange: the runner trades its one-time token, once
    let mut identity = server.identity(protocol, None).await;
    let access = identity
        .exchange_token(pb::ExchangeTokenRequest {
            exchange_token: created.exchange_token.clone(),
        })
        .await
        .expect("exchange")
        .into_inner()
        .access_token;
    assert!(access.starts_with("pdk_rat_"));
    let again = identity
        .exchange_token(pb::ExchangeTokenRequest {
            exchange_token: created.exchange_token.clone(),
        })
        .await
        .expect_err("second exchange");
    assert_eq!(again.code(), Code::Unauthenticated);

    // get, as the admin and as the runner itself
    let got = runners
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner.runner_id.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .runner
        .expect("runner");
    assert_eq!(got, runner);
    let mut as_runner = server.runners(protocol, &access).await;
    let itself = as_runner
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner.runner_id.clone(),
        })
        .await
        .expect("runner reads itself")
        .into_inner();
    assert_eq!(itself.runner.expect("runner").runner_id, runner.runner_id);

    // list: 60 runners in pages of 25 → 25, 25, 10; no duplicates, no gaps, creation order
    let mut expected = vec![runner.runner_id.clone()];
    for i in 1..60 {
        let r = runners
            .create_runner(linux_runner(&format!("runner {i:02}")))
            .await
            .expect("create")
            .into_inner();
        expected.push(r.runner.expect("runner").runner_id);
    }
    let mut seen = Vec::new();
    let mut page_sizes = Vec::new();
    let mut token = String::new();
    loop {
        let page = runners
            .list_runners(pb::ListRunnersRequest {
                pagination: Some(pb::PaginationRequest {
                    page_size: 25,
                    token: token.clone(),
                }),
                filter: None,
            })
            .await
            .expect("list")
            .into_inner();
        page_sizes.push(page.runners.len());
        seen.extend(page.runners.into_iter().map(|r| r.runner_id));
        token = page.pagination.expect("pagination").next_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(page_sizes, vec![25, 25, 10]);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 60, "no duplicates");
    assert_eq!(seen, expected, "creation order, no gaps");

    // update: only what is present changes; updated_at moves
    runners
        .update_runner(pb::UpdateRunnerRequest {
            runner_id: runner.runner_id.clone(),
            name: Some("Updated Runner Name".into()),
            spec: Some(pb::update_runner_request::Spec {
                configuration: Some(pb::update_runner_request::RunnerConfiguration {
                    release_channel: Some(pb::RunnerReleaseChannel::Latest as i32),
                    ..Default::default()
                }),
                desired_phase: None,
            }),
        })
        .await
        .expect("update");
    let updated = runners
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner.runner_id.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .runner
        .expect("runner");
    assert_eq!(updated.name, "Updated Runner Name");
    let updated_config = updated
        .spec
        .as_ref()
        .and_then(|s| s.configuration.clone())
        .expect("configuration");
    assert_eq!(updated_config.release_channel, pb::RunnerReleaseChannel::Latest as i32);
    assert_eq!(updated_config.region, "us-west", "absent fields keep their values");
    assert!(updated_config.auto_update, "absent fields keep their values");
    assert_eq!(
        updated.spec.as_ref().expect("spec").desired_phase,
        pb::RunnerPhase::Active as i32
    );
    let seconds_nanos = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos));
    assert!(
        seconds_nanos(&updated.updated_at) > seconds_nanos(&runner.updated_at),
        "updated_at moves"
    );
    assert_eq!(updated.created_at, runner.created_at);

    // delete: gone at once (it never signed up), and its token stops working
    runners
        .delete_runner(pb::DeleteRunnerRequest {
            runner_id: runner.runner_id.clone(),
            force: false,
        })
        .await
        .expect("delete");
    let gone = runners
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner.runner_id.clone(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
    let revoked = as_runner
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner.runner_id.clone(),
        })
        .await
        .expect_err("token of a deleted runner");
    assert_eq!(revoked.code(), Code::Unauthenticated);

    server.stop().await;
}
