//! paddock as child processes: `paddock serve` on an ephemeral port with its
//! log kept, and `paddock agent`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_paddock");

/// `paddock serve` on an ephemeral port; returns the child and its address.
pub fn spawn_serve(dir: &std::path::Path, database_url: &str, admin_token: &str) -> (Child, String) {
    let (child, url, _log) = spawn_serve_logged(dir, database_url, admin_token, &[]);
    (child, url)
}

pub type Log = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// Like `spawn_serve`, keeping every log line; `extra` are more serve flags.
pub fn spawn_serve_logged(
    dir: &std::path::Path,
    database_url: &str,
    admin_token: &str,
    extra: &[&str],
) -> (Child, String, Log) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", database_url])
        .args(extra)
        .current_dir(dir)
        .env("PADDOCK_ADMIN_TOKEN", admin_token)
        .env("PADDOCK_LOG", "debug")
        .env_remove("DATABASE_URL")
        .env_remove("PADDOCK_SECRET_KEY_FILE")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawning paddock serve");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let log = Log::default();
    let addr = loop {
        let line = lines.next().expect("paddock exited before serving").unwrap();
        crate::hygiene::log_line(&line);
        log.lock().unwrap().push(line.clone());
        if let Some(rest) = line.split("listen=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // keep draining the log so the child never blocks on a full pipe
    let keep = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            crate::hygiene::log_line(&line);
            keep.lock().unwrap().push(line);
        }
    });
    (child, format!("http://{addr}"), log)
}

/// SIGTERM, then wait for a clean exit (off the runtime, which must keep
/// serving the client side of open connections meanwhile).
pub async fn terminate(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "paddock exits cleanly on SIGTERM: {exit:?}");
}

/// `paddock agent` against `server`, its log kept. `exchange_token` None
/// starts it from its state file alone.
pub fn spawn_agent(
    server: &str,
    exchange_token: Option<&str>,
    state_file: &std::path::Path,
    extra: &[&str],
) -> (Child, Log) {
    let mut command = Command::new(BIN);
    command
        .args(["agent", "--server", server, "--state-file"])
        .arg(state_file)
        .args(["--name", "test-agent", "--region", "eu-test-1"])
        .args(extra)
        .env("PADDOCK_LOG", "info")
        .env_remove("PADDOCK_AGENT_EXCHANGE_TOKEN")
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    if let Some(token) = exchange_token {
        command.args(["--exchange-token", token]);
    }
    let mut child = command.spawn().expect("spawning paddock agent");
    let log = Log::default();
    let keep = log.clone();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            crate::hygiene::log_line(&line);
            keep.lock().unwrap().push(line);
        }
    });
    (child, log)
}

/// The log so far, one string.
pub fn log_text(log: &Log) -> String {
    log.lock().unwrap().join("\n")
}

/// Waits for a child to exit (off the runtime), at most `within`.
pub async fn exit_of(mut child: Child, within: std::time::Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not exit within {within:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A gRPC channel to a spawned server.
pub async fn channel(url: &str) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// An interceptor sending `token` as the bearer.
pub fn bearer(token: &str) -> impl tonic::service::Interceptor + Clone + use<> {
    let header: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
    move |mut req: tonic::Request<()>| {
        req.metadata_mut().insert("authorization", header.clone());
        Ok(req)
    }
}

/// Log lines at WARN or ERROR.
pub fn complaints(log: &Log) -> Vec<String> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|line| line.contains(" WARN ") || line.contains(" ERROR "))
        .cloned()
        .collect()
}
