//! `make bench` (and `make bench-quick`): paddock against its transport and
//! storage ceilings, on SQLite and then PostgreSQL.
//!
//! For each database: seeds the fleets through the store layer (`seed`),
//! starts paddock's release binary and the two reference servers of
//! `reference` as separate processes on loopback, and drives every workload
//! with h2load (`load`) in short windows whose order alternates round by
//! round (A B C …, … C B A), so that this noisy machine's drift hits all
//! alike; ratios are medians of per-round ratios with their interquartile
//! ranges. Prints the table and writes it as Markdown, JSON and an SVG chart
//! (`report`).
//!
//!   cargo bench --bench perf -- [--quick] [--out DIR] [--pairs N] [--large N] [--only sqlite|postgres]
//!       [--workloads ID,…] [--concurrencies 1,16,64] [--rounds N (outside targets)]
//!       [--target-rounds N (other targets' sides)]
//!
//! Not a test: nothing here fails on a slow result, only on a broken run (a
//! failed call, a server that died).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod load;
mod procs;
mod reference;
mod report;
mod seed;
mod stats;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use load::{Protocol, Request};
use paddock::protocol::proto::gitpod::v1 as pb;
use procs::{LogKind, Server, free_port};
use prost::Message;
use report::{Backend, BackendReport, Row, Target};
use stats::Spread;

/// What one run measures and how long it takes.
#[derive(Debug, Clone)]
pub struct Options {
    pub quick: bool,
    /// Rounds in which the headline target's two sides (GetRunner and the
    /// point-read ceiling) are measured.
    pub pairs: usize,
    /// Rounds for the other targets' sides.
    pub target_rounds: usize,
    /// Rounds for the rest of the table (other concurrencies, ceilings that
    /// no target depends on).
    pub table_rounds: usize,
    pub small: usize,
    pub large: usize,
    pub warmup: Duration,
    pub measure: Duration,
    pub out: PathBuf,
    pub backends: Vec<Backend>,
    pub postgres_url: String,
    /// Only these workloads (by id), for looking into one of them.
    pub workloads: Option<Vec<String>>,
    /// The concurrencies measured (1, 16 and 64 unless asked otherwise).
    pub concurrencies: Vec<usize>,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Options> {
        let quick = args.iter().any(|a| a == "--quick");
        let mut options = Options {
            quick,
            pairs: if quick { 4 } else { 20 },
            target_rounds: if quick { 2 } else { 10 },
            table_rounds: 1,
            small: 1_000,
            large: if quick { 10_000 } else { 100_000 },
            warmup: Duration::from_millis(500),
            measure: Duration::from_millis(if quick { 1000 } else { 2000 }),
            out: PathBuf::from(if quick { "target/bench-quick" } else { "target/bench" }),
            backends: vec![Backend::Sqlite, Backend::Postgres],
            postgres_url: std::env::var("PADDOCK_BENCH_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
            workloads: None,
            concurrencies: vec![1, 16, 64],
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--quick" => {}
                "--out" => options.out = PathBuf::from(value()?),
                "--pairs" => options.pairs = value()?.parse()?,
                "--large" => options.large = value()?.parse()?,
                "--workloads" => options.workloads = Some(value()?.split(',').map(str::to_owned).collect()),
                "--rounds" => options.table_rounds = value()?.parse()?,
                "--target-rounds" => options.target_rounds = value()?.parse()?,
                "--concurrencies" => {
                    options.concurrencies = value()?.split(',').map(str::parse).collect::<Result<_, _>>()?
                }
                "--only" => {
                    options.backends = match value()?.as_str() {
                        "sqlite" => vec![Backend::Sqlite],
                        "postgres" => vec![Backend::Postgres],
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
        return reference::main(&args[1..]);
    }
    let options = Options::parse(&args)?;
    let started = Instant::now();
    let mut backends = Vec::new();
    for backend in &options.backends {
        eprintln!("== {} ==", backend.label());
        backends.push(bench_backend(*backend, &options)?);
    }
    let report = report::Report::new(&options, backends, started.elapsed());
    report.print();
    report.write(&options.out)?;
    eprintln!(
        "wrote {0}/results.md, {0}/results.json and {0}/chart.svg in {1:.1} min",
        options.out.display(),
        started.elapsed().as_secs_f64() / 60.0
    );
    Ok(())
}

/// Which server a workload goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ServerKind {
    Paddock,
    Unmetered,
    Twin,
    PointRead,
    Storage,
    Echo,
}

/// One measured thing: an RPC over a protocol against one server.
struct Workload {
    id: &'static str,
    label: String,
    target: ServerKind,
    request: Request,
    /// The ceiling its table row is compared with (besides the echo).
    ceiling: Option<&'static str>,
}

struct Servers {
    paddock: Server,
    /// paddock with --no-metrics, for what metrics cost.
    unmetered: Server,
    /// A second paddock exactly like the first: what two processes of the
    /// same binary differ by (the floor under the metrics comparison).
    twin: Server,
    point_read: Server,
    /// The pool size the point-read ceiling was tuned to.
    point_read_pool: u32,
    storage: Server,
    echo: Server,
}

impl Servers {
    fn get(&self, target: ServerKind) -> &Server {
        match target {
            ServerKind::Paddock => &self.paddock,
            ServerKind::Unmetered => &self.unmetered,
            ServerKind::Twin => &self.twin,
            ServerKind::PointRead => &self.point_read,
            ServerKind::Storage => &self.storage,
            ServerKind::Echo => &self.echo,
        }
    }

    fn get_mut(&mut self, target: ServerKind) -> &mut Server {
        match target {
            ServerKind::Paddock => &mut self.paddock,
            ServerKind::Unmetered => &mut self.unmetered,
            ServerKind::Twin => &mut self.twin,
            ServerKind::PointRead => &mut self.point_read,
            ServerKind::Storage => &mut self.storage,
            ServerKind::Echo => &mut self.echo,
        }
    }
}

/// A PostgreSQL database for one run, dropped afterwards.
struct PostgresDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PostgresDatabase {
    fn create(runtime: &tokio::runtime::Runtime, admin_url: &str) -> anyhow::Result<PostgresDatabase> {
        let name = format!("paddock_bench_{}", std::process::id());
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(base, _)| base);
        let url = format!("{base}/{name}");
        runtime.block_on(admin(admin_url, &format!("CREATE DATABASE {name}")))?;
        Ok(PostgresDatabase {
            admin_url: admin_url.to_owned(),
            name,
            url,
        })
    }

    fn drop_with(&self, runtime: &tokio::runtime::Runtime) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = runtime.block_on(admin(&self.admin_url, &sql)) {
            eprintln!("could not drop {}: {e:#}", self.name);
        }
    }
}

async fn admin(url: &str, sql: &str) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(url)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {url} (is it running?)"))?;
    db.execute_unprepared(sql).await?;
    db.close().await?;
    Ok(())
}

fn bench_backend(backend: Backend, options: &Options) -> anyhow::Result<BackendReport> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let scratch = tempfile::tempdir()?;
    let postgres = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PostgresDatabase::create(&runtime, &options.postgres_url)?),
    };
    let database_url = match &postgres {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}", scratch.path().join("paddock.db").display()),
    };
    let result = measure_backend(backend, options, &runtime, scratch.path(), &database_url);
    if let Some(db) = postgres {
        db.drop_with(&runtime);
    }
    result
}

fn measure_backend(
    backend: Backend,
    options: &Options,
    runtime: &tokio::runtime::Runtime,
    scratch: &Path,
    database_url: &str,
) -> anyhow::Result<BackendReport> {
    let key_file = scratch.join("paddock.key");
    let fixture = runtime.block_on(seed::seed(database_url, &key_file, options.small, options.large))?;
    eprintln!(
        "seeded {} + {} runners (with environment classes and policies) in {:.1} s",
        options.small, options.large, fixture.seconds
    );

    let paddock = start_paddock("paddock", database_url, &key_file, &[], scratch)?;
    let unmetered = start_paddock(
        "paddock-no-metrics",
        database_url,
        &key_file,
        &["--no-metrics"],
        scratch,
    )?;
    let twin = start_paddock("paddock-twin", database_url, &key_file, &[], scratch)?;
    let storage = start_reference("storage", database_url, &[], scratch)?;
    let get = pb::GetRunnerRequest {
        runner_id: fixture.runner_id.to_string(),
    };
    let (point_read, point_read_pool, tuning) =
        tune_point_read(backend, options, database_url, &fixture, &get, scratch)?;
    // the echo answers with what paddock answers
    let answer = runtime.block_on(get_runner(&paddock.url, &fixture.small_token, &get))?;
    let echo_response = scratch.join("echo-response.bin");
    std::fs::write(&echo_response, answer.encode_to_vec())?;
    let echo = start_reference("echo", &echo_response.display().to_string(), &[], scratch)?;
    let mut servers = Servers {
        paddock,
        unmetered,
        twin,
        point_read,
        point_read_pool,
        storage,
        echo,
    };

    let last_page = runtime.block_on(last_page_token(&servers.paddock.url, &fixture.large_token))?;
    let workloads = workloads(&servers, &fixture, &get, &last_page, options, scratch)?;

    let mut windows: BTreeMap<(usize, &'static str), Vec<(usize, load::Window)>> = BTreeMap::new();
    let mut peak_rss_kib = 0;
    let mut cut_calls = 0;
    for &concurrency in &options.concurrencies {
        let resettable = concurrency == 64 && servers.paddock.reset_peak_rss();
        let rounds = |w: &Workload| -> usize {
            match target_side(backend, concurrency, w.id) {
                Some(Side::Headline) => options.pairs,
                Some(Side::Other) => options.target_rounds,
                None => options.table_rounds,
            }
        };
        let total = workloads.iter().map(rounds).max().unwrap_or(0);
        for round in 0..total {
            let mut order: Vec<&Workload> = workloads.iter().filter(|w| round < rounds(w)).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            let mut line = format!("c{concurrency:<2} round {round:2}:");
            for workload in order {
                let window = load::window(&workload.request, concurrency, options.warmup, options.measure, scratch)
                    .with_context(|| format!("{} at concurrency {concurrency}", workload.label))?;
                cut_calls += servers
                    .get_mut(workload.target)
                    .check_calls(concurrency)
                    .with_context(|| format!("{} at concurrency {concurrency}", workload.label))?;
                line += &format!(" {} {:.0}", workload.id, window.rps);
                windows
                    .entry((concurrency, workload.id))
                    .or_default()
                    .push((round, window));
            }
            eprintln!("{line}");
        }
        if concurrency == 64 {
            peak_rss_kib = servers.paddock.peak_rss_kib()?;
            if !resettable {
                eprintln!("(peak RSS covers the whole run: /proc/PID/clear_refs is not writable here)");
            }
        }
    }
    let replicas = if backend == Backend::Postgres && options.workloads.is_none() {
        measure_replicas(
            &mut servers.paddock,
            database_url,
            &key_file,
            &fixture,
            &get,
            options,
            scratch,
        )?
    } else {
        Vec::new()
    };
    let mut report = summarize(backend, &workloads, &windows, peak_rss_kib, fixture.seconds);
    report.replicas = replicas;
    report.cut_calls = cut_calls;
    report.point_read_tuning = tuning;
    report.warnings = std::mem::take(&mut servers.paddock.warnings);
    Ok(report)
}

enum Side {
    /// GetRunner against the point-read ceiling: `pairs` rounds.
    Headline,
    /// Another target's: `target_rounds` rounds.
    Other,
}

/// Whether a workload at a concurrency is one side of a target ratio.
fn target_side(backend: Backend, concurrency: usize, id: &str) -> Option<Side> {
    match (backend, concurrency, id) {
        (Backend::Sqlite, 16, "get_grpc" | "point_read") => Some(Side::Headline),
        (Backend::Sqlite, 16, "echo") => None,
        (Backend::Sqlite, 16, _) => Some(Side::Other),
        (Backend::Postgres, 16 | 64, "list_first" | "list_last") => Some(Side::Other),
        (Backend::Postgres, 16, "create" | "insert_pair") => Some(Side::Other),
        _ => None,
    }
}

fn start_paddock(
    name: &str,
    database_url: &str,
    key_file: &Path,
    extra: &[&str],
    scratch: &Path,
) -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut command = Command::new(env!("CARGO_BIN_EXE_paddock"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--secret-key-file"])
        .arg(key_file)
        .args(extra)
        .env("DATABASE_URL", database_url)
        // paddock as it runs by default: one info line per call
        .env_remove("PADDOCK_LOG")
        .env_remove("RUST_LOG")
        .env_remove("PADDOCK_ADMIN_TOKEN");
    Server::start(
        name,
        command,
        port,
        scratch.join(format!("{name}.log")),
        LogKind::Paddock,
    )
}

fn start_reference(kind: &str, arg: &str, extra: &[String], scratch: &Path) -> anyhow::Result<Server> {
    start_reference_named(kind, kind, arg, extra, scratch)
}

type RunnerClient = pb::runner_service_client::RunnerServiceClient<tonic::transport::Channel>;

async fn client(url: &str) -> anyhow::Result<RunnerClient> {
    Ok(RunnerClient::connect(url.to_owned()).await?)
}

fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

async fn get_runner(url: &str, token: &str, get: &pb::GetRunnerRequest) -> anyhow::Result<pb::GetRunnerResponse> {
    let mut client = client(url).await?;
    Ok(client.get_runner(authorized(get.clone(), token)).await?.into_inner())
}

fn list_request(page_token: &str) -> pb::ListRunnersRequest {
    pb::ListRunnersRequest {
        pagination: Some(pb::PaginationRequest {
            page_size: 100,
            token: page_token.into(),
        }),
        filter: Some(pb::list_runners_request::Filter {
            kinds: vec![pb::RunnerKind::Local as i32],
            providers: vec![pb::RunnerProvider::LinuxHost as i32],
            ..Default::default()
        }),
    }
}

/// The page token of the large fleet's last page, walking there page by page.
async fn last_page_token(url: &str, token: &str) -> anyhow::Result<String> {
    let mut client = client(url).await?;
    let mut page_token = String::new();
    loop {
        let page = client
            .list_runners(authorized(list_request(&page_token), token))
            .await?
            .into_inner();
        let next = page.pagination.context("pagination")?.next_token;
        if next.is_empty() {
            return Ok(page_token);
        }
        page_token = next;
    }
}

fn workloads(
    servers: &Servers,
    fixture: &seed::Fixture,
    get: &pb::GetRunnerRequest,
    last_page: &str,
    options: &Options,
    scratch: &Path,
) -> anyhow::Result<Vec<Workload>> {
    let get_proto = get.encode_to_vec();
    let get_json = format!(r#"{{"runnerId":"{}"}}"#, get.runner_id).into_bytes();
    let create = pb::CreateRunnerRequest {
        name: "bench runner".into(),
        provider: pb::RunnerProvider::LinuxHost as i32,
        ..Default::default()
    }
    .encode_to_vec();
    let small = human(options.small);
    let large = human(options.large);
    let service = "gitpod.v1.RunnerService";
    let mut workloads = Vec::new();
    let mut add = |id: &'static str,
                   label: String,
                   target: ServerKind,
                   method: &str,
                   protocol: Protocol,
                   token: &str,
                   body: &[u8],
                   ceiling: Option<&'static str>|
     -> anyhow::Result<()> {
        let url = format!("{}/{service}/{method}", servers.get(target).url);
        let request = Request::new(scratch, id, url, protocol, Some(token.to_owned()), body)?;
        if options
            .workloads
            .as_ref()
            .is_some_and(|only| !only.iter().any(|o| o == id))
        {
            return Ok(());
        }
        workloads.push(Workload {
            id,
            label,
            target,
            request,
            ceiling,
        });
        Ok(())
    };
    let (small_token, large_token) = (&fixture.small_token, &fixture.large_token);
    use Protocol::*;
    use ServerKind::*;
    add(
        "get_grpc",
        "GetRunner".into(),
        Paddock,
        "GetRunner",
        Grpc,
        small_token,
        &get_proto,
        Some("point_read"),
    )?;
    add(
        "get_twin",
        "GetRunner, a second identical paddock".into(),
        Twin,
        "GetRunner",
        Grpc,
        small_token,
        &get_proto,
        Some("point_read"),
    )?;
    add(
        "get_no_metrics",
        "GetRunner, paddock with --no-metrics".into(),
        Unmetered,
        "GetRunner",
        Grpc,
        small_token,
        &get_proto,
        Some("point_read"),
    )?;
    add(
        "get_connect",
        "GetRunner".into(),
        Paddock,
        "GetRunner",
        ConnectProto,
        small_token,
        &get_proto,
        Some("point_read"),
    )?;
    add(
        "get_json",
        "GetRunner".into(),
        Paddock,
        "GetRunner",
        ConnectJson,
        small_token,
        &get_json,
        Some("point_read"),
    )?;
    add(
        "list_first",
        format!("ListRunners, first page of {small}"),
        Paddock,
        "ListRunners",
        Grpc,
        small_token,
        &list_request("").encode_to_vec(),
        Some("point_read"),
    )?;
    add(
        "list_last",
        format!("ListRunners, last page of {large}"),
        Paddock,
        "ListRunners",
        Grpc,
        large_token,
        &list_request(last_page).encode_to_vec(),
        Some("point_read"),
    )?;
    add(
        "create",
        "CreateRunner".into(),
        Paddock,
        "CreateRunner",
        Grpc,
        &fixture.writes_token,
        &create,
        Some("insert_pair"),
    )?;
    add(
        "point_read",
        format!(
            "ceiling: plain tonic + SeaORM point read, pool of {} (GetRunner)",
            servers.point_read_pool
        ),
        PointRead,
        "GetRunner",
        Grpc,
        small_token,
        &get_proto,
        None,
    )?;
    add(
        "insert_pair",
        "ceiling: SeaORM transaction of the same writes (CreateRunner)".into(),
        Storage,
        "CreateRunner",
        Grpc,
        small_token,
        &create,
        None,
    )?;
    add(
        "echo",
        "ceiling: bare tonic echo (GetRunner)".into(),
        Echo,
        "GetRunner",
        Grpc,
        small_token,
        &get_proto,
        None,
    )?;
    Ok(workloads)
}

fn human(n: usize) -> String {
    if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

type Windows = BTreeMap<(usize, &'static str), Vec<(usize, load::Window)>>;

/// Median over the rounds in which both were measured of a's throughput / b's.
fn paired(windows: &Windows, concurrency: usize, a: &'static str, b: &'static str) -> Option<Spread> {
    let (a, b) = (windows.get(&(concurrency, a))?, windows.get(&(concurrency, b))?);
    let ratios: Vec<f64> = a
        .iter()
        .filter_map(|(round, wa)| b.iter().find(|(r, _)| r == round).map(|(_, wb)| wa.rps / wb.rps))
        .collect();
    (!ratios.is_empty()).then(|| Spread::of(&ratios))
}

fn summarize(
    backend: Backend,
    workloads: &[Workload],
    windows: &Windows,
    peak_rss_kib: u64,
    seed_seconds: f64,
) -> BackendReport {
    let mut rows = Vec::new();
    for concurrency in [1, 16, 64] {
        for w in workloads {
            let Some(measured) = windows.get(&(concurrency, w.id)) else {
                continue;
            };
            let of = |f: fn(&load::Window) -> f64| {
                let values: Vec<f64> = measured.iter().map(|(_, w)| f(w)).collect();
                stats::quantile(&values, 0.5)
            };
            let ratio = |ceiling: &'static str| paired(windows, concurrency, w.id, ceiling).map(|s| s.median);
            rows.push(Row {
                id: w.id,
                label: w.label.clone(),
                protocol: w.request.protocol,
                concurrency,
                windows: measured.len(),
                rps: of(|w| w.rps),
                p50_us: of(|w| w.p50_us),
                p99_us: of(|w| w.p99_us),
                vs_echo: (w.id != "echo").then(|| ratio("echo")).flatten(),
                vs_storage: w.ceiling.and_then(ratio),
            });
        }
    }
    let rss_mib = peak_rss_kib as f64 / 1024.0;
    let sqlite = backend == Backend::Sqlite;
    let mut targets = Vec::new();
    let mut target = |name: &str, spread: Option<Spread>, bound: Option<report::Bound>| {
        if let Some(spread) = spread {
            targets.push(Target::new(name, spread, bound));
        }
    };
    use report::Bound::{AtLeast, AtMost};
    target(
        "GetRunner gRPC / plain tonic + SeaORM point read, c16",
        paired(windows, 16, "get_grpc", "point_read"),
        sqlite.then_some(AtLeast(0.80)),
    );
    target(
        "GetRunner Connect+proto / gRPC, c16",
        paired(windows, 16, "get_connect", "get_grpc"),
        sqlite.then_some(AtLeast(0.85)),
    );
    target(
        "GetRunner Connect+JSON / gRPC, c16",
        paired(windows, 16, "get_json", "get_grpc"),
        sqlite.then_some(AtLeast(0.70)),
    );
    target(
        "ListRunners time per call, last page of the large fleet / first page of the small one, c16",
        // time per call is 1 / throughput
        paired(windows, 16, "list_first", "list_last"),
        Some(AtMost(1.3)),
    );
    target(
        "ListRunners time per call, last page of the large fleet / first page of the small one, c64",
        paired(windows, 64, "list_first", "list_last"),
        (!sqlite).then_some(AtMost(1.3)),
    );
    // The twin and the --no-metrics paddock started together and have
    // served the same calls: the first paddock has also walked the large
    // fleet page by page (the last page's token), and the A/A pair shows it
    // runs slower since.
    target(
        "GetRunner gRPC, paddock with metrics (the twin) / without (--no-metrics), c16",
        paired(windows, 16, "get_twin", "get_no_metrics"),
        sqlite.then_some(report::Bound::WithinNoise(0.97)),
    );
    target(
        "GetRunner gRPC, paddock / an identical second paddock (A/A: what two processes differ by), c16",
        paired(windows, 16, "get_grpc", "get_twin"),
        None,
    );
    target(
        "CreateRunner / bare SeaORM transaction of the same writes, c16",
        paired(windows, 16, "create", "insert_pair"),
        Some(AtLeast(0.70)),
    );
    target(
        "plain tonic + SeaORM point read / bare echo, c16 (for scale)",
        paired(windows, 16, "point_read", "echo"),
        None,
    );
    targets.push(Target::new(
        "paddock peak RSS during the c64 runs, MiB",
        Spread {
            median: rss_mib,
            q1: rss_mib,
            q3: rss_mib,
            n: 1,
        },
        Some(AtMost(64.0)),
    ));
    BackendReport {
        backend,
        rows,
        targets,
        peak_rss_mib: rss_mib,
        seed_seconds,
        cut_calls: 0,
        warnings: Vec::new(),
        point_read_tuning: Vec::new(),
        replicas: Vec::new(),
    }
}

/// Pool sizes the point-read ceiling is measured with; the fastest becomes
/// the ceiling.
fn pool_candidates(backend: Backend) -> &'static [u32] {
    match backend {
        Backend::Sqlite => &[1, 2, 4, 8],
        Backend::Postgres => &[4, 8, 16, 32],
    }
}

/// Finds the fastest plain point-read server on this machine: every
/// candidate pool size runs as its own process, all measured at c16 in
/// alternating rounds; the one with the best median is kept, the others stop.
fn tune_point_read(
    backend: Backend,
    options: &Options,
    database_url: &str,
    fixture: &seed::Fixture,
    get: &pb::GetRunnerRequest,
    scratch: &Path,
) -> anyhow::Result<(Server, u32, Vec<report::Tuning>)> {
    let mut candidates = Vec::new();
    for &pool in pool_candidates(backend) {
        let name = format!("point-read-{pool}");
        let server = start_reference_named(&name, "point-read", database_url, &[pool.to_string()], scratch)?;
        let url = format!("{}/gitpod.v1.RunnerService/GetRunner", server.url);
        let request = Request::new(
            scratch,
            &name,
            url,
            Protocol::Grpc,
            Some(fixture.small_token.clone()),
            &get.encode_to_vec(),
        )?;
        candidates.push((pool, server, request, Vec::new()));
    }
    let rounds = if options.quick { 2 } else { 4 };
    for round in 0..rounds {
        let mut line = format!("tuning point read, round {round}:");
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let (pool, server, request, measured) = &mut candidates[i];
            let window = load::window(request, 16, options.warmup, options.measure, scratch)?;
            server.check_calls(16)?;
            line += &format!(" pool {pool} {:.0}", window.rps);
            measured.push(window.rps);
        }
        eprintln!("{line}");
    }
    let tuning: Vec<report::Tuning> = candidates
        .iter()
        .map(|(pool, _, _, measured)| report::Tuning {
            pool: *pool,
            rps: Spread::of(measured),
        })
        .collect();
    let best = tuning
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.rps.median.total_cmp(&b.1.rps.median))
        .map(|(i, _)| i)
        .context("no pool candidates")?;
    let (pool, server, _, _) = candidates.swap_remove(best);
    // the others stop as they drop
    Ok((server, pool, tuning))
}

fn start_reference_named(
    name: &str,
    kind: &str,
    arg: &str,
    extra: &[String],
    scratch: &Path,
) -> anyhow::Result<Server> {
    let port = free_port()?;
    let mut command = Command::new(std::env::current_exe()?);
    command.args(["reference", kind, &format!("127.0.0.1:{port}"), arg]);
    command.args(extra);
    Server::start(
        name,
        command,
        port,
        scratch.join(format!("{name}-{port}.log")),
        LogKind::Reference,
    )
}

/// GetRunner, ListRunners' first page and heartbeats against one replica
/// with all callers, then against two replicas on the same database with
/// half the callers each (two h2load processes at once), in alternating
/// rounds. On this 2-core machine both replicas and the database share the
/// same cores, so this shows what a second replica costs, not scale-out.
fn measure_replicas(
    first: &mut Server,
    database_url: &str,
    key_file: &Path,
    fixture: &seed::Fixture,
    get: &pb::GetRunnerRequest,
    options: &Options,
    scratch: &Path,
) -> anyhow::Result<Vec<report::ReplicaRow>> {
    let mut second = start_paddock("paddock-replica-2", database_url, key_file, &[], scratch)?;
    let heartbeat = pb::MarkRunnerActiveRequest {
        runner_id: fixture.heartbeat_runner_id.to_string(),
    };
    let kinds: [(&str, &str, &str, Vec<u8>); 3] = [
        (
            "GetRunner",
            "RunnerService/GetRunner",
            &fixture.small_token,
            get.encode_to_vec(),
        ),
        (
            "ListRunners, first page",
            "RunnerService/ListRunners",
            &fixture.small_token,
            list_request("").encode_to_vec(),
        ),
        (
            "MarkRunnerActive (heartbeat)",
            "RunnerInteractionService/MarkRunnerActive",
            &fixture.heartbeat_token,
            heartbeat.encode_to_vec(),
        ),
    ];
    let concurrencies: &[usize] = if options.quick { &[16] } else { &[16, 64] };
    let rounds = if options.quick { 1 } else { 3 };
    let mut rows = Vec::new();
    for &concurrency in concurrencies {
        for (label, method, token, body) in &kinds {
            let request = |server: &Server, name: &str| {
                Request::new(
                    scratch,
                    name,
                    format!("{}/gitpod.v1.{method}", server.url),
                    Protocol::Grpc,
                    Some((*token).to_owned()),
                    body,
                )
            };
            let on_first = request(first, "replica-1")?;
            let on_second = request(&second, "replica-2")?;
            let (mut one, mut two) = (Vec::new(), Vec::new());
            for round in 0..rounds {
                // one replica before two in even rounds, after in odd ones
                let alone = |first: &mut Server| -> anyhow::Result<f64> {
                    let window = load::window(&on_first, concurrency, options.warmup, options.measure, scratch)?;
                    first.check_calls(concurrency)?;
                    Ok(window.rps)
                };
                if round % 2 == 0 {
                    one.push(alone(first)?);
                }
                let windows = load::windows_together(
                    &[(&on_first, concurrency / 2), (&on_second, concurrency / 2)],
                    options.warmup,
                    options.measure,
                    scratch,
                )?;
                first.check_calls(concurrency)?;
                second.check_calls(concurrency)?;
                two.push(windows.iter().map(|w| w.rps).sum::<f64>());
                if round % 2 == 1 {
                    one.push(alone(first)?);
                }
            }
            let ratios: Vec<f64> = two.iter().zip(&one).map(|(t, o)| t / o).collect();
            eprintln!(
                "replicas, {label} c{concurrency}: one {:.0} req/s, two {:.0} req/s",
                stats::quantile(&one, 0.5),
                stats::quantile(&two, 0.5)
            );
            rows.push(report::ReplicaRow {
                workload: (*label).to_owned(),
                concurrency,
                one: Spread::of(&one),
                two: Spread::of(&two),
                ratio: Spread::of(&ratios),
            });
        }
    }
    Ok(rows)
}

/// Nanoseconds paddock spends per call counting it for /metrics: the call's
/// counter and latency histogram and the token cache's counter, as
/// `server::call_log` and `auth` record them.
pub fn metrics_cost_ns() -> f64 {
    const CALLS: u32 = 1_000_000;
    let started = Instant::now();
    for i in 0..CALLS {
        paddock::base::metrics::record_call(
            "/gitpod.v1.RunnerService/GetRunner",
            "grpc",
            "OK",
            f64::from(i % 1000) / 1e6,
        );
        paddock::base::metrics::record_token_cache(true);
    }
    started.elapsed().as_nanos() as f64 / f64::from(CALLS)
}
