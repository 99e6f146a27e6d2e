//! The paddock binary as a user runs it: the admin CLI and `paddock serve`.

use std::process::Command;

use crate::harness::*;
use crate::processes::*;

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
    assert!(paddock::api::validate::is_uuid(user_id));
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
    assert!(paddock::api::validate::is_uuid(group_id));
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

/// Every secret the API takes, in plaintext, as a test sends them.
const SECRETS: &[&str] = &[
    "honeycomb-key-e5f1c2",
    "metrics-password-7a9d",
    "oauth-client-secret-3b8e",
    "ghp_host-token-9c2f41",
    "ghr_refresh-token-d77a",
    "sk-llm-api-key-51be0c",
];

fn bearer(token: &str) -> impl Fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone {
    let value: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
    move |mut req: tonic::Request<()>| {
        req.metadata_mut().insert("authorization", value.clone());
        Ok(req)
    }
}

/// Stores every kind of secret through the API; returns the SCM integration id.
async fn store_every_secret(url: &str, admin_token: &str) -> String {
    use pb::runner_configuration_service_client::RunnerConfigurationServiceClient as ConfigClient;
    use pb::update_runner_request as u;
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut runners = RunnerServiceClient::with_interceptor(channel.clone(), bearer(admin_token));
    let mut config = ConfigClient::with_interceptor(channel, bearer(admin_token));
    let runner_id = runners
        .create_runner(linux_runner("secretive"))
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap()
        .runner_id;
    runners
        .update_runner(pb::UpdateRunnerRequest {
            runner_id: runner_id.clone(),
            name: None,
            spec: Some(u::Spec {
                desired_phase: None,
                configuration: Some(u::RunnerConfiguration {
                    honeycomb_api_key: Some(SECRETS[0].into()),
                    metrics: Some(u::MetricsConfiguration {
                        password: Some(SECRETS[1].into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }),
        })
        .await
        .unwrap();
    let scm_id = config
        .create_scm_integration(pb::CreateScmIntegrationRequest {
            runner_id: runner_id.clone(),
            scm_id: "github".into(),
            host: "github.com".into(),
            oauth_client_id: Some("client".into()),
            oauth_plaintext_client_secret: Some(SECRETS[2].into()),
            pat: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .id;
    config
        .create_host_authentication_token(pb::CreateHostAuthenticationTokenRequest {
            runner_id: runner_id.clone(),
            host: "github.com".into(),
            token: SECRETS[3].into(),
            refresh_token: SECRETS[4].into(),
            source: pb::HostAuthenticationTokenSource::Oauth as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    config
        .create_llm_integration(pb::CreateLlmIntegrationRequest {
            runner_id,
            models: vec![pb::SupportedModel::Sonnet45 as i32],
            endpoint: "https://llm.example.com".into(),
            api_key: SECRETS[5].into(),
            max_tokens: 1000,
        })
        .await
        .unwrap();
    scm_id
}

/// Every row of every table, as text.
async fn dump_database(url: &str) -> String {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(url).await.unwrap();
    let backend = db.get_database_backend();
    let tables_sql = if using_postgres() {
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table'"
    };
    let tables = db.query_all(Statement::from_string(backend, tables_sql)).await.unwrap();
    let mut dump = String::new();
    for table in tables {
        let name: String = table.try_get("", "name").unwrap();
        let rows = db
            .query_all(Statement::from_string(backend, format!("SELECT * FROM \"{name}\"")))
            .await
            .unwrap();
        dump.push_str(&format!("{name}: {rows:?}\n"));
    }
    db.close().await.ok();
    dump
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_never_stored_or_logged_in_plaintext_and_need_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new().await;
    let admin_token = "admin-token-for-the-secrets-test";
    let (child, url, log) = spawn_serve_logged(dir.path(), &db.url, admin_token, &[]);
    let scm_id = store_every_secret(&url, admin_token).await;
    terminate(child).await;

    // not in the log (at debug level), not in any row, not in any file of the database
    let log = log.lock().unwrap().join("\n");
    assert!(log.contains("CreateLLMIntegration"), "the log covers the calls");
    let dump = dump_database(&db.url).await;
    assert!(dump.contains("scm_integrations"), "the dump covers the tables");
    // the SQLite file, its WAL and its key file's neighbours; the working directory
    let mut dirs = vec![dir.path().to_path_buf()];
    if !using_postgres() {
        let db_file = std::path::PathBuf::from(db.url.trim_start_matches("sqlite://"));
        dirs.push(db_file.parent().unwrap().to_path_buf());
    }
    let mut files = Vec::new();
    for d in &dirs {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    if !using_postgres() {
        assert!(
            files.iter().any(|(name, _)| name.ends_with("paddock.db")),
            "the database file is scanned"
        );
    }
    for secret in SECRETS.iter().chain([&admin_token]) {
        assert!(!log.contains(secret), "{secret} in the log");
        if *secret != admin_token {
            assert!(!dump.contains(secret), "{secret} in the database");
        }
        for (name, bytes) in &files {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in {name}"
            );
        }
    }

    // restarted with the same key, the sealed secrets still open
    let key_file = if using_postgres() {
        dir.path().join("paddock.key")
    } else {
        std::path::PathBuf::from(format!("{}.key", db.url.trim_start_matches("sqlite://")))
    };
    let secrets = paddock::base::secrets::Secrets::new(&paddock::base::secrets::SecretKey::read(&key_file).unwrap());
    let (child, url, _) = spawn_serve_logged(dir.path(), &db.url, admin_token, &[]);
    let channel = tonic::transport::Endpoint::from_shared(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut config = pb::runner_configuration_service_client::RunnerConfigurationServiceClient::with_interceptor(
        channel,
        bearer(admin_token),
    );
    let integration = config
        .get_scm_integration(pb::GetScmIntegrationRequest { id: scm_id })
        .await
        .unwrap()
        .into_inner();
    let sealed = integration.integration.unwrap().oauth.unwrap().encrypted_client_secret;
    assert_eq!(
        secrets.open("scm_integration.oauth_client_secret", &sealed).unwrap(),
        SECRETS[2].as_bytes()
    );
    drop(config);
    terminate(child).await;

    // with another key, paddock refuses to start and says why
    let other_key = dir.path().join("other.key");
    std::fs::write(&other_key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    let refused = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db.url,
            "--secret-key-file",
        ])
        .arg(&other_key)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("secret key does not match"), "{stderr}");
}

/// What `paddock serve` says when it cannot start: one line on stderr that
/// names the problem and what to do — no backtrace, no "Caused by" list.
fn refusal(args: &[&str], envs: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(args)
        .envs(envs.iter().copied())
        .env("RUST_BACKTRACE", "1")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success(), "{args:?} started");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.contains(" INFO ")).collect();
    assert_eq!(lines.len(), 1, "one sentence: {stderr}");
    assert!(lines[0].starts_with("paddock: "), "{stderr}");
    assert!(
        !stderr.contains("backtrace") && !stderr.contains("Caused by"),
        "{stderr}"
    );
    lines[0].to_owned()
}

#[test]
fn startup_errors_are_one_sentence_saying_what_to_do() {
    let missing_key = refusal(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--secret-key-file",
            "/nonexistent/paddock.key",
        ],
        &[],
    );
    assert!(missing_key.contains("/nonexistent/paddock.key"), "{missing_key}");
    assert!(missing_key.contains("openssl rand -base64 32"), "{missing_key}");

    let bad_url = refusal(&["serve", "--database-url", "mysql://localhost/x"], &[]);
    assert!(bad_url.contains("use sqlite://FILE"), "{bad_url}");

    let bad_log = refusal(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("PADDOCK_LOG", "paddock=loud")],
    );
    assert!(bad_log.contains("not a log filter"), "{bad_log}");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let busy = refusal(
        &["serve", "--listen", &address, "--database-url", "sqlite::memory:"],
        &[],
    );
    assert!(busy.contains(&address) && busy.contains("--listen"), "{busy}");
}

#[test]
fn every_setting_is_a_flag_with_its_environment_variable_in_help() {
    let output = Command::new(BIN).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for (flag, env) in [
        ("--listen", "PADDOCK_LISTEN"),
        ("--database-url", "DATABASE_URL"),
        ("--log", "PADDOCK_LOG"),
        ("--admin-token", "PADDOCK_ADMIN_TOKEN"),
        ("--secret-key-file", "PADDOCK_SECRET_KEY_FILE"),
        ("--cors-origin", "PADDOCK_CORS_ORIGINS"),
        ("--public-url", "PADDOCK_PUBLIC_URL"),
        ("--scm-api-url", "PADDOCK_SCM_API_URLS"),
        ("--token-cache-ttl", "PADDOCK_TOKEN_CACHE_TTL"),
    ] {
        assert!(
            help.contains(flag) && help.contains(&format!("[env: {env}")),
            "{flag} / {env}:\n{help}"
        );
    }
    // the admin token's value never shows, even when it is set
    let output = Command::new(BIN)
        .args(["serve", "--help"])
        .env("PADDOCK_ADMIN_TOKEN", "very-secret-admin-token")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&output.stdout).contains("very-secret-admin-token"));
}

/// `paddock serve` as `make run` starts it (the default log filter), over
/// `dir`'s paddock.db: its stderr lines up to the one naming where it
/// serves, and the child.
fn serve_as_a_newcomer(dir: &std::path::Path) -> (Vec<String>, std::process::Child) {
    use std::io::BufRead;
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("PADDOCK_LOG")
        .env_remove("DATABASE_URL")
        .env_remove("PADDOCK_SECRET_KEY_FILE")
        .env_remove("PADDOCK_PUBLIC_URL")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    while !seen.last().is_some_and(|l: &String| l.contains("listen=")) {
        seen.push(lines.next().expect("paddock exited before serving").unwrap());
    }
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    (seen, child)
}

/// A newcomer who ran `make run` reads where the console is: on a fresh
/// database two lines of setup (the key made, the migrations applied, never
/// one line per migration) come before it; on every later start it is the
/// first line. And the URL it names is the console.
#[tokio::test]
async fn the_first_line_of_serve_names_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let (first_start, child) = serve_as_a_newcomer(dir.path());
    let serving = first_start.last().unwrap();
    let console = serving
        .split("the console at ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the serving line names the console: {serving}"));
    let address = serving
        .split("listen=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert_eq!(console, format!("http://{address}/"));
    assert_eq!(
        first_start.len(),
        3,
        "the key, the migrations, then the console: {first_start:#?}"
    );
    assert!(
        first_start[0].contains("generated a new secret key"),
        "{first_start:#?}"
    );
    assert!(first_start[1].contains("database migrated"), "{first_start:#?}");
    assert!(
        !first_start.iter().any(|l| l.contains("sea_orm_migration")),
        "{first_start:#?}"
    );

    let page = reqwest::get(console).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text().await.unwrap().contains("<title>paddock"),
        "the console's page"
    );
    terminate(child).await;

    let (restart, child) = serve_as_a_newcomer(dir.path());
    assert_eq!(restart.len(), 1, "the console's line is the first: {restart:#?}");
    terminate(child).await;
}
