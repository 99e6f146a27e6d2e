//! The paddock binary as a user runs it: the admin CLI and `paddock serve`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::harness::*;

const BIN: &str = env!("CARGO_BIN_EXE_paddock");

fn run_json(args: &[&str]) -> serde_json::Value {
    let output = Command::new(BIN).args(args).output().expect("running paddock");
    assert!(
        output.status.success(),
        "paddock {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout:?}");
    serde_json::from_str(&stdout).expect("JSON on stdout")
}

#[tokio::test]
async fn admin_cli_creates_users_groups_and_memberships() {
    let db = TestDb::new().await;
    // --database-url is global: before or after the subcommand
    let user = run_json(&[
        "--database-url",
        &db.url,
        "admin",
        "user",
        "create",
        "--name",
        "ada",
        "--org-admin",
    ]);
    let user_id = user["user_id"].as_str().unwrap();
    assert!(paddock::validate::is_uuid(user_id));
    assert!(user["token"].as_str().unwrap().starts_with("pdk_pat_"));
    let group = run_json(&[
        "admin",
        "group",
        "create",
        "--name",
        "platform",
        "--database-url",
        &db.url,
    ]);
    let group_id = group["group_id"].as_str().unwrap();
    assert!(paddock::validate::is_uuid(group_id));
    let added = run_json(&[
        "admin",
        "--database-url",
        &db.url,
        "group",
        "add-member",
        "--group",
        group_id,
        "--user",
        user_id,
    ]);
    assert_eq!(added, serde_json::json!({}));

    let missing = Command::new(BIN)
        .args([
            "--database-url",
            &db.url,
            "admin",
            "group",
            "add-member",
            "--group",
            user_id,
            "--user",
            user_id,
        ])
        .output()
        .unwrap();
    assert!(!missing.status.success(), "an unknown group is an error");
}

/// `paddock serve` on an ephemeral port; returns the child and its address.
fn spawn_serve(dir: &std::path::Path, database_url: &str, admin_token: &str) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", database_url])
        .current_dir(dir)
        .env("PADDOCK_ADMIN_TOKEN", admin_token)
        .env_remove("DATABASE_URL")
        .env_remove("PADDOCK_SECRET_KEY_FILE")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawning paddock serve");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("paddock exited before serving").unwrap();
        if let Some(rest) = line.split("listen=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // keep draining the log so the child never blocks on a full pipe
    std::thread::spawn(move || for _ in lines {});
    (child, format!("http://{addr}"))
}

/// SIGTERM, then wait for a clean exit (off the runtime, which must keep
/// serving the client side of open connections meanwhile).
async fn terminate(mut child: Child) {
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

#[tokio::test]
async fn serve_bootstraps_the_admin_token_and_keeps_data_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new().await;
    let admin_token = "bootstrap-admin-token-for-tests";

    let (child, url) = spawn_serve(dir.path(), &db.url, admin_token);
    let channel = tonic::transport::Endpoint::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let auth = |req: tonic::Request<()>| -> Result<tonic::Request<()>, tonic::Status> {
        let mut req = req;
        req.metadata_mut()
            .insert("authorization", format!("Bearer {admin_token}").parse().unwrap());
        Ok(req)
    };
    let mut identity = IdentityServiceClient::with_interceptor(channel.clone(), auth);
    let me = identity
        .get_authenticated_identity(pb::GetAuthenticatedIdentityRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.subject.unwrap().principal, pb::Principal::User as i32);
    let mut runners = RunnerServiceClient::with_interceptor(channel, auth);
    let created = runners
        .create_runner(linux_runner("survivor"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap();
    terminate(child).await;

    if !using_postgres() {
        let key = dir.path().join("paddock.db.key");
        let key = if key.exists() {
            key
        } else {
            std::path::PathBuf::from(format!("{}.key", db.url.trim_start_matches("sqlite://")))
        };
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600, "the generated key file is private");
    }

    // same database, same admin token: everything is still there
    let (child, url) = spawn_serve(dir.path(), &db.url, admin_token);
    let channel = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut runners = RunnerServiceClient::with_interceptor(channel, auth);
    let listed = runners
        .list_runners(pb::ListRunnersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .runners;
    assert_eq!(listed, vec![created]);
    terminate(child).await;
}
