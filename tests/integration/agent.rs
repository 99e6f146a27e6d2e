//! `paddock agent` as a real child process against a real server: it comes
//! alive, goes INACTIVE when killed, resumes the same runner from its state
//! file, honours deletion, and waits out a server that is not there yet.

use std::time::Duration;

use crate::harness::*;
use crate::processes::*;

/// A server whose leases run out fast: 500 ms lease, 500 ms grace.
async fn quick_server() -> TestServer {
    TestServer::start_with(|s| {
        s.runner_lease = Duration::from_millis(500);
        s.runner_lease_grace = Duration::from_millis(500);
    })
    .await
}

async fn created_runner(server: &TestServer, name: &str) -> (String, String) {
    let created = server
        .runners(Protocol::Grpc, &server.admin.token)
        .await
        .create_runner(linux_runner(name))
        .await
        .unwrap()
        .into_inner();
    (created.runner.unwrap().runner_id, created.exchange_token)
}

async fn wait_for_phase(server: &TestServer, runner_id: &str, phase: pb::RunnerPhase) -> pb::RunnerStatus {
    eventually(Duration::from_secs(15), &format!("runner {phase:?}"), async || {
        let (now, status) = phase_of(server, Protocol::Grpc, runner_id).await;
        (now == phase as i32).then_some(status)
    })
    .await
}

async fn runner_count(server: &TestServer) -> usize {
    server
        .runners(Protocol::Grpc, &server.admin.token)
        .await
        .list_runners(pb::ListRunnersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .runners
        .len()
}

fn sigkill(child: &mut std::process::Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn the_agent_comes_alive_dies_and_resumes_the_same_runner() {
    let server = quick_server().await;
    let (runner_id, exchange_token) = created_runner(&server, "agent-host").await;
    assert_eq!(
        phase_of(&server, Protocol::Grpc, &runner_id).await.0,
        pb::RunnerPhase::Created as i32
    );
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("agent.json");

    let (mut agent, log) = spawn_agent(
        &server.url(),
        Some(&exchange_token),
        &state_file,
        &["--environment-class", "small,large"],
    );
    let status = wait_for_phase(&server, &runner_id, pb::RunnerPhase::Active).await;
    // it signed up and reported what it is (the status report may trail Signup)
    let status = if status.version.is_empty() {
        eventually(Duration::from_secs(10), "the status report", async || {
            let (_, status) = phase_of(&server, Protocol::Grpc, &runner_id).await;
            (!status.version.is_empty()).then_some(status)
        })
        .await
    } else {
        status
    };
    assert_eq!(status.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(status.region, "eu-test-1");
    assert!(
        status.system_details.contains(std::env::consts::OS),
        "{}",
        status.system_details
    );
    let classes = server
        .configuration(Protocol::Grpc, &server.admin.token)
        .await
        .list_environment_classes(pb::ListEnvironmentClassesRequest {
            filter: Some(pb::list_environment_classes_request::Filter {
                runner_ids: vec![runner_id.clone()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .environment_classes;
    let mut names: Vec<_> = classes.iter().map(|c| c.display_name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["large", "small"]);

    // the state file holds its secrets, for its owner only
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&state_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // SIGKILL: no goodbye; the lease runs out (500 + 500 ms, sweeps every 166 ms)
    sigkill(&mut agent);
    let killed_at = std::time::Instant::now();
    let status = wait_for_phase(&server, &runner_id, pb::RunnerPhase::Inactive).await;
    assert!(
        killed_at.elapsed() < Duration::from_secs(5),
        "{:?}",
        killed_at.elapsed()
    );
    assert!(status.message.starts_with("no heartbeat since"), "{}", status.message);

    // the same state file (and the spent exchange token still on the command
    // line, as a restart loop would pass it) resumes the same runner
    let (mut agent, log_again) = spawn_agent(&server.url(), Some(&exchange_token), &state_file, &[]);
    let status = wait_for_phase(&server, &runner_id, pb::RunnerPhase::Active).await;
    assert_eq!(status.message, "paddock agent test-agent running");
    assert_eq!(runner_count(&server).await, 1, "no second runner");
    let text = log_text(&log_again);
    assert!(text.contains("resuming the runner"), "{text}");
    assert!(!text.contains("exchange token was refused"), "{text}");
    assert!(!log_text(&log).contains(&exchange_token), "the token is never logged");
    sigkill(&mut agent);
    server.stop().await;
}

#[tokio::test]
async fn the_agent_honours_deletion_reports_deleted_and_exits_0() {
    let server = quick_server().await;
    let (runner_id, exchange_token) = created_runner(&server, "leaving-host").await;
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("agent.json");
    let (agent, log) = spawn_agent(&server.url(), Some(&exchange_token), &state_file, &[]);
    wait_for_phase(&server, &runner_id, pb::RunnerPhase::Active).await;

    let deleted = server
        .runners(Protocol::Grpc, &server.admin.token)
        .await
        .delete_runner(pb::DeleteRunnerRequest {
            runner_id: runner_id.clone(),
            force: false,
        })
        .await;
    deleted.unwrap();
    let exit = exit_of(agent, Duration::from_secs(15)).await;
    assert!(
        exit.success(),
        "the agent exits 0 once deleted: {exit:?}\n{}",
        log_text(&log)
    );
    let gone = server
        .runners(Protocol::Grpc, &server.admin.token)
        .await
        .get_runner(pb::GetRunnerRequest { runner_id })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound);
    assert!(!state_file.exists(), "the state of a deleted runner is removed");
    server.stop().await;
}

#[tokio::test]
async fn the_agent_waits_for_a_server_that_is_not_there_yet() {
    // a free port, then the agent, then the server on that port
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("agent.json");
    let server = TestServer::start_with(|s| {
        s.listen = ([127, 0, 0, 1], port).into();
        s.runner_lease = Duration::from_millis(500);
        s.runner_lease_grace = Duration::from_millis(500);
    })
    .await;
    let (runner_id, exchange_token) = created_runner(&server, "patient-host").await;
    let (db, key, admin) = server.stop().await;

    let (mut agent, log) = spawn_agent(&url, Some(&exchange_token), &state_file, &["--retry-max", "500ms"]);
    eventually(Duration::from_secs(10), "the agent retrying", async || {
        log_text(&log).contains("retrying").then_some(())
    })
    .await;
    assert!(agent.try_wait().unwrap().is_none(), "it keeps trying");

    let server = TestServer::start_configured(db, key, Some(admin), |s| {
        s.listen = ([127, 0, 0, 1], port).into();
        s.runner_lease = Duration::from_millis(500);
        s.runner_lease_grace = Duration::from_millis(500);
    })
    .await;
    wait_for_phase(&server, &runner_id, pb::RunnerPhase::Active).await;
    sigkill(&mut agent);
    server.stop().await;
}

#[tokio::test]
async fn an_agent_without_state_and_with_a_spent_token_says_what_to_do() {
    let server = quick_server().await;
    let (_, exchange_token) = created_runner(&server, "spent-host").await;
    server
        .identity(Protocol::Grpc, None)
        .await
        .exchange_token(pb::ExchangeTokenRequest {
            exchange_token: exchange_token.clone(),
        })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (agent, log) = spawn_agent(
        &server.url(),
        Some(&exchange_token),
        &dir.path().join("agent.json"),
        &[],
    );
    let exit = exit_of(agent, Duration::from_secs(15)).await;
    assert!(!exit.success());
    let text = eventually(Duration::from_secs(5), "the reason in the log", async || {
        let text = log_text(&log);
        text.contains("CreateRunnerToken").then_some(text)
    })
    .await;
    assert!(!text.contains(&exchange_token), "the token is never logged: {text}");

    // and one with neither state nor token
    let (agent, log) = spawn_agent(&server.url(), None, &dir.path().join("none.json"), &[]);
    assert!(!exit_of(agent, Duration::from_secs(15)).await.success());
    eventually(Duration::from_secs(5), "the reason in the log", async || {
        log_text(&log).contains("--exchange-token").then_some(())
    })
    .await;
    server.stop().await;
}
