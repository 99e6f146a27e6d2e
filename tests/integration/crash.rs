//! A paddock process killed mid-burst loses no write it acknowledged and
//! leaves none half-made; one told to stop finishes the calls it holds.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::harness::*;
use crate::processes::{bearer, channel, exit_of, spawn_serve_logged};

const ADMIN: &str = "crash-test-admin-token";

fn authed(
    channel: Channel,
    token: &str,
) -> InterceptedService<Channel, impl tonic::service::Interceptor + Clone + use<>> {
    InterceptedService::new(channel, bearer(token))
}

/// What the burst was told succeeded, and what it sent without an answer.
#[derive(Default)]
struct Ledger {
    /// Each runner's last acknowledged name, and a rename sent without an answer.
    names: HashMap<String, (String, Option<String>)>,
    /// Runners whose deletion was acknowledged, or sent without an answer.
    deleted: HashSet<String>,
    deleting: HashSet<String>,
    /// Acknowledged policies (runner, group).
    policies: Vec<(String, String)>,
    /// Acknowledged personal access tokens (plaintext).
    tokens: Vec<String>,
    acknowledged: usize,
}

/// One writer: create, rename, grant, sometimes delete, mint a token, again
/// until the server goes away.
async fn writer(url: String, group: String, worker: usize, ledger: Arc<Mutex<Ledger>>, stop: Arc<AtomicBool>) {
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(url) else {
        return;
    };
    let Ok(channel) = endpoint.connect().await else { return };
    let mut runners = pb::runner_service_client::RunnerServiceClient::new(authed(channel.clone(), ADMIN));
    let mut users = pb::user_service_client::UserServiceClient::new(authed(channel, ADMIN));
    let admin_id = match users.get_authenticated_user(pb::GetAuthenticatedUserRequest {}).await {
        Ok(r) => r.into_inner().user.map(|u| u.id).unwrap_or_default(),
        Err(_) => return,
    };
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let name = format!("w{worker}-{n}");
        let Ok(created) = runners.create_runner(linux_runner(&name)).await else {
            return;
        };
        let id = created.into_inner().runner.map(|r| r.runner_id).unwrap_or_default();
        {
            let mut l = ledger.lock().unwrap();
            l.names.insert(id.clone(), (name.clone(), None));
            l.acknowledged += 1;
        }

        let renamed = format!("{name}-renamed");
        ledger.lock().unwrap().names.get_mut(&id).unwrap().1 = Some(renamed.clone());
        let update = pb::UpdateRunnerRequest {
            runner_id: id.clone(),
            name: Some(renamed.clone()),
            spec: None,
        };
        if runners.update_runner(update).await.is_err() {
            return;
        }
        {
            let mut l = ledger.lock().unwrap();
            *l.names.get_mut(&id).unwrap() = (renamed, None);
            l.acknowledged += 1;
        }

        let policy = pb::CreateRunnerPolicyRequest {
            runner_id: id.clone(),
            group_id: group.clone(),
            role: pb::RunnerRole::User as i32,
        };
        if runners.create_runner_policy(policy).await.is_err() {
            return;
        }
        {
            let mut l = ledger.lock().unwrap();
            l.policies.push((id.clone(), group.clone()));
            l.acknowledged += 1;
        }

        if n % 3 == 0 {
            ledger.lock().unwrap().deleting.insert(id.clone());
            let delete = pb::DeleteRunnerRequest {
                runner_id: id.clone(),
                force: true,
            };
            if runners.delete_runner(delete).await.is_err() {
                return;
            }
            let mut l = ledger.lock().unwrap();
            l.deleted.insert(id.clone());
            l.acknowledged += 1;
        }

        let mint = pb::CreatePersonalAccessTokenRequest {
            user_id: admin_id.clone(),
            description: format!("{name} token"),
            valid_for: None,
            read_only: false,
        };
        let Ok(minted) = users.create_personal_access_token(mint).await else {
            return;
        };
        let mut l = ledger.lock().unwrap();
        l.tokens.push(minted.into_inner().token);
        l.acknowledged += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_burst_keeps_every_acknowledged_write() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let (mut first, url, _) = spawn_serve_logged(dir.path(), &db.url, ADMIN, &[]);
    let mut groups = pb::group_service_client::GroupServiceClient::new(authed(channel(&url).await, ADMIN));
    let identity = pb::identity_service_client::IdentityServiceClient::new(authed(channel(&url).await, ADMIN))
        .get_authenticated_identity(pb::GetAuthenticatedIdentityRequest {})
        .await
        .unwrap()
        .into_inner();
    let group = groups
        .create_group(pb::CreateGroupRequest {
            organization_id: identity.organization_id,
            name: "burst".into(),
            description: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap()
        .id;

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|w| tokio::spawn(writer(url.clone(), group.clone(), w, ledger.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.kill().expect("SIGKILL");
    first.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }

    let (second, url, _) = spawn_serve_logged(dir.path(), &db.url, ADMIN, &[]);
    let ledger = Arc::try_unwrap(ledger).ok().unwrap().into_inner().unwrap();
    assert!(
        ledger.acknowledged > 50,
        "a burst worth the name: {}",
        ledger.acknowledged
    );
    let mut runners = pb::runner_service_client::RunnerServiceClient::new(authed(channel(&url).await, ADMIN));
    let mut lost = Vec::new();

    for (id, (acknowledged, pending)) in &ledger.names {
        let got = runners.get_runner(pb::GetRunnerRequest { runner_id: id.clone() }).await;
        match got {
            Ok(runner) if !ledger.deleted.contains(id) => {
                let name = runner.into_inner().runner.unwrap().name;
                if name != *acknowledged && Some(&name) != pending.as_ref() {
                    lost.push(format!("{id}: named {name:?}, acknowledged {acknowledged:?}"));
                }
            }
            Ok(_) => lost.push(format!("{id}: its deletion was acknowledged, yet it is there")),
            Err(status) if status.code() == Code::NotFound => {
                if !ledger.deleting.contains(id) {
                    lost.push(format!("{id}: acknowledged, gone"));
                }
            }
            Err(status) => panic!("{status:?}"),
        }
    }
    let policies = |runner_id: String| {
        let mut runners = runners.clone();
        async move {
            runners
                .list_runner_policies(pb::ListRunnerPoliciesRequest {
                    runner_id,
                    pagination: None,
                })
                .await
                .map(|r| r.into_inner().policies)
                .unwrap_or_default()
        }
    };
    for (runner_id, group_id) in &ledger.policies {
        if ledger.deleting.contains(runner_id) {
            continue;
        }
        if !policies(runner_id.clone())
            .await
            .iter()
            .any(|p| &p.group_id == group_id)
        {
            lost.push(format!("the policy of {group_id} on {runner_id}"));
        }
    }
    for token in &ledger.tokens {
        let mut identity = pb::identity_service_client::IdentityServiceClient::new(authed(channel(&url).await, token));
        if identity
            .get_authenticated_identity(pb::GetAuthenticatedIdentityRequest {})
            .await
            .is_err()
        {
            lost.push("an acknowledged personal access token no longer authenticates".into());
        }
    }
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost:\n{}",
        lost.len(),
        lost.join("\n")
    );

    // nothing half-made: every runner there is whole, and its creation is in
    // the audit log (a change and its entry commit together)
    let mut events = pb::event_service_client::EventServiceClient::new(authed(channel(&url).await, ADMIN));
    let mut page = String::new();
    let mut seen = 0;
    loop {
        let listed = runners
            .list_runners(pb::ListRunnersRequest {
                pagination: Some(pb::PaginationRequest {
                    token: page.clone(),
                    page_size: 100,
                }),
                filter: None,
            })
            .await
            .unwrap()
            .into_inner();
        for runner in &listed.runners {
            seen += 1;
            assert!(runner.spec.is_some() && runner.status.is_some(), "{runner:?}");
            let audit = events
                .list_audit_logs(pb::ListAuditLogsRequest {
                    filter: Some(pb::list_audit_logs_request::Filter {
                        subject_ids: vec![runner.runner_id.clone()],
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert!(
                audit.entries.iter().any(|e| e.action == "runner.create"),
                "{} has no creation in the audit log",
                runner.runner_id
            );
        }
        page = listed.pagination.map(|p| p.next_token).unwrap_or_default();
        if page.is_empty() {
            break;
        }
    }
    eprintln!(
        "killed mid-burst: {} writes acknowledged, none lost; {seen} runners whole after the restart",
        ledger.acknowledged
    );
    crate::processes::terminate(second).await;
}

/// An SCM API that answers every request after `delay`, with an empty list.
async fn slow_scm(delay: Duration) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                tokio::time::sleep(delay).await;
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]")
                    .await;
            });
        }
    });
    address
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_told_to_stop_finishes_its_calls_and_refuses_new_ones() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let scm = slow_scm(Duration::from_millis(1500)).await;
    let api = format!("git.example.com=http://{scm}/api/v4");
    let (child, url, log) = spawn_serve_logged(dir.path(), &db.url, ADMIN, &["--scm-api-url", &api]);
    let mut runners = pb::runner_service_client::RunnerServiceClient::new(authed(channel(&url).await, ADMIN));
    let runner_id = runners
        .create_runner(linux_runner("slow"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    let mut configuration = pb::runner_configuration_service_client::RunnerConfigurationServiceClient::new(authed(
        channel(&url).await,
        ADMIN,
    ));
    let (integration, host_token) = gitlab_access(&runner_id, "git.example.com");
    configuration.create_scm_integration(integration).await.unwrap();
    configuration
        .create_host_authentication_token(host_token)
        .await
        .unwrap();

    // four slow calls in flight, on connections of their own
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut runners = pb::runner_service_client::RunnerServiceClient::new(authed(channel(&url).await, ADMIN));
        let request = pb::SearchRepositoriesRequest {
            runner_id: runner_id.clone(),
            scm_host: "git.example.com".into(),
            search_string: "x".into(),
            ..Default::default()
        };
        slow.push(tokio::spawn(async move { runners.search_repositories(request).await }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let signalled = std::time::Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(200)).await;

    // new calls are refused: the port no longer takes connections
    let refused = tonic::transport::Endpoint::from_shared(url.clone())
        .unwrap()
        .connect_timeout(Duration::from_secs(1))
        .connect()
        .await;
    assert!(refused.is_err(), "a new connection after SIGTERM");
    // ... and the calls in flight finish with their answers
    for call in slow {
        let answered = call.await.unwrap().expect("a call in flight at SIGTERM finishes");
        assert!(answered.into_inner().repositories.is_empty());
    }
    let exit = exit_of(child, Duration::from_secs(10)).await;
    assert!(exit.success(), "{exit:?}");
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(5), "exit {took:?} after SIGTERM");
    let log = crate::processes::log_text(&log);
    assert!(log.contains("shutting down"), "{log}");
}
