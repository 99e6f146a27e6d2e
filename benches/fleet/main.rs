//! `make bench-fleet` (and `make bench-fleet-quick`): a fleet of signed-up
//! runners holding their leases — 100,000 runners, each renewing every 30 s,
//! so 3,333 MarkRunnerActive calls a second over distinct runners, tokens
//! and connections — against paddock's release binary: one process on
//! SQLite, two replicas on one PostgreSQL database. Reports the servers' CPU
//! as a fraction of this machine and the latency percentiles, the same load
//! against a transport floor (`reference`: MarkRunnerActive answered from
//! memory, no authentication, no database), and the liveness sweep's cost
//! per tick with 1 % of the fleet changing phase.
//!
//!   cargo bench --bench fleet -- [--quick] [--runners N] [--rate R] [--connections C]
//!       [--only sqlite|postgres] [--out DIR]
//!
//! Not a test: it fails only on a broken run (a failed call, a server that
//! logged an error), never on a slow one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod drive;
#[path = "../perf/procs.rs"]
#[allow(dead_code)]
mod procs;
mod seed;
mod sweep;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use drive::LoadResult;
use paddock::protocol::proto::gitpod::v1 as pb;
use procs::{LogKind, Server, free_port};
use serde_json::json;

struct Options {
    runners: usize,
    rate: f64,
    connections: usize,
    sweep_ticks: usize,
    backends: Vec<&'static str>,
    out: PathBuf,
    postgres_url: String,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Options> {
        let quick = args.iter().any(|a| a == "--quick");
        let mut options = Options {
            runners: if quick { 20_000 } else { 100_000 },
            rate: 100_000.0 / 30.0,
            connections: if quick { 200 } else { 1_000 },
            sweep_ticks: if quick { 3 } else { 7 },
            backends: vec!["sqlite", "postgres"],
            out: PathBuf::from(if quick {
                "target/bench-fleet-quick"
            } else {
                "target/bench-fleet"
            }),
            postgres_url: std::env::var("PADDOCK_BENCH_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--quick" => {}
                "--runners" => options.runners = value()?.parse()?,
                "--rate" => options.rate = value()?.parse()?,
                "--connections" => options.connections = value()?.parse()?,
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
        Ok(options)
    }
}

fn main() -> anyhow::Result<()> {
    // cargo bench passes --bench to harness = false targets
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.first().map(String::as_str) == Some("reference") {
        return reference(args.get(1).context("reference LISTEN")?);
    }
    let options = Options::parse(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut rows = Vec::new();
    let mut floor = None;
    for backend in options.backends.clone() {
        eprintln!("== {backend} ==");
        let scratch = tempfile::tempdir()?;
        let (url, postgres) = match backend {
            "sqlite" => (
                format!("sqlite://{}", scratch.path().join("paddock.db").display()),
                None,
            ),
            _ => {
                let name = format!("paddock_fleet_{}", std::process::id());
                runtime.block_on(admin_sql(&options.postgres_url, &format!("CREATE DATABASE {name}")))?;
                let base = options.postgres_url.rsplit_once('/').map_or("", |(b, _)| b);
                (format!("{base}/{name}"), Some(name))
            }
        };
        let row = runtime.block_on(bench_backend(backend, &url, scratch.path(), &options, &mut floor));
        if let Some(name) = postgres {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(e) = runtime.block_on(admin_sql(&options.postgres_url, &drop)) {
                eprintln!("could not drop {name}: {e:#}");
            }
        }
        rows.push(row?);
    }
    report(&options, &rows, floor.as_ref())
}

struct Row {
    backend: &'static str,
    replicas: usize,
    seed_seconds: f64,
    load: LoadResult,
    sweep: sweep::SweepCost,
    warnings: Vec<String>,
}

async fn bench_backend(
    backend: &'static str,
    url: &str,
    scratch: &Path,
    options: &Options,
    floor: &mut Option<LoadResult>,
) -> anyhow::Result<Row> {
    let key_file = scratch.join("paddock.key");
    let (fleet, seed_seconds) = seed::seed(url, &key_file, options.runners).await?;
    eprintln!("seeded {} signed-up runners in {seed_seconds:.1} s", fleet.len());
    let sweep = sweep::measure(url, &fleet, options.sweep_ticks).await?;
    eprintln!(
        "sweep: {} transitions per tick in {:.1} ms (median), idle tick {:.2} ms",
        sweep.changing,
        median(&sweep.with_changes).as_secs_f64() * 1e3,
        median(&sweep.idle).as_secs_f64() * 1e3
    );

    let replicas = if backend == "sqlite" { 1 } else { 2 };
    let mut servers = Vec::new();
    for i in 0..replicas {
        servers.push(start_paddock(url, &key_file, scratch, i)?);
    }
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let pids: Vec<u32> = servers.iter().map(Server::pid).collect();
    let load = drive::drive(&urls, &pids, &fleet, options.rate, options.connections).await?;
    anyhow::ensure!(
        load.failures == 0,
        "{} calls failed, e.g. {}",
        load.failures,
        load.first_failure.as_deref().unwrap_or("")
    );
    let mut warnings = Vec::new();
    for server in &mut servers {
        server.check_calls(0)?;
        warnings.append(&mut server.warnings);
    }
    eprintln!(
        "{replicas} paddock: {:.0} calls/s, CPU {:.1} % of the machine, p50 {:.2} ms, p99 {:.2} ms",
        load.rate(),
        load.machine_fraction() * 100.0,
        load.percentile(0.5).as_secs_f64() * 1e3,
        load.percentile(0.99).as_secs_f64() * 1e3
    );
    drop(servers);

    if floor.is_none() {
        let port = free_port()?;
        let mut command = Command::new(std::env::current_exe()?);
        command.args(["reference", &format!("127.0.0.1:{port}")]);
        let reference = Server::start(
            "reference",
            command,
            port,
            scratch.join("reference.log"),
            LogKind::Reference,
        )?;
        let load = drive::drive(
            std::slice::from_ref(&reference.url),
            &[reference.pid()],
            &fleet,
            options.rate,
            options.connections,
        )
        .await?;
        eprintln!(
            "reference: CPU {:.1} % of the machine, p99 {:.2} ms",
            load.machine_fraction() * 100.0,
            load.percentile(0.99).as_secs_f64() * 1e3
        );
        *floor = Some(load);
    }
    Ok(Row {
        backend,
        replicas,
        seed_seconds,
        load,
        sweep,
        warnings,
    })
}

fn start_paddock(url: &str, key_file: &Path, scratch: &Path, replica: usize) -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut command = Command::new(env!("CARGO_BIN_EXE_paddock"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--secret-key-file"])
        .arg(key_file)
        .env("DATABASE_URL", url)
        // paddock as it runs by default: one info line per call
        .env_remove("PADDOCK_LOG")
        .env_remove("PADDOCK_RUNNER_LEASE")
        .env_remove("PADDOCK_RUNNER_LEASE_GRACE")
        .env_remove("PADDOCK_ADMIN_TOKEN");
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
    let db = sea_orm::Database::connect(url)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {url} (is it running?)"))?;
    db.execute_unprepared(sql).await?;
    db.close().await?;
    Ok(())
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report(options: &Options, rows: &[Row], floor: Option<&LoadResult>) -> anyhow::Result<()> {
    let mut md = String::new();
    md.push_str(&format!(
        "# Fleet heartbeats\n\n{} signed-up runners, each renewing its lease every {:.0} s: {:.0} \
         MarkRunnerActive calls a second over {} connections, each call a different runner with its own \
         token. One warm-up cycle, then one measured cycle. CPU is the server processes' user + system \
         time over the measured cycle (PostgreSQL's own not included) as a fraction of this {}-core machine. Latency counts from when a \
         call was due. `cargo bench --bench fleet{}`.\n\n",
        options.runners,
        options.runners as f64 / options.rate,
        options.rate,
        options.connections,
        drive::cores(),
        if options.runners < 100_000 { " -- --quick" } else { "" },
    ));
    md.push_str("| server | calls/s | CPU (machine) | CPU per replica | p50 ms | p99 ms | max ms |\n");
    md.push_str("|---|---:|---:|---|---:|---:|---:|\n");
    let line = |name: String, load: &LoadResult| {
        let per: Vec<String> = load
            .server_cpu
            .iter()
            .map(|c| format!("{:.1} %", c / load.seconds * 100.0 / drive::cores() as f64))
            .collect();
        format!(
            "| {name} | {:.0} | {:.1} % | {} | {:.2} | {:.2} | {:.2} |\n",
            load.rate(),
            load.machine_fraction() * 100.0,
            per.join(" + "),
            ms(load.percentile(0.5)),
            ms(load.percentile(0.99)),
            ms(load.latencies.iter().copied().max().unwrap_or_default()),
        )
    };
    for row in rows {
        let name = format!(
            "paddock, {} ({} process{})",
            label(row.backend),
            row.replicas,
            if row.replicas > 1 { "es" } else { "" }
        );
        md.push_str(&line(name, &row.load));
    }
    if let Some(floor) = floor {
        md.push_str(&line("reference: answered from memory (transport floor)".into(), floor));
    }
    md.push_str("\n## Liveness sweep per tick\n\n| database | runners | transitions per tick | tick with transitions ms (median, max) | idle tick ms (median, max) |\n|---|---:|---:|---:|---:|\n");
    for row in rows {
        let s = &row.sweep;
        md.push_str(&format!(
            "| {} | {} | {} | {:.1}, {:.1} | {:.2}, {:.2} |\n",
            label(row.backend),
            options.runners,
            s.changing,
            ms(median(&s.with_changes)),
            ms(s.with_changes.iter().copied().max().unwrap_or_default()),
            ms(median(&s.idle)),
            ms(s.idle.iter().copied().max().unwrap_or_default()),
        ));
    }
    for row in rows {
        if !row.warnings.is_empty() {
            md.push_str(&format!("\n{} warnings: {}\n", label(row.backend), row.warnings.len()));
        }
    }
    print!("{md}");
    std::fs::create_dir_all(&options.out)?;
    std::fs::write(options.out.join("fleet.md"), &md)?;
    let json = json!({
        "runners": options.runners,
        "rate": options.rate,
        "connections": options.connections,
        "cores": drive::cores(),
        "results": rows.iter().map(|r| json!({
            "backend": label(r.backend),
            "replicas": r.replicas,
            "seed_seconds": r.seed_seconds,
            "calls_per_second": r.load.rate(),
            "cpu_fraction_of_machine": r.load.machine_fraction(),
            "cpu_seconds_per_replica": r.load.server_cpu,
            "client_cpu_seconds": r.load.client_cpu,
            "p50_ms": ms(r.load.percentile(0.5)),
            "p99_ms": ms(r.load.percentile(0.99)),
            "sweep_transitions_per_tick": r.sweep.changing,
            "sweep_tick_ms": r.sweep.with_changes.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
            "sweep_idle_tick_ms": r.sweep.idle.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "reference": floor.map(|f| json!({
            "cpu_fraction_of_machine": f.machine_fraction(),
            "p50_ms": ms(f.percentile(0.5)),
            "p99_ms": ms(f.percentile(0.99)),
        })),
    });
    std::fs::write(options.out.join("fleet.json"), serde_json::to_string_pretty(&json)?)?;
    eprintln!("wrote {0}/fleet.md and {0}/fleet.json", options.out.display());
    Ok(())
}

fn label(backend: &str) -> &'static str {
    if backend == "sqlite" { "SQLite" } else { "PostgreSQL" }
}

/// The transport floor: MarkRunnerActive answered from memory by paddock's
/// own tonic, on paddock's runtime, with no authentication and no database.
fn reference(listen: &str) -> anyhow::Result<()> {
    use pb::runner_interaction_service_server::{RunnerInteractionService, RunnerInteractionServiceServer};
    struct Floor;
    #[tonic::async_trait]
    impl RunnerInteractionService for Floor {
        async fn mark_runner_active(
            &self,
            request: tonic::Request<pb::MarkRunnerActiveRequest>,
        ) -> Result<tonic::Response<pb::MarkRunnerActiveResponse>, tonic::Status> {
            if request.get_ref().runner_id.is_empty() {
                eprintln!("failed call: no runner id");
                return Err(tonic::Status::invalid_argument("runner_id"));
            }
            Ok(tonic::Response::new(pb::MarkRunnerActiveResponse {
                desired_phase: pb::RunnerPhase::Active as i32,
                deleting: false,
                phase: pb::RunnerPhase::Active as i32,
                lease_duration: Some(prost_types::Duration { seconds: 30, nanos: 0 }),
            }))
        }
    }
    let listen: std::net::SocketAddr = listen.parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tonic::transport::Server::builder()
            .add_service(RunnerInteractionServiceServer::new(Floor))
            .serve_with_incoming(incoming)
            .await?;
        Ok(())
    })
}
