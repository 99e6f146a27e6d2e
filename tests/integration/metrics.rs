//! `/metrics`: the Prometheus text format on the main port, with the
//! families operators need and no ids in any label.

use http::{Method, StatusCode};

use crate::connect::Http;
use crate::harness::*;

/// The metric families of a Prometheus text exposition, and every label value.
fn families(text: &str) -> (Vec<String>, Vec<String>) {
    let mut families = Vec::new();
    let mut labels = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            families.push(rest.split_whitespace().next().unwrap().to_owned());
        } else if !line.starts_with('#') && !line.is_empty() {
            if let Some((_, rest)) = line.split_once('{') {
                let inside = rest.rsplit_once('}').unwrap().0;
                for pair in inside.split("\",") {
                    let (_, value) = pair.split_once("=\"").unwrap();
                    labels.push(value.trim_end_matches('"').to_owned());
                }
            }
            let value = line.rsplit_once(' ').unwrap().1;
            assert!(value.parse::<f64>().is_ok() || value == "+Inf", "{line}");
        }
    }
    (families, labels)
}

#[tokio::test]
async fn metrics_count_calls_heartbeats_streams_cache_and_runners_without_ids() {
    let server = TestServer::start().await;
    let protocol = Protocol::Grpc;
    let (runner_id, token) = server.runner_with_token(protocol, &server.admin, "measured").await;
    let mut runners = server.runners(protocol, &server.admin.token).await;
    for _ in 0..3 {
        runners
            .get_runner(pb::GetRunnerRequest {
                runner_id: runner_id.clone(),
            })
            .await
            .unwrap();
    }
    // a path nobody declared must not become a label
    let odd = Http::new(&server, Some(&server.admin.token))
        .json(
            &format!("/gitpod.v1.RunnerService/{}", uuid::Uuid::now_v7()),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(odd.status, StatusCode::NOT_FOUND);
    let mut interaction = server.interaction(protocol, &token).await;
    let key = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
    interaction
        .signup(pb::SignupRequest {
            public_key: key.public_key().as_bytes().to_vec(),
            environment_classes: vec![],
        })
        .await
        .unwrap();
    interaction
        .mark_runner_active(pb::MarkRunnerActiveRequest {
            runner_id: runner_id.clone(),
        })
        .await
        .unwrap();
    let _watching = server
        .events(protocol, &server.admin.token)
        .await
        .watch_events(pb::WatchEventsRequest {
            scope: Some(pb::watch_events_request::Scope::Organization(true)),
            resource_type_filters: vec![],
        })
        .await
        .unwrap();

    let answer = Http::new(&server, None)
        .send(Method::GET, "/metrics", &[], vec![])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    let (families, labels) = families(&text);
    for family in [
        "paddock_rpc_calls_total",
        "paddock_rpc_duration_seconds",
        "paddock_runner_heartbeats_total",
        "paddock_watch_streams_open",
        "paddock_token_cache_lookups_total",
        "paddock_db_connections",
        "paddock_runners",
    ] {
        assert!(families.iter().any(|f| f == family), "{family} missing:\n{text}");
    }
    assert!(
        text.contains(
            "paddock_rpc_calls_total{code=\"OK\",method=\"GetRunner\",protocol=\"grpc\",service=\"gitpod.v1.RunnerService\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("method=\"other\""),
        "an undeclared path is counted as other"
    );
    assert!(text.contains("paddock_token_cache_lookups_total{result=\"hit\"}"));
    assert!(text.contains("paddock_db_connections{pool=\"write\",state=\"max\"}"));
    assert!(
        text.contains("paddock_runners{phase=\"RUNNER_PHASE_ACTIVE\"}"),
        "{text}"
    );
    assert!(text.contains("paddock_watch_streams_open"));
    assert!(text.contains("paddock_runner_heartbeats_total"));
    // no label holds an id
    let uuid = regex_lite::Regex::new("[0-9a-f]{8}-[0-9a-f]{4}-").unwrap();
    assert!(labels.iter().all(|l| !uuid.is_match(l)), "ids in labels: {labels:?}");
    server.stop().await;
}

/// With `--metrics-listen`, /metrics moves to a port of its own and leaves
/// the main port.
#[tokio::test]
async fn metrics_listen_moves_the_endpoint_to_its_own_port() {
    use crate::processes::*;
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new().await;
    let (child, url, log) = spawn_serve_logged(
        dir.path(),
        &db.url,
        "metrics-listen-admin",
        &["--metrics-listen", "127.0.0.1:0"],
    );
    let metrics_addr = eventually(
        std::time::Duration::from_secs(5),
        "the metrics port is logged",
        async || {
            log.lock().unwrap().iter().find_map(|line| {
                line.split("metrics_listen=")
                    .nth(1)
                    .map(|rest| rest.split_whitespace().next().unwrap_or_default().to_owned())
            })
        },
    )
    .await;
    let get = async |base: &str| {
        let client = reqwest::Client::new();
        client.get(format!("{base}/metrics")).send().await.unwrap()
    };
    let on_metrics_port = get(&format!("http://{metrics_addr}")).await;
    assert_eq!(on_metrics_port.status(), 200);
    assert!(on_metrics_port.text().await.unwrap().contains("paddock_db_connections"));
    let on_main_port = get(&url).await;
    assert_ne!(on_main_port.status(), 200, "not on the main port any more");
    terminate(child).await;
}

/// With `--no-metrics` there is no /metrics, and asking for it on a port of
/// its own as well is refused at start.
#[tokio::test]
async fn no_metrics_serves_no_endpoint() {
    use crate::processes::*;
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new().await;
    let (child, url, _log) = spawn_serve_logged(dir.path(), &db.url, "no-metrics-admin", &["--no-metrics"]);
    let response = reqwest::Client::new()
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap();
    assert_ne!(response.status(), 200, "no /metrics with --no-metrics");
    terminate(child).await;

    let both = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &db.url])
        .args(["--no-metrics", "--metrics-listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!both.status.success());
    assert!(
        String::from_utf8_lossy(&both.stderr).contains("cannot be used with"),
        "{}",
        String::from_utf8_lossy(&both.stderr)
    );
}

/// `--database-pool-size` sizes PostgreSQL's pool, or SQLite's read-only
/// connections (its writer stays one): /metrics tells the pool's maximum.
#[tokio::test]
async fn the_pool_size_setting_sizes_the_pool_that_serves_reads() {
    let server = TestServer::start_with(|settings| settings.database_pool_size = Some(3)).await;
    let answer = Http::new(&server, None)
        .send(Method::GET, "/metrics", &[], vec![])
        .await;
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    let max = |pool: &str| {
        text.lines()
            .find(|line| {
                line.starts_with("paddock_db_connections{")
                    && line.contains(&format!("pool=\"{pool}\""))
                    && line.contains("state=\"max\"")
            })
            .map(|line| line.rsplit_once(' ').unwrap().1.to_owned())
    };
    let postgres =
        sea_orm::ConnectionTrait::get_database_backend(&server.state.db) == sea_orm::DatabaseBackend::Postgres;
    if postgres {
        assert_eq!(max("write").as_deref(), Some("3"), "{text}");
    } else {
        assert_eq!(max("write").as_deref(), Some("1"), "one writer: {text}");
        assert_eq!(max("read").as_deref(), Some("3"), "{text}");
    }
    server.stop().await;
}
