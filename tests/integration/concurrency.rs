//! Calls racing each other on one resource: nothing lost, nothing doubled.
//! (Concurrent exchanges of one token: authentication.rs.)

use tonic::Code;

use crate::harness::*;

const P: Protocol = Protocol::Grpc;

/// A call to race.
type Racer<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T>>>;

/// Runs the calls at once on this thread's tasks (a boxed test transport's
/// calls cannot prove Send) and gives back their results in order.
async fn all_at_once<T: 'static>(calls: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = T>>>>) -> Vec<T> {
    let tasks = tokio::task::LocalSet::new();
    let handles: Vec<_> = calls.into_iter().map(|call| tasks.spawn_local(call)).collect();
    tasks
        .run_until(async {
            let mut results = Vec::new();
            for handle in handles {
                results.push(handle.await.expect("task"));
            }
            results
        })
        .await
}

fn spec(configuration: pb::update_runner_request::RunnerConfiguration) -> Option<pb::update_runner_request::Spec> {
    Some(pb::update_runner_request::Spec {
        configuration: Some(configuration),
        desired_phase: None,
    })
}

#[tokio::test]
async fn concurrent_updates_of_different_fields_lose_none() {
    use pb::update_runner_request::{MetricsConfiguration, RunnerConfiguration};
    let server = TestServer::start().await;
    let (runner_id, _) = server.runner_with_token(P, &server.admin, "busy").await;
    for round in 0..3u32 {
        let name = format!("renamed {round}");
        let flag = round % 2 == 0;
        let hour = round + 1;
        // each call changes one field, all at once
        let changes: Vec<pb::UpdateRunnerRequest> = vec![
            pb::UpdateRunnerRequest {
                name: Some(name.clone()),
                ..Default::default()
            },
            pb::UpdateRunnerRequest {
                spec: spec(RunnerConfiguration {
                    auto_update: Some(flag),
                    ..Default::default()
                }),
                ..Default::default()
            },
            pb::UpdateRunnerRequest {
                spec: spec(RunnerConfiguration {
                    devcontainer_image_cache_enabled: Some(!flag),
                    ..Default::default()
                }),
                ..Default::default()
            },
            pb::UpdateRunnerRequest {
                spec: spec(RunnerConfiguration {
                    continuous_profiling: Some(flag),
                    ..Default::default()
                }),
                ..Default::default()
            },
            pb::UpdateRunnerRequest {
                spec: spec(RunnerConfiguration {
                    log_level: Some(pb::LogLevel::Debug as i32 + round as i32 % 2),
                    ..Default::default()
                }),
                ..Default::default()
            },
            pb::UpdateRunnerRequest {
                spec: spec(RunnerConfiguration {
                    update_window: Some(pb::UpdateWindow {
                        start_hour: Some(hour),
                        end_hour: Some(hour + 2),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            pb::UpdateRunnerRequest {
                spec: spec(RunnerConfiguration {
                    metrics: Some(MetricsConfiguration {
                        enabled: Some(flag),
                        url: Some(format!("https://metrics.example.com/{round}")),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            pb::UpdateRunnerRequest {
                spec: spec(RunnerConfiguration {
                    release_channel: Some(1 + (round as i32 % 2)),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ];
        let mut calls: Vec<Racer<Result<(), tonic::Status>>> = Vec::new();
        for change in changes {
            let mut runners = server.runners(P, &server.admin.token).await;
            let request = pb::UpdateRunnerRequest {
                runner_id: runner_id.clone(),
                ..change
            };
            calls.push(Box::pin(
                async move { runners.update_runner(request).await.map(|_| ()) },
            ));
        }
        for result in all_at_once(calls).await {
            result.expect("every update applies (or the test would have to accept its failure)");
        }

        let runner = server
            .runners(P, &server.admin.token)
            .await
            .get_runner(pb::GetRunnerRequest {
                runner_id: runner_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .runner
            .unwrap();
        let configuration = runner.spec.unwrap().configuration.unwrap();
        assert_eq!(runner.name, name, "round {round}");
        assert_eq!(configuration.auto_update, flag);
        assert_eq!(configuration.devcontainer_image_cache_enabled, !flag);
        assert_eq!(configuration.continuous_profiling, flag);
        assert_eq!(configuration.log_level, pb::LogLevel::Debug as i32 + round as i32 % 2);
        let window = configuration.update_window.unwrap();
        assert_eq!((window.start_hour, window.end_hour), (Some(hour), Some(hour + 2)));
        let metrics = configuration.metrics.unwrap();
        assert_eq!(metrics.enabled, flag);
        assert_eq!(metrics.url, format!("https://metrics.example.com/{round}"));
        assert_eq!(configuration.release_channel, 1 + (round as i32 % 2));
    }
    server.stop().await;
}

#[tokio::test]
async fn concurrent_policies_for_one_group_and_runner_make_exactly_one() {
    let server = TestServer::start().await;
    let (runner_id, _) = server.runner_with_token(P, &server.admin, "shared").await;
    let group = server
        .group(server.admin.organization_id, "racers", &[])
        .await
        .to_string();
    let mut calls: Vec<Racer<Result<(), tonic::Status>>> = Vec::new();
    for i in 0..8 {
        let mut runners = server.runners(P, &server.admin.token).await;
        let request = pb::CreateRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: group.clone(),
            role: if i % 2 == 0 {
                pb::RunnerRole::User as i32
            } else {
                pb::RunnerRole::Admin as i32
            },
        };
        calls.push(Box::pin(async move {
            runners.create_runner_policy(request).await.map(|_| ())
        }));
    }
    let results = all_at_once(calls).await;
    let made = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(made, 1, "{results:?}");
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(refused.code(), Code::AlreadyExists, "{refused:?}");
    }
    let policies = server
        .runners(P, &server.admin.token)
        .await
        .list_runner_policies(pb::ListRunnerPoliciesRequest {
            runner_id,
            pagination: None,
        })
        .await
        .unwrap()
        .into_inner()
        .policies;
    assert_eq!(policies.iter().filter(|p| p.group_id == group).count(), 1);
    server.stop().await;
}
