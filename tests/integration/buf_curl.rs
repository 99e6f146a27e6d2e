//! `buf curl` with its defaults against the real server: the Connect
//! protocol, the schema read by reflection over a Connect bidi stream.
//!
//! The buf CLI is the npm package pinned in tests/buf/package.json, installed
//! by scripts/ensure-buf (or taken from PADDOCK_BUF). When it cannot be had,
//! the tests are skipped with a message, unless PADDOCK_REQUIRE_COMPAT=1 (as
//! in CI and `make compat`) makes them fail.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::harness::*;

/// How long one buf curl may take before it counts as hung.
const BUF_TIMEOUT: Duration = Duration::from_secs(60);

fn install() -> Result<PathBuf, String> {
    if let Ok(path) = std::env::var("PADDOCK_BUF") {
        return Ok(path.into());
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/ensure-buf");
    let output = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!("{} failed: {}", script.display(), output.status));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
}

/// The buf binary, installed once for every test of the run.
fn buf() -> Option<PathBuf> {
    static BUF: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUF.get_or_init(install) {
        Ok(path) => Some(path.clone()),
        Err(problem) => {
            let required = std::env::var("PADDOCK_REQUIRE_COMPAT").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "PADDOCK_REQUIRE_COMPAT=1 but the buf CLI is not available: {problem}"
            );
            eprintln!(
                "SKIPPED buf curl test: the buf CLI is not available ({problem}); \
                 CI and `make compat` run it with PADDOCK_REQUIRE_COMPAT=1"
            );
            None
        }
    }
}

/// Runs buf with `args` off the test's runtime (the server runs on it),
/// killing it if it hangs.
async fn run(buf: PathBuf, args: Vec<String>) -> Output {
    let shown = args.join(" ");
    tokio::task::spawn_blocking(move || {
        let child = Command::new(&buf)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", buf.display()));
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(BUF_TIMEOUT) {
            Ok(output) => output.expect("buf's output"),
            Err(_) => {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
                panic!("buf {shown}: no answer within {BUF_TIMEOUT:?}");
            }
        }
    })
    .await
    .expect("the buf task")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn stdout(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what}: {}\nstderr: {}\nstdout: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn buf_curl_lists_the_services_with_its_defaults() {
    let Some(buf) = buf() else { return };
    let server = TestServer::start().await;
    let url = server.url();
    // over h2c, and over HTTP/1.1 (buf's default for http:// URLs)
    for transport in [&["--http2-prior-knowledge"][..], &[]] {
        let mut command = args(&["curl"]);
        command.extend(args(transport));
        command.extend(args(&["--list-services", &url]));
        let listed = stdout(
            &run(buf.clone(), command).await,
            &format!("buf curl {transport:?} --list-services"),
        );
        let services: Vec<&str> = listed.lines().collect();
        for expected in [
            "gitpod.v1.RunnerService",
            "gitpod.v1.RunnerConfigurationService",
            "gitpod.v1.IdentityService",
            "gitpod.v1.RunnerInteractionService",
            "grpc.health.v1.Health",
        ] {
            assert!(services.contains(&expected), "{transport:?}: {listed}");
        }
    }
}

#[tokio::test]
async fn buf_curl_calls_by_name_with_its_defaults() {
    let Some(buf) = buf() else { return };
    let server = TestServer::start().await;
    let created = server
        .runners(Protocol::Grpc, &server.admin.token)
        .await
        .create_runner(linux_runner("curled"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap();
    let url = format!("{}/gitpod.v1.RunnerService/GetRunner", server.url());
    let request = serde_json::json!({"runnerId": created.runner_id}).to_string();
    let bearer = format!("Authorization: Bearer {}", server.admin.token);

    let output = run(
        buf.clone(),
        args(&["curl", "--http2-prior-knowledge", "-H", &bearer, "-d", &request, &url]),
    )
    .await;
    let answer: serde_json::Value =
        serde_json::from_str(&stdout(&output, "buf curl GetRunner")).expect("buf curl prints the answer as JSON");
    assert_eq!(answer["runner"]["runnerId"], created.runner_id.as_str());
    assert_eq!(answer["runner"]["name"], "curled");
    assert_eq!(answer["runner"]["provider"], "RUNNER_PROVIDER_LINUX_HOST");

    // without a token: the Connect error, as buf prints it
    let refused = run(buf, args(&["curl", "--http2-prior-knowledge", "-d", &request, &url])).await;
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("\"unauthenticated\""), "{said}");
}
