//! RunnerService behaviour beyond the lifecycle: provider → kind, filters,
//! partial updates and secrets, deletion of signed-up runners, policies.

use sea_orm::{ConnectionTrait, Statement};
use tonic::Code;

use crate::harness::*;

async fn create(api: &mut RunnerServiceClient<Transport>, name: &str, provider: pb::RunnerProvider) -> pb::Runner {
    let request = pb::CreateRunnerRequest {
        name: name.into(),
        provider: provider as i32,
        ..Default::default()
    };
    api.create_runner(request).await.unwrap().into_inner().runner.unwrap()
}

protocol_tests!(provider_implies_kind_unless_kind_is_given);
async fn provider_implies_kind_unless_kind_is_given(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut api = server.runners(protocol, &server.admin.token).await;
    use pb::RunnerKind::{Local, Remote};
    use pb::RunnerProvider as P;
    for (provider, kind) in [
        (P::AwsEc2, Remote),
        (P::Gcp, Remote),
        (P::Managed, Remote),
        (P::LinuxHost, Local),
        (P::DesktopMac, Local),
        (P::DevAgent, Local),
    ] {
        let runner = create(&mut api, &format!("{provider:?}"), provider).await;
        assert_eq!(runner.kind, kind as i32, "{provider:?}");
    }
    let explicit = api
        .create_runner(pb::CreateRunnerRequest {
            kind: pb::RunnerKind::LocalConfiguration as i32,
            ..linux_runner("explicit kind")
        })
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap();
    assert_eq!(explicit.kind, pb::RunnerKind::LocalConfiguration as i32);
    server.stop().await;
}

protocol_tests!(list_filters_by_creator_kind_and_provider);
async fn list_filters_by_creator_kind_and_provider(protocol: Protocol) {
    let server = TestServer::start().await;
    let alice = server.member("alice").await;
    let mut as_admin = server.runners(protocol, &server.admin.token).await;
    let mut as_alice = server.runners(protocol, &alice.token).await;
    let aws = create(&mut as_admin, "aws", pb::RunnerProvider::AwsEc2).await;
    let mac = create(&mut as_alice, "mac", pb::RunnerProvider::DesktopMac).await;
    let linux = create(&mut as_alice, "linux", pb::RunnerProvider::LinuxHost).await;

    let list = |filter: pb::list_runners_request::Filter| pb::ListRunnersRequest {
        pagination: None,
        filter: Some(filter),
    };
    let names = |r: pb::ListRunnersResponse| r.runners.into_iter().map(|r| r.name).collect::<Vec<_>>();

    let by_alice = as_admin
        .list_runners(list(pb::list_runners_request::Filter {
            creator_ids: vec![alice.id.to_string()],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(by_alice), vec![mac.name.clone(), linux.name.clone()]);
    let remote = as_admin
        .list_runners(list(pb::list_runners_request::Filter {
            kinds: vec![pb::RunnerKind::Remote as i32],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(remote), vec![aws.name.clone()]);
    let reference_example = as_admin
        .list_runners(pb::ListRunnersRequest {
            pagination: Some(pb::PaginationRequest {
                page_size: 20,
                token: String::new(),
            }),
            filter: Some(pb::list_runners_request::Filter {
                providers: vec![pb::RunnerProvider::AwsEc2 as i32, pb::RunnerProvider::LinuxHost as i32],
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(names(reference_example), vec![aws.name.clone(), linux.name.clone()]);
    let nothing = as_admin
        .list_runners(list(pb::list_runners_request::Filter {
            creator_ids: vec![alice.id.to_string()],
            kinds: vec![pb::RunnerKind::Remote as i32],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(nothing.runners.is_empty());
    assert!(nothing.pagination.unwrap().next_token.is_empty());
    server.stop().await;
}

protocol_tests!(update_changes_only_present_fields_and_keeps_secrets_sealed);
async fn update_changes_only_present_fields_and_keeps_secrets_sealed(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut api = server.runners(protocol, &server.admin.token).await;
    let runner = create(&mut api, "configurable", pb::RunnerProvider::AwsEc2).await;
    let id = runner.runner_id.clone();
    use pb::update_runner_request as u;
    api.update_runner(pb::UpdateRunnerRequest {
        runner_id: id.clone(),
        name: None,
        spec: Some(u::Spec {
            desired_phase: Some(pb::RunnerPhase::Active as i32),
            configuration: Some(u::RunnerConfiguration {
                release_channel: Some(pb::RunnerReleaseChannel::Latest as i32),
                auto_update: Some(true),
                metrics: Some(u::MetricsConfiguration {
                    enabled: Some(true),
                    url: Some("https://metrics.example.com".into()),
                    username: Some("metrics-user".into()),
                    password: Some("metrics-password-1".into()),
                    managed_metrics_enabled: Some(true),
                    include_verbose_metrics: Some(false),
                }),
                log_level: Some(pb::LogLevel::Debug as i32),
                devcontainer_image_cache_enabled: Some(true),
                update_window: Some(pb::UpdateWindow {
                    start_hour: Some(2),
                    end_hour: Some(5),
                }),
                honeycomb_api_key: Some("hc-secret-key-123".into()),
                continuous_profiling: Some(true),
            }),
        }),
    })
    .await
    .unwrap();
    let get = |api: &mut RunnerServiceClient<Transport>| {
        let id = id.clone();
        let mut api = api.clone();
        async move {
            api.get_runner(pb::GetRunnerRequest { runner_id: id })
                .await
                .unwrap()
                .into_inner()
                .runner
                .unwrap()
        }
    };
    let updated = get(&mut api).await;
    assert_eq!(updated.name, "configurable");
    let spec = updated.spec.clone().unwrap();
    assert_eq!(spec.desired_phase, pb::RunnerPhase::Active as i32);
    let c = spec.configuration.unwrap();
    assert_eq!(c.release_channel, pb::RunnerReleaseChannel::Latest as i32);
    assert!(c.auto_update && c.devcontainer_image_cache_enabled && c.continuous_profiling);
    assert_eq!(c.log_level, pb::LogLevel::Debug as i32);
    assert_eq!(
        c.update_window,
        Some(pb::UpdateWindow {
            start_hour: Some(2),
            end_hour: Some(5)
        })
    );
    let m = c.metrics.clone().unwrap();
    assert!(m.enabled && m.managed_metrics_enabled && !m.include_verbose_metrics);
    assert_eq!(
        (m.url.as_str(), m.username.as_str()),
        ("https://metrics.example.com", "metrics-user")
    );
    assert_eq!(m.password, "", "the metrics password is never returned");
    assert!(!c.encrypted_honeycomb_api_key.is_empty());
    let sealed = &c.encrypted_honeycomb_api_key;
    assert!(
        !sealed
            .windows(b"hc-secret-key-123".len())
            .any(|w| w == b"hc-secret-key-123")
    );
    assert_eq!(
        server.state.secrets.open("runner.honeycomb_api_key", sealed).unwrap(),
        b"hc-secret-key-123",
        "the server can still read it"
    );
    // neither plaintext sits in the database
    let backend = server.state.db.get_database_backend();
    let rows = server
        .state
        .db
        .query_all(Statement::from_string(backend, "SELECT * FROM runners"))
        .await
        .unwrap();
    let dump = format!("{rows:?}");
    assert!(!dump.contains("hc-secret-key-123") && !dump.contains("metrics-password-1"));

    // a later partial update leaves all of that alone
    api.update_runner(pb::UpdateRunnerRequest {
        runner_id: id.clone(),
        name: None,
        spec: Some(u::Spec {
            desired_phase: None,
            configuration: Some(u::RunnerConfiguration {
                metrics: Some(u::MetricsConfiguration {
                    enabled: Some(false),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }),
    })
    .await
    .unwrap();
    let again = get(&mut api).await;
    let c2 = again.spec.unwrap().configuration.unwrap();
    assert!(!c2.metrics.as_ref().unwrap().enabled);
    assert_eq!(c2.metrics.unwrap().url, "https://metrics.example.com");
    assert_eq!(c2.encrypted_honeycomb_api_key, c.encrypted_honeycomb_api_key);
    assert_eq!(c2.update_window, c.update_window);

    // an empty key clears it
    api.update_runner(pb::UpdateRunnerRequest {
        runner_id: id.clone(),
        name: None,
        spec: Some(u::Spec {
            desired_phase: None,
            configuration: Some(u::RunnerConfiguration {
                honeycomb_api_key: Some(String::new()),
                ..Default::default()
            }),
        }),
    })
    .await
    .unwrap();
    assert!(
        get(&mut api)
            .await
            .spec
            .unwrap()
            .configuration
            .unwrap()
            .encrypted_honeycomb_api_key
            .is_empty()
    );

    let err = api
        .update_runner(pb::UpdateRunnerRequest {
            runner_id: uuid::Uuid::now_v7().to_string(),
            name: None,
            spec: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    server.stop().await;
}

/// Marks a runner as having signed up (what RunnerInteractionService.Signup will do).
async fn mark_signed_up(server: &TestServer, runner_id: &str) {
    let backend = server.state.db.get_database_backend();
    let id = uuid::Uuid::parse_str(runner_id).unwrap();
    server
        .state
        .db
        .execute(Statement::from_sql_and_values(
            backend,
            "UPDATE runners SET signed_up_at = $1, phase = 3 WHERE id = $2",
            [chrono::Utc::now().into(), id.into()],
        ))
        .await
        .unwrap();
}

protocol_tests!(deleting_a_signed_up_runner_waits_for_it_unless_forced);
async fn deleting_a_signed_up_runner_waits_for_it_unless_forced(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut api = server.runners(protocol, &server.admin.token).await;
    let created = api.create_runner(linux_runner("signed up")).await.unwrap().into_inner();
    let runner_id = created.runner.unwrap().runner_id;
    let access = server
        .identity(protocol, None)
        .await
        .exchange_token(pb::ExchangeTokenRequest {
            exchange_token: created.exchange_token,
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    mark_signed_up(&server, &runner_id).await;
    let spare_exchange = api
        .create_runner_token(pb::CreateRunnerTokenRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .exchange_token;
    let group = server.group(server.admin.organization_id, "g", &[]).await;
    api.create_runner_policy(pb::CreateRunnerPolicyRequest {
        runner_id: runner_id.clone(),
        group_id: group.to_string(),
        role: pb::RunnerRole::Admin as i32,
    })
    .await
    .unwrap();

    api.delete_runner(pb::DeleteRunnerRequest {
        runner_id: runner_id.clone(),
        force: false,
    })
    .await
    .unwrap();
    let deleting = api
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap();
    assert_eq!(deleting.status.unwrap().phase, pb::RunnerPhase::Deleting as i32);
    assert_eq!(deleting.spec.unwrap().desired_phase, pb::RunnerPhase::Deleted as i32);
    // the runner's access token still works, so that the runner learns of it
    // from its lease and confirms; its unused exchange token does not
    let mut as_runner = server.runners(protocol, &access).await;
    let seen = as_runner
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap();
    assert_eq!(seen.status.unwrap().phase, pb::RunnerPhase::Deleting as i32);
    let err = server
        .identity(protocol, None)
        .await
        .exchange_token(pb::ExchangeTokenRequest {
            exchange_token: spare_exchange,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let policies = api
        .list_runner_policies(pb::ListRunnerPoliciesRequest {
            runner_id: runner_id.clone(),
            pagination: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(policies.policies.is_empty());
    // a runner being deleted takes no new tokens or changes
    let err = api
        .create_runner_token(pb::CreateRunnerTokenRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    // force finishes the job
    api.delete_runner(pb::DeleteRunnerRequest {
        runner_id: runner_id.clone(),
        force: true,
    })
    .await
    .unwrap();
    let err = api
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = api
        .delete_runner(pb::DeleteRunnerRequest { runner_id, force: true })
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::NotFound,
        "unknown ids are NOT_FOUND, deletes included"
    );
    server.stop().await;
}

protocol_tests!(policies_are_created_listed_paged_updated_and_deleted);
async fn policies_are_created_listed_paged_updated_and_deleted(protocol: Protocol) {
    let server = TestServer::start().await;
    let mut api = server.runners(protocol, &server.admin.token).await;
    let runner_id = create(&mut api, "guarded", pb::RunnerProvider::LinuxHost)
        .await
        .runner_id;
    let org = server.admin.organization_id;
    let mut groups = Vec::new();
    for i in 0..5 {
        let group = server.group(org, &format!("group {i}"), &[]).await.to_string();
        let created = api
            .create_runner_policy(pb::CreateRunnerPolicyRequest {
                runner_id: runner_id.clone(),
                group_id: group.clone(),
                role: pb::RunnerRole::User as i32,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            created.policy,
            Some(pb::RunnerPolicy {
                group_id: group.clone(),
                role: pb::RunnerRole::User as i32
            })
        );
        groups.push(group);
    }
    let duplicate = api
        .create_runner_policy(pb::CreateRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: groups[0].clone(),
            role: pb::RunnerRole::Admin as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);
    let unknown_group = api
        .create_runner_policy(pb::CreateRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: uuid::Uuid::now_v7().to_string(),
            role: pb::RunnerRole::Admin as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(unknown_group.code(), Code::NotFound);
    let unknown_runner = api
        .create_runner_policy(pb::CreateRunnerPolicyRequest {
            runner_id: uuid::Uuid::now_v7().to_string(),
            group_id: groups[0].clone(),
            role: pb::RunnerRole::Admin as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(unknown_runner.code(), Code::NotFound);

    // pages of 2: 2, 2, 1 — every group once
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = api
            .list_runner_policies(pb::ListRunnerPoliciesRequest {
                runner_id: runner_id.clone(),
                pagination: Some(pb::PaginationRequest {
                    page_size: 2,
                    token: token.clone(),
                }),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.policies.len() <= 2);
        seen.extend(page.policies.into_iter().map(|p| p.group_id));
        token = page.pagination.unwrap().next_token;
        if token.is_empty() {
            break;
        }
    }
    let mut sorted = groups.clone();
    sorted.sort();
    assert_eq!(seen, sorted);

    let updated = api
        .update_runner_policy(pb::UpdateRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: groups[1].clone(),
            role: pb::RunnerRole::Admin as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.policy.unwrap().role, pb::RunnerRole::Admin as i32);
    api.delete_runner_policy(pb::DeleteRunnerPolicyRequest {
        runner_id: runner_id.clone(),
        group_id: groups[2].clone(),
    })
    .await
    .unwrap();
    let again = api
        .delete_runner_policy(pb::DeleteRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: groups[2].clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::NotFound);
    let missing = api
        .update_runner_policy(pb::UpdateRunnerPolicyRequest {
            runner_id: runner_id.clone(),
            group_id: groups[2].clone(),
            role: pb::RunnerRole::Admin as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let left = api
        .list_runner_policies(pb::ListRunnerPoliciesRequest {
            runner_id: runner_id.clone(),
            pagination: None,
        })
        .await
        .unwrap()
        .into_inner()
        .policies;
    assert_eq!(left.len(), 4);
    assert!(left.contains(&pb::RunnerPolicy {
        group_id: groups[1].clone(),
        role: pb::RunnerRole::Admin as i32
    }));

    // deleting the runner takes its policies along
    api.delete_runner(pb::DeleteRunnerRequest {
        runner_id: runner_id.clone(),
        force: true,
    })
    .await
    .unwrap();
    let backend = server.state.db.get_database_backend();
    let count = server
        .state
        .db
        .query_one(Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM runner_policies",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(count, 0);
    server.stop().await;
}

protocol_tests!(
    writes_racing_a_delete_answer_not_found_never_internal,
    flavor = "multi_thread",
    worker_threads = 2
);
async fn writes_racing_a_delete_answer_not_found_never_internal(protocol: Protocol) {
    let server = TestServer::start().await;
    let client = server.runners(protocol, &server.admin.token).await;
    let group = server
        .group(server.admin.organization_id, "racers", &[])
        .await
        .to_string();
    for round in 0..30 {
        let mut c = client.clone();
        let id = c
            .create_runner(linux_runner(&format!("racer {round}")))
            .await
            .unwrap()
            .into_inner()
            .runner
            .unwrap()
            .runner_id;
        let (mut a, mut b, mut d, mut e) = (c.clone(), c.clone(), c.clone(), c.clone());
        let (i1, i2, i3, i4) = (id.clone(), id.clone(), id.clone(), id.clone());
        let group = group.clone();
        // tasks of this thread: a boxed test transport's calls cannot prove
        // Send; the server still runs them on its worker threads
        let tasks = tokio::task::LocalSet::new();
        let calls = [
            tasks.spawn_local(async move {
                a.update_runner(pb::UpdateRunnerRequest {
                    runner_id: i1,
                    name: Some("renamed".into()),
                    spec: None,
                })
                .await
                .map(|_| ())
            }),
            tasks.spawn_local(async move {
                b.create_runner_token(pb::CreateRunnerTokenRequest { runner_id: i2 })
                    .await
                    .map(|_| ())
            }),
            tasks.spawn_local(async move {
                d.create_runner_policy(pb::CreateRunnerPolicyRequest {
                    runner_id: i3,
                    group_id: group,
                    role: 1,
                })
                .await
                .map(|_| ())
            }),
            tasks.spawn_local(async move {
                e.delete_runner(pb::DeleteRunnerRequest {
                    runner_id: i4,
                    force: true,
                })
                .await
                .map(|_| ())
            }),
        ];
        tasks
            .run_until(async {
                for call in calls {
                    if let Err(status) = call.await.unwrap() {
                        assert!(
                            matches!(status.code(), Code::NotFound | Code::Aborted),
                            "round {round}: {:?} {}",
                            status.code(),
                            status.message()
                        );
                    }
                }
            })
            .await;
    }
    server.stop().await;
}
