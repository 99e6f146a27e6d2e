//! `make bench-watch`: 1,000 open WatchEvents streams against paddock's
//! release binary — one process on SQLite, two replicas on one PostgreSQL
//! database (streams split between them, changes made on the first).
//! Reports the servers' CPU and RSS while the streams sit idle, and the time
//! from a CreateRunner's answer to its event's delivery on every stream
//! (p50, p99 over all deliveries, and per change the time until the last
//! stream had it).
//!
//!   cargo bench --bench watch -- [--streams N] [--changes N] [--only sqlite|postgres] [--out DIR]
//!
//! Not a test: it fails only on a broken run (a stream that missed an event).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../fleet/drive.rs"]
#[allow(dead_code)]
mod drive;
#[path = "../perf/procs.rs"]
#[allow(dead_code)]
mod procs;
#[path = "../fleet/seed.rs"]
#[allow(dead_code)]
mod seed;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use paddock::protocol::proto::gitpod::v1 as pb;
use procs::{LogKind, Server, free_port};
use tokio::sync::mpsc;
use tonic::transport::{Channel, Endpoint};

const ADMIN_TOKEN: &str = "bench-watch-admin-token";

struct Options {
    streams: usize,
    changes: usize,
    idle: Duration,
    backends: Vec<&'static str>,
    out: PathBuf,
    postgres_url: String,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let mut options = Options {
        streams: 1_000,
        changes: 50,
        idle: Duration::from_secs(10),
        backends: vec!["sqlite", "postgres"],
        out: PathBuf::from("target/bench-watch"),
        postgres_url: std::env::var("PADDOCK_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--streams" => options.streams = value()?.parse()?,
            "--changes" => options.changes = value()?.parse()?,
            "--out" => options.out = PathBuf::from(value()?),
            "--only" => {
                options.backends = match value()?.as_str() {
                    "sqlite" => vec!["sqlite"],
                    "postgres" => vec!["postgres"],
                    other => anyhow::bail!("--only sqlite|postgres, not {other}"),
                }
            }
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut rows = Vec::new();
    for backend in options.backends.clone() {
        eprintln!("== {backend} ==");
        let scratch = tempfile::tempdir()?;
        let (url, postgres) = match backend {
            "sqlite" => (
                format!("sqlite://{}", scratch.path().join("paddock.db").display()),
                None,
            ),
            _ => {
                let name = format!("paddock_watch_{}", std::process::id());
                runtime.block_on(admin_sql(&options.postgres_url, &format!("CREATE DATABASE {name}")))?;
                let base = options.postgres_url.rsplit_once('/').map_or("", |(b, _)| b);
                (format!("{base}/{name}"), Some(name))
            }
        };
        let row = runtime.block_on(bench(backend, &url, scratch.path(), &options));
        if let Some(name) = postgres {
            let _ = runtime.block_on(admin_sql(
                &options.postgres_url,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            ));
        }
        rows.push(row?);
    }
    report(&options, &rows)
}

struct Row {
    backend: &'static str,
    replicas: usize,
    idle_cpu_fraction: f64,
    rss_mib: Vec<f64>,
    deliveries: Vec<Duration>,
    last_delivery: Vec<Duration>,
}

async fn bench(backend: &'static str, url: &str, scratch: &Path, options: &Options) -> anyhow::Result<Row> {
    let key_file = scratch.join("paddock.key");
    // the schema and the admin, before any server starts
    seed::seed(url, &key_file, 0).await?;
    let replicas = if backend == "sqlite" { 1 } else { 2 };
    let mut servers = Vec::new();
    for i in 0..replicas {
        servers.push(start_paddock(url, &key_file, scratch, i)?);
    }
    // streams over 50 connections (20 per connection), split over the replicas
    let connections = 50.min(options.streams.max(1));
    let mut channels: Vec<Channel> = Vec::new();
    for c in 0..connections {
        let server = &servers[c % servers.len()];
        channels.push(Endpoint::from_shared(server.url.clone())?.connect().await?);
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Instant)>();
    for s in 0..options.streams {
        let mut client = pb::event_service_client::EventServiceClient::new(channels[s % connections].clone());
        let mut request = tonic::Request::new(pb::WatchEventsRequest {
            scope: Some(pb::watch_events_request::Scope::Organization(true)),
            resource_type_filters: vec![],
        });
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {ADMIN_TOKEN}").parse()?);
        let mut stream = client.watch_events(request).await?.into_inner();
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Ok(Some(event)) = stream.message().await {
                let _ = tx.send((event.resource_id, Instant::now()));
            }
        });
    }
    drop(tx);
    eprintln!("{} streams open", options.streams);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // idle: nothing changes
    let pids: Vec<u32> = servers.iter().map(Server::pid).collect();
    let before: Vec<f64> = pids.iter().map(|p| drive::cpu_seconds(*p)).collect::<Result<_, _>>()?;
    let started = Instant::now();
    tokio::time::sleep(options.idle).await;
    let wall = started.elapsed().as_secs_f64();
    let used: f64 = pids
        .iter()
        .zip(before)
        .map(|(p, b)| drive::cpu_seconds(*p).map(|now| now - b))
        .sum::<Result<f64, _>>()?;
    let idle_cpu_fraction = used / (wall * drive::cores() as f64);
    let rss_mib = servers
        .iter()
        .map(|s| s.peak_rss_kib().map(|k| k as f64 / 1024.0))
        .collect::<Result<Vec<_>, _>>()?;
    eprintln!(
        "idle: CPU {:.3} % of the machine, peak RSS {:?} MiB",
        idle_cpu_fraction * 100.0,
        rss_mib
    );

    // changes, made on the first replica, one every 200 ms
    let mut runners = pb::runner_service_client::RunnerServiceClient::new(
        Endpoint::from_shared(servers[0].url.clone())?.connect().await?,
    );
    let mut deliveries = Vec::new();
    let mut last_delivery = Vec::new();
    for i in 0..options.changes {
        let mut request = tonic::Request::new(pb::CreateRunnerRequest {
            name: format!("watched runner {i}"),
            provider: pb::RunnerProvider::LinuxHost as i32,
            ..Default::default()
        });
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {ADMIN_TOKEN}").parse()?);
        let created = runners.create_runner(request).await?.into_inner();
        let answered = Instant::now();
        let id = created.runner.context("a runner")?.runner_id;
        let mut got = 0;
        let mut last = Duration::ZERO;
        while got < options.streams {
            let (resource, at) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .with_context(|| format!("only {got} of {} streams heard change {i}", options.streams))?
                .context("the streams ended")?;
            anyhow::ensure!(resource == id, "an event of another change: {resource}");
            let latency = at.saturating_duration_since(answered);
            deliveries.push(latency);
            last = last.max(latency);
            got += 1;
        }
        last_delivery.push(last);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for server in &mut servers {
        server.check_calls(options.streams)?;
    }
    Ok(Row {
        backend,
        replicas,
        idle_cpu_fraction,
        rss_mib,
        deliveries,
        last_delivery,
    })
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report(options: &Options, rows: &[Row]) -> anyhow::Result<()> {
    let mut md = format!(
        "# Watch streams\n\n{} WatchEvents streams (organization scope) over 50 connections, idle for {} s, \
         then {} CreateRunner calls 200 ms apart on the first replica. Delivery latency counts from \
         CreateRunner's answer to the event's arrival on a stream. `cargo bench --bench watch`.\n\n\
         | server | idle CPU (machine) | peak RSS MiB | delivery p50 ms | delivery p99 ms | all streams p50 ms | all streams p99 ms |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
        options.streams,
        options.idle.as_secs(),
        options.changes
    );
    for r in rows {
        let rss: Vec<String> = r.rss_mib.iter().map(|m| format!("{m:.1}")).collect();
        md.push_str(&format!(
            "| paddock, {} ({} process{}) | {:.3} % | {} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
            if r.backend == "sqlite" { "SQLite" } else { "PostgreSQL" },
            r.replicas,
            if r.replicas > 1 { "es" } else { "" },
            r.idle_cpu_fraction * 100.0,
            rss.join(" + "),
            ms(percentile(&r.deliveries, 0.5)),
            ms(percentile(&r.deliveries, 0.99)),
            ms(percentile(&r.last_delivery, 0.5)),
            ms(percentile(&r.last_delivery, 0.99)),
        ));
    }
    print!("{md}");
    std::fs::create_dir_all(&options.out)?;
    std::fs::write(options.out.join("watch.md"), &md)?;
    eprintln!("wrote {}/watch.md", options.out.display());
    Ok(())
}

fn start_paddock(url: &str, key_file: &Path, scratch: &Path, replica: usize) -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut command = Command::new(env!("CARGO_BIN_EXE_paddock"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--secret-key-file"])
        .arg(key_file)
        .env("DATABASE_URL", url)
        .env("PADDOCK_ADMIN_TOKEN", ADMIN_TOKEN)
        // every watcher of the bench holds the one admin token
        .env("PADDOCK_WATCHES_PER_TOKEN", "0")
        .env_remove("PADDOCK_LOG");
    Server::start(
        "paddock",
        command,
        port,
        scratch.join(format!("paddock-{replica}.log")),
        LogKind::Paddock,
    )
}

async fn admin_sql(url: &str, sql: &str) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(url).await?;
    db.execute_unprepared(sql).await?;
    db.close().await?;
    Ok(())
}
