//! What operators scrape: `/metrics` in the Prometheus text format, on the
//! main port or on `--metrics-listen`, with the gauges read at each scrape
//! (runners by phase, the database pools).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use prometheus::{Encoder, TextEncoder};
use sea_orm::ConnectionTrait;
use tonic::body::Body;
use tower::{Layer, Service};

use crate::base::metrics::{Metrics, get};
use crate::store::Db;

pub const PATH: &str = "/metrics";

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
    use crate::protocol::proto::gitpod::v1::RunnerPhase;
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

/// /metrics on a port of its own (`--metrics-listen`) until `stop`, with
/// gRPC health beside it.
pub(crate) async fn serve_apart(
    listener: tokio::net::TcpListener,
    layer: MetricsLayer,
    stop: impl Future<Output = ()>,
) {
    let (_, health) = tonic_health::server::health_reporter();
    let served = tonic::transport::Server::builder()
        .accept_http1(true)
        .layer(layer)
        .add_service(health)
        .serve_with_incoming_shutdown(tonic::transport::server::TcpIncoming::from(listener), stop);
    if let Err(e) = served.await {
        tracing::error!(error = %e, "serving /metrics failed");
    }
}
