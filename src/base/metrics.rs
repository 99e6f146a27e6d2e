//! The instruments calls are counted with, for `/metrics` (served by
//! `server::metrics`). Every label has a bounded set of values — services,
//! methods the server declares, protocols, codes, phases — never an id.

use std::collections::HashSet;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};

use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use prost::Message;

/// The process's metrics (one set per process, like its log).
pub struct Metrics {
    pub(crate) registry: Registry,
    pub(crate) calls: IntCounterVec,
    pub(crate) latency: HistogramVec,
    pub heartbeats: IntCounter,
    pub watch_streams: IntGauge,
    /// The two series of `paddock_token_cache_lookups_total`, looked up once.
    pub(crate) token_cache_hits: IntCounter,
    pub(crate) token_cache_misses: IntCounter,
    pub runners: IntGaugeVec,
    pub(crate) db_connections: IntGaugeVec,
}

fn build() -> prometheus::Result<Metrics> {
    let registry = Registry::new();
    let calls = IntCounterVec::new(
        Opts::new(
            "paddock_rpc_calls_total",
            "Calls answered, by service, method, protocol and code.",
        ),
        &["service", "method", "protocol", "code"],
    )?;
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "paddock_rpc_duration_seconds",
            "Time from a call's request to the end of its answer, by service, method and protocol.",
        )
        .buckets(vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]),
        &["service", "method", "protocol"],
    )?;
    let heartbeats = IntCounter::new(
        "paddock_runner_heartbeats_total",
        "MarkRunnerActive calls accepted (lease renewals).",
    )?;
    let watch_streams = IntGauge::new("paddock_watch_streams_open", "WatchEvents streams open now.")?;
    let token_cache = IntCounterVec::new(
        Opts::new(
            "paddock_token_cache_lookups_total",
            "Bearer tokens looked up in the token cache: hit or miss.",
        ),
        &["result"],
    )?;
    let runners = IntGaugeVec::new(
        Opts::new(
            "paddock_runners",
            "Runners of all organizations by phase (counted at each scrape).",
        ),
        &["phase"],
    )?;
    let db_connections = IntGaugeVec::new(
        Opts::new(
            "paddock_db_connections",
            "Database connections by pool (write, read) and state (in_use, idle, max).",
        ),
        &["pool", "state"],
    )?;
    registry.register(Box::new(calls.clone()))?;
    registry.register(Box::new(latency.clone()))?;
    registry.register(Box::new(heartbeats.clone()))?;
    registry.register(Box::new(watch_streams.clone()))?;
    registry.register(Box::new(token_cache.clone()))?;
    registry.register(Box::new(runners.clone()))?;
    registry.register(Box::new(db_connections.clone()))?;
    Ok(Metrics {
        registry,
        calls,
        latency,
        heartbeats,
        watch_streams,
        token_cache_hits: token_cache.with_label_values(&["hit"]),
        token_cache_misses: token_cache.with_label_values(&["miss"]),
        runners,
        db_connections,
    })
}

/// Off by `--no-metrics`: nothing is counted from then on.
static OFF: AtomicBool = AtomicBool::new(false);

/// Stops counting, for the rest of the process.
pub fn turn_off() {
    OFF.store(true, Ordering::Relaxed);
}

/// The process's metrics; None when turned off, or if they could not be
/// made (a bug).
pub fn get() -> Option<&'static Metrics> {
    if OFF.load(Ordering::Relaxed) {
        return None;
    }
    static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| {
        build()
            .map_err(|e| tracing::error!(error = %e, "metrics are off: they could not be registered"))
            .ok()
    });
    METRICS.as_ref()
}

/// The methods the server declares: a path outside them is counted as
/// "other", so a client cannot grow the label sets.
fn known_methods() -> &'static HashSet<String> {
    static METHODS: LazyLock<HashSet<String>> = LazyLock::new(|| {
        let mut methods = HashSet::new();
        for set in [
            crate::protocol::proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ] {
            let Ok(set) = prost_types::FileDescriptorSet::decode(set) else {
                continue;
            };
            for file in &set.file {
                for service in &file.service {
                    for method in &service.method {
                        methods.insert(format!("/{}.{}/{}", file.package(), service.name(), method.name()));
                    }
                }
            }
        }
        methods
    });
    &METHODS
}

/// A call answered: `path` as requested, `protocol` and `code` as the call log says them.
pub fn record_call(path: &str, protocol: &'static str, code: &'static str, seconds: f64) {
    let Some(metrics) = get() else { return };
    let path = path.strip_prefix("/api").unwrap_or(path);
    let (service, method) = match known_methods().get(path) {
        Some(known) => known[1..].split_once('/').unwrap_or(("other", "other")),
        None if path.starts_with("/grpc.reflection.") => ("grpc.reflection", "ServerReflectionInfo"),
        None => ("other", "other"),
    };
    metrics
        .calls
        .with_label_values(&[service, method, protocol, code])
        .inc();
    metrics
        .latency
        .with_label_values(&[service, method, protocol])
        .observe(seconds);
}

/// A bearer token looked up in the cache.
pub fn record_token_cache(hit: bool) {
    if let Some(metrics) = get() {
        if hit {
            metrics.token_cache_hits.inc();
        } else {
            metrics.token_cache_misses.inc();
        }
    }
}

/// Counts an open watch stream until dropped.
pub struct OpenStream(());

impl OpenStream {
    pub fn open() -> OpenStream {
        if let Some(metrics) = get() {
            metrics.watch_streams.inc();
        }
        OpenStream(())
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        if let Some(metrics) = get() {
            metrics.watch_streams.dec();
        }
    }
}
