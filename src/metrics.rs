//! What operators scrape: `/metrics` in the Prometheus text format, on the
//! main port or on `--metrics-listen`. Every label has a bounded set of
//! values — services, methods the server declares, protocols, codes,
//! phases — never an id.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use prost::Message;
use sea_orm::ConnectionTrait;
use tonic::body::Body;
use tower::{Layer, Service};

use crate::store::Db;

pub const PATH: &str = "/metrics";

/// The process's metrics (one set per process, like its log).
pub struct Metrics {
    registry: Registry,
    calls: IntCounterVec,
    latency: HistogramVec,
    pub heartbeats: IntCounter,
    pub watch_streams: IntGauge,
    /// The two series of `paddock_token_cache_lookups_total`, looked up once.
    token_cache_hits: IntCounter,
    token_cache_misses: IntCounter,
    pub runners: IntGaugeVec,
    db_connections: IntGaugeVec,
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
        for set in [crate::proto::FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET] {
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

fn pool_gauges(metrics: &Metrics, name: &str, db: &Db) {
    let (size, idle, max) = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle(), pool.options().get_max_connections())
        }
        sea_orm::DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle(), pool.options().get_max_connections())
        }
        _ => return,
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX);
    let set = |state: &str, value: u32| {
        metrics
            .db_connections
            .with_label_values(&[name, state])
            .set(i64::from(value));
    };
    set("in_use", size.saturating_sub(idle));
    set("idle", idle);
    set("max", max);
}

/// The text of `/metrics`, with the runners and the pools' gauges read now.
pub async fn render(db: &Db, read_db: &Db) -> String {
    let Some(metrics) = get() else {
        return String::new();
    };
    count_runners(metrics, read_db).await;
    pool_gauges(metrics, "write", db);
    pool_gauges(metrics, "read", read_db);
    let mut text = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&metrics.registry.gather(), &mut text) {
        tracing::warn!(error = %e, "encoding the metrics failed");
    }
    String::from_utf8(text).unwrap_or_default()
}

/// Counts runners by phase, now (one grouped, indexed query per scrape).
async fn count_runners(metrics: &Metrics, db: &Db) {
    match crate::store::runners::count_by_phase(db).await {
        Ok(counts) => {
            metrics.runners.reset();
            for (phase, count) in counts {
                metrics.runners.with_label_values(&[phase_name(phase)]).set(count);
            }
        }
        Err(e) => tracing::warn!(error = %e, "counting runners by phase failed"),
    }
}

fn phase_name(phase: i32) -> &'static str {
    use crate::proto::gitpod::v1::RunnerPhase;
    RunnerPhase::try_from(phase).map_or("RUNNER_PHASE_UNSPECIFIED", |p| p.as_str_name())
}

/// Serves `GET /metrics` in front of the services; everything else passes.
#[derive(Clone)]
pub struct MetricsLayer {
    db: Db,
    read_db: Db,
}

impl MetricsLayer {
    pub fn new(db: Db, read_db: Db) -> Self {
        MetricsLayer { db, read_db }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsEndpoint<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsEndpoint {
            inner,
            db: self.db.clone(),
            read_db: self.read_db.clone(),
        }
    }
}

#[derive(Clone)]
pub struct MetricsEndpoint<S> {
    inner: S,
    db: Db,
    read_db: Db,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MetricsEndpoint<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    ReqBody: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<tower::BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = MetricsFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if request.uri().path() == PATH && (request.method() == Method::GET || request.method() == Method::HEAD) {
            let (db, read_db) = (self.db.clone(), self.read_db.clone());
            return MetricsFuture::Scrape {
                future: Box::pin(async move {
                    let text = render(&db, &read_db).await;
                    let mut response = Response::new(Body::new(http_body_util::Full::new(Bytes::from(text))));
                    *response.status_mut() = StatusCode::OK;
                    response.headers_mut().insert(
                        CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                    );
                    Ok(response)
                }),
            };
        }
        // every other call passes straight through: no clone of the stack
        // behind, no boxed future
        MetricsFuture::Call {
            future: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// A scrape of /metrics, or any other call on its way through.
    #[project = MetricsFutureProjection]
    pub enum MetricsFuture<F, E> {
        Scrape { future: BoxFuture<Response<Body>, E> },
        Call { #[pin] future: F },
    }
}

impl<F, E, ResBody> Future for MetricsFuture<F, E>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<tower::BoxError>,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            MetricsFutureProjection::Scrape { future } => future.as_mut().poll(cx),
            MetricsFutureProjection::Call { future } => future.poll(cx).map_ok(|response| response.map(Body::new)),
        }
    }
}
