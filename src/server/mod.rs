//! The running server: boot, command line, settings, services, background tasks, health, /metrics, call log, console.
//! May import: everything.
//!
//! `run` is the boot sequence: bind, open the database, serve every protocol on one port, stop cleanly.

pub mod admin;
pub mod call_log;
pub mod cli;
pub mod console;
pub mod health;
pub mod log_writer;
pub mod metrics;
pub mod services;
pub mod settings;
pub mod tasks;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_web::GrpcWebLayer;

use crate::api::state::AppState;
use crate::auth::cache::TokenCache;
use crate::auth::layer::AuthLayer;
use crate::auth::well_known::WellKnownLayer;
use crate::base::secrets::Secrets;
use crate::protocol::connect::{ConnectLayer, Routes};
use crate::protocol::connection::{Connection, CountCallsLayer};
use crate::protocol::header_limit::HeaderLimitLayer;
use crate::server::call_log::CallLogLayer;
use crate::server::console::ConsoleLayer;
use crate::server::metrics::MetricsLayer;
use crate::server::services::{DESCRIPTOR_SETS, Services};
use crate::server::settings::Settings;
use crate::server::tasks::Tasks;
use crate::store;
use crate::{auth, fleet};

/// How long calls in flight may take to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// `paddock serve`: prepares, binds `settings.listen` and serves until
/// `shutdown` resolves.
pub async fn run(mut settings: Settings, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let listener = TcpListener::bind(settings.listen).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {} ({e}): choose another address with --listen or PADDOCK_LISTEN",
            settings.listen
        )
    })?;
    // the default public URL is where paddock listens: the port it got, when
    // asked for any (`--listen 127.0.0.1:0`)
    if settings.public_url == format!("http://{}", settings.listen) {
        settings.public_url = format!("http://{}", listener.local_addr()?);
    }
    let state = prepare(&settings).await?;
    // the first thing a newcomer reads: where the API and the console are
    tracing::info!(
        listen = %listener.local_addr()?,
        database = %store::redact(&settings.database_url),
        "paddock serving gRPC, gRPC-Web and Connect; the console at {}/",
        state.public_url
    );
    serve(listener, state, &settings, shutdown).await
}

/// Opens the database, checks the secret key, bootstraps the admin token.
pub async fn prepare(settings: &Settings) -> anyhow::Result<AppState> {
    let db = store::connect_pooled(
        &settings.database_url,
        settings.database_pool_size.unwrap_or(store::POSTGRES_POOL),
        settings.database_timeout,
    )
    .await?;
    let secrets = Secrets::new(&settings.secret_key);
    store::secret_key::verify_or_record(&db, &secrets).await?;
    if let Some(token) = &settings.admin_token {
        crate::server::admin::ensure_admin_token(&db, token)
            .await
            .context("bootstrapping the --admin-token admin")?;
    }
    let read_db = store::connect_readers(
        &settings.database_url,
        settings.database_pool_size.unwrap_or(store::SQLITE_READERS),
    )
    .await?
    .unwrap_or_else(|| db.clone());
    let public_url = settings.public_url.trim_end_matches('/').to_owned();
    let signing = crate::auth::signing::KeyRing::load(&db, &secrets, public_url.clone())
        .await
        .context("loading the JWT signing keys")?;
    Ok(AppState {
        db,
        read_db,
        secrets: Arc::new(secrets),
        signing,
        token_cache: Arc::new(TokenCache::new(
            settings.token_cache_ttl,
            crate::auth::cache::DEFAULT_CAPACITY,
        )),
        token_usage: Arc::default(),
        public_url,
        scm_api_urls: settings.scm_api_urls.clone(),
        leases: Arc::default(),
        runner_lease: settings.runner_lease,
        runner_releases: Arc::new(settings.runner_releases.clone()),
        stopping: Arc::new(tokio::sync::watch::channel(false).0),
        replica: uuid::Uuid::now_v7(),
        limits: Arc::new(crate::auth::limits::Limits::new(settings.limits)),
        stale_after: settings.stale_after,
    })
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed now, not when
/// the future is first polled: a SIGTERM that arrives while the server is
/// still starting is a clean shutdown too, never the default death.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    async move {
        #[cfg(unix)]
        tokio::select! {
            Some(_) = async { terminate.as_mut()?.recv().await } => {},
            Some(_) = async { interrupt.as_mut()?.recv().await } => {},
            // neither could be installed: run until killed
            else => std::future::pending::<()>().await,
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing calls in flight");
    }
}

/// Serves every protocol on `listener` until `shutdown` resolves; calls in
/// flight then finish (for up to `SHUTDOWN_GRACE`), the background tasks
/// stop, and this returns.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    settings: &Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // everything that can refuse to start, before any task runs
    let limits = settings.limits;
    let services = Services::new(&state, limits.max_message_bytes)?;
    let cors = crate::protocol::cors::layer(&settings.cors_origins)?;
    let connect = ConnectLayer::new(Routes::new(DESCRIPTOR_SETS)?.with_max_message_size(limits.max_message_bytes));
    let metrics_apart = match settings.metrics_listen {
        Some(address) => {
            let listener = TcpListener::bind(address).await.map_err(|e| {
                anyhow::anyhow!("cannot listen on {address} for /metrics ({e}): choose another --metrics-listen")
            })?;
            tracing::info!(metrics_listen = %listener.local_addr()?, "serving /metrics");
            Some(listener)
        }
        None => None,
    };
    let metrics_here = (settings.metrics && settings.metrics_listen.is_none())
        .then(|| MetricsLayer::new(state.db.clone(), state.read_db.clone()));
    if !settings.metrics {
        crate::base::metrics::turn_off();
    }

    // every service SERVING, then following the database (health.rs) until
    // the shutdown signal, as /metrics' own port does: a balancer stops
    // sending calls the moment this replica stops taking them
    let names = services.names().to_vec();
    let (reporter, health) = tonic_health::server::health_reporter();
    let routes = services.routes(&reporter, health).await;
    let mut tasks = Tasks::default();
    let (db, signalled) = (state.db.clone(), shutdown_begun(&state));
    tasks.spawn("health follower", move |_| {
        health::follow_database(db, reporter, names, health::PROBE_EVERY, signalled)
    });
    if let Some(listener) = metrics_apart {
        let (layer, signalled) = (
            MetricsLayer::new(state.db.clone(), state.read_db.clone()),
            shutdown_begun(&state),
        );
        tasks.spawn("/metrics server", move |_| {
            metrics::serve_apart(listener, layer, signalled)
        });
    }
    start_background_tasks(&mut tasks, &state, settings).await;

    // The shutdown signal stops new calls at once (and ends watch streams);
    // calls in flight get up to SHUTDOWN_GRACE to finish, so that one stuck
    // client cannot hold the process (and a rolling deploy) forever.
    let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
    let streams_stopping = state.stopping.clone();
    let signal = async move {
        shutdown.await;
        let _ = stopping_tx.send(true);
        streams_stopping.send_replace(true);
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    let stop_accepting = async move {
        let _ = stopping_rx.wait_for(|stopping| *stopping).await;
    };

    let idle_timeout = Some(limits.idle_timeout).filter(|t| !t.is_zero());
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .map(move |accepted| accepted.map(|io| Connection::new(io, idle_timeout)));
    // outermost first: each layer sees what the one above passed on
    let serving = Server::builder()
        .accept_http1(true)
        .http2_max_header_list_size(limits.max_header_bytes)
        .max_concurrent_streams(limits.streams_per_connection)
        .layer(CountCallsLayer)
        .layer(HeaderLimitLayer::new(limits.max_header_bytes))
        .layer(ConsoleLayer)
        .layer(CallLogLayer)
        .layer(tower::util::option_layer(cors))
        .layer(WellKnownLayer::new(state.signing.clone()))
        .layer(tower::util::option_layer(metrics_here))
        .layer(connect)
        .layer(GrpcWebLayer::new())
        .layer(AuthLayer::new(
            state.read_db.clone(),
            state.token_cache.clone(),
            state.token_usage.clone(),
            state.limits.clone(),
        ))
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, stop_accepting);
    let result = tokio::select! {
        served = serving => served.context("serving"),
        _ = signal => {
            tracing::warn!("calls still in flight after {SHUTDOWN_GRACE:?}; stopping anyway");
            Ok(())
        }
    };
    tasks.stop().await;
    result
}

/// Resolves when the shutdown signal has come (the server stops taking
/// calls, and ends its watch streams).
fn shutdown_begun(state: &AppState) -> impl Future<Output = ()> + Send + 'static {
    let mut stopping = state.stopping.subscribe();
    async move {
        let _ = stopping.wait_for(|stopping| *stopping).await;
    }
}

/// The work every replica does beside answering calls.
async fn start_background_tasks(tasks: &mut Tasks, state: &AppState, settings: &Settings) {
    // leases of ACTIVE runners are written in batches; the last batch at shutdown
    let (book, db, every) = (
        state.leases.clone(),
        state.db.clone(),
        fleet::liveness::flush_interval(state.runner_lease),
    );
    tasks.spawn("lease flusher", move |stop| {
        fleet::liveness::run_flusher(book, db, every, stop)
    });
    // when tokens were last used, written in batches; the last batch at shutdown
    let (book, db, every) = (
        state.token_usage.clone(),
        state.db.clone(),
        auth::usage::flush_interval(settings.token_cache_ttl),
    );
    tasks.spawn("token use recorder", move |stop| {
        auth::usage::run_flusher(book, db, every, stop)
    });
    // signing keys rotated through another replica or the admin CLI
    let (ring, db, secrets) = (state.signing.clone(), state.db.clone(), state.secrets.clone());
    tasks.spawn("signing key reloader", move |stop| {
        auth::signing::run_reloader(ring, db, secrets, stop)
    });
    // runners whose lease ran out become INACTIVE (every replica sweeps;
    // each transition is made once between them)
    let (db, book, policy) = (state.db.clone(), state.leases.clone(), settings.liveness());
    tasks.spawn("liveness sweep", move |stop| {
        fleet::liveness::run_sweeper(db, book, policy, stop)
    });
    // audit log entries past their retention go, a batch at a time, hourly
    let (db, retention) = (state.db.clone(), settings.audit_retention);
    tasks.spawn("audit pruner", move |stop| {
        fleet::audit_retention::run_pruner(db, retention, Duration::from_secs(3600), stop)
    });
    // PostgreSQL: every replica hears every change (NOTIFY) for its watchers
    if settings.database_url.starts_with("postgres") {
        // LISTEN before serving, so no watcher opens a stream it could miss
        // changes on; should it fail, the task keeps trying (and tells watchers)
        let first = tokio::time::timeout(
            Duration::from_secs(10),
            crate::base::events::listen(&settings.database_url),
        )
        .await
        .ok()
        .and_then(Result::ok);
        let (url, replica) = (settings.database_url.clone(), state.replica);
        tasks.spawn("event listener", move |stop| {
            crate::base::events::run_listener(url, replica, first, stop)
        });
    }
}
