//! `make bench-console`: the console's fleet page at 100,000 runners, in
//! headless Chromium against paddock's release binary on SQLite — page
//! weight (what a first visit downloads, and a return visit), and for the
//! first page, a filtered page, a search and the last page: how long the API
//! takes to answer, and how long from its answer until the page is on screen
//! (the bound: under 300 ms).
//!
//!   cargo bench --bench console -- [--runners N] [--loads N] [--out DIR]
//!
//! Needs node with tests/browser's packages (`npm ci` there) and Chromium
//! (tests/browser/run.sh installs both). Not a test: it fails only on a broken
//! run, never on a slow one; the numbers go to OUT/console.json and
//! OUT/console.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../perf/procs.rs"]
#[allow(dead_code)]
mod procs;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{Duration, Utc};
use paddock::auth::{self, Principal, access};
use paddock::base::secrets::SecretKey;
use paddock::protocol::proto::gitpod::v1 as pb;
use paddock::server::{self, admin, settings as config};
use paddock::store::entities::runner;
use paddock::store::runners::{self, NewRunner, phase};

use procs::{LogKind, Server, free_port};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, TransactionTrait};
use uuid::Uuid;

const BATCH: usize = 500;
const REGIONS: [&str; 5] = ["eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-south-1"];

struct Options {
    runners: usize,
    loads: usize,
    out: PathBuf,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        runners: 100_000,
        loads: 15,
        out: PathBuf::from("target/bench-console"),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).cloned().context("a value after the flag");
        match args[i].as_str() {
            "--runners" => o.runners = value()?.parse()?,
            "--loads" => o.loads = value()?.parse()?,
            "--out" => o.out = PathBuf::from(value()?),
            "--bench" => {
                i += 1;
                continue;
            }
            other => bail!("unknown argument {other}"),
        }
        i += 2;
    }
    Ok(o)
}

/// A fleet as a console meets it: mostly active, some inactive (half of
/// those stale), never connected, degraded and deleting; five regions, two
/// providers (a third on AWS), versions around the release. The organization's admin token.
async fn seed(database_url: &str, key_file: &Path, n: usize) -> anyhow::Result<String> {
    let settings = config::Settings::for_tests(database_url, SecretKey::read_or_create(key_file)?);
    let state = server::prepare(&settings).await?;
    let db = &state.db;
    let owner = admin::create_user(db, "console", "console admin", true).await?;
    let caller = Principal::User {
        id: owner.user_id,
        organization_id: owner.organization_id,
        org_admin: true,
        read_only: false,
    };
    let template = runners::create(
        db,
        &access::create_runner(&caller)?,
        NewRunner {
            name: "runner-template".into(),
            kind: pb::RunnerKind::Local as i32,
            provider: pb::RunnerProvider::LinuxHost as i32,
            runner_manager_id: None,
            desired_phase: pb::RunnerPhase::Active as i32,
            variant: 0,
            configuration: Default::default(),
        },
        auth::tokens::generate(auth::tokens::TokenKind::RunnerExchange)?.hash,
        Utc::now(),
    )
    .await?;
    let now = Utc::now();
    for batch in (0..n).collect::<Vec<_>>().chunks(BATCH) {
        let rows = batch.iter().map(|&i| {
            let (phase, inactive_since) = match i % 20 {
                0..=11 => (phase::ACTIVE, None),
                12..=13 => (phase::INACTIVE, Some(now - Duration::hours(2))),
                14..=15 => (phase::INACTIVE, Some(now - Duration::days(30))),
                16..=17 => (phase::CREATED, None),
                18 => (phase::DEGRADED, None),
                _ => (phase::DELETING, None),
            };
            let connected = phase != phase::CREATED;
            runner::Model {
                id: Uuid::now_v7(),
                name: format!("runner-{i:05}"),
                provider: if i % 3 == 0 {
                    pb::RunnerProvider::AwsEc2 as i32
                } else {
                    pb::RunnerProvider::LinuxHost as i32
                },
                phase,
                inactive_since,
                status_version: if connected {
                    ["1.4.0", "1.4.0", "1.4.0", "1.3.2"][i % 4].into()
                } else {
                    String::new()
                },
                status_region: if connected {
                    REGIONS[i % 5].into()
                } else {
                    String::new()
                },
                status_updated_at: connected.then_some(now),
                signed_up_at: connected.then_some(now),
                lease_renewed_at: connected.then(|| now - Duration::seconds((i % 30) as i64)),
                ..template.clone()
            }
            .into_active_model()
            .reset_all()
        });
        let txn = db.begin().await?;
        runner::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        txn.commit().await?;
    }
    db.execute_unprepared("ANALYZE").await?;
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    Ok(owner.token)
}

fn main() -> anyhow::Result<()> {
    let o = options()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = root.join("target/bench-console-scratch");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    std::fs::create_dir_all(&o.out)?;
    let database_url = format!("sqlite://{}?mode=rwc", scratch.join("console.db").display());
    let key_file = scratch.join("secret.key");
    let started = Instant::now();
    let runtime = tokio::runtime::Runtime::new()?;
    let token = runtime.block_on(seed(&database_url, &key_file, o.runners))?;
    eprintln!(
        "seeded {} runners in {:.1} s",
        o.runners,
        started.elapsed().as_secs_f64()
    );

    let port = free_port()?;
    let mut command = Command::new(env!("CARGO_BIN_EXE_paddock"));
    command
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--runner-release",
            "stable=1.4.0",
        ])
        .arg("--secret-key-file")
        .arg(&key_file)
        .env("DATABASE_URL", &database_url)
        .env_remove("PADDOCK_LOG")
        .env_remove("PADDOCK_ADMIN_TOKEN");
    let server = Server::start("paddock", command, port, scratch.join("paddock.log"), LogKind::Paddock)?;

    let results = o.out.join("console.json");
    let status = Command::new("node")
        .arg(root.join("tests/browser/console-bench.mjs"))
        .env("PADDOCK_URL", &server.url)
        .env("PADDOCK_TOKEN", &token)
        .env("LOADS", o.loads.to_string())
        .env("RUNNERS", o.runners.to_string())
        .env("RESULTS", &results)
        .status()
        .context("running node (tests/browser: npm ci, and Chromium: tests/browser/run.sh installs both)")?;
    drop(server);
    if !status.success() {
        bail!("the browser measurement failed ({status})");
    }
    eprintln!("results: {}", results.display());
    Ok(())
}
