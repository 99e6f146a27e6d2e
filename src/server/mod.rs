//! Assembles the one port: gRPC (h2c), gRPC-Web and Connect (HTTP/1.1 and
//! h2) for every service, reflection and health, CORS; graceful shutdown.

pub mod admin;
pub mod call_log;
pub mod cli;
pub mod console;
pub mod health;
pub mod log_writer;
pub mod metrics;
pub mod settings;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use futures_util::StreamExt;
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_web::GrpcWebLayer;

use crate::api::event::EventApi;
use crate::api::fleet::FleetApi;
use crate::api::group::GroupApi;
use crate::api::identity::IdentityApi;
use crate::api::organization::OrganizationApi;
use crate::api::runner::RunnerApi;
use crate::api::runner_configuration::RunnerConfigurationApi;
use crate::api::runner_interaction::RunnerInteractionApi;
use crate::api::runner_tokens::RunnerTokenApi;
use crate::api::state::AppState;
use crate::api::user::UserApi;
use crate::auth::cache::TokenCache;
use crate::auth::layer::AuthLayer;
use crate::auth::well_known::WellKnownLayer;
use crate::base::secrets::Secrets;
use crate::protocol::connect::{ConnectLayer, Routes};
use crate::protocol::connection::{Connection, CountCallsLayer};
use crate::protocol::header_limit::HeaderLimitLayer;
use crate::protocol::proto::FILE_DESCRIPTOR_SET;
use crate::protocol::proto::gitpod::v1::event_service_server::EventServiceServer;
use crate::protocol::proto::gitpod::v1::group_service_server::GroupServiceServer;
use crate::protocol::proto::gitpod::v1::identity_service_server::IdentityServiceServer;
use crate::protocol::proto::gitpod::v1::organization_service_server::OrganizationServiceServer;
use crate::protocol::proto::gitpod::v1::runner_configuration_service_server::RunnerConfigurationServiceServer;
use crate::protocol::proto::gitpod::v1::runner_interaction_service_server::RunnerInteractionServiceServer;
use crate::protocol::proto::gitpod::v1::runner_service_server::RunnerServiceServer;
use crate::protocol::proto::gitpod::v1::user_service_server::UserServiceServer;
use crate::protocol::proto::paddock::v1::fleet_service_server::FleetServiceServer;
use crate::protocol::proto::paddock::v1::runner_token_service_server::RunnerTokenServiceServer;
use crate::server::call_log::CallLogLayer;
use crate::server::console::ConsoleLayer;
use crate::server::metrics::MetricsLayer;
use crate::server::settings::Settings;
use crate::store;

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
    tracing::info!(
        listen = %listener.local_addr()?,
        database = %store::redact(&settings.database_url),
        "paddock serving gRPC, gRPC-Web and Connect"
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

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing calls in flight");
}

/// Serves every protocol on `listener` until `shutdown` resolves; calls in
/// flight then finish before this returns.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    settings: &Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // every service registered below, so that each is reachable over Connect
    let limits = settings.limits;
    let connect = ConnectLayer::new(
        Routes::new(&[
            FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ])?
        .with_max_message_size(limits.max_message_bytes),
    );
    let cors = crate::protocol::cors::layer(&settings.cors_origins)?;
    macro_rules! gitpod_service {
        ($server:ident, $api:expr) => {
            $server::new($api)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limits.max_message_bytes)
        };
    }
    let runner = gitpod_service!(RunnerServiceServer, RunnerApi::new(state.clone()));
    let configuration = gitpod_service!(
        RunnerConfigurationServiceServer,
        RunnerConfigurationApi::new(state.clone())
    );
    let identity = gitpod_service!(IdentityServiceServer, IdentityApi::new(state.clone()));
    let interaction = gitpod_service!(RunnerInteractionServiceServer, RunnerInteractionApi::new(state.clone()));
    let events = gitpod_service!(EventServiceServer, EventApi::new(state.clone()));
    let groups = gitpod_service!(GroupServiceServer, GroupApi::new(state.clone()));
    let users = gitpod_service!(UserServiceServer, UserApi::new(state.clone()));
    let organizations = gitpod_service!(OrganizationServiceServer, OrganizationApi::new(state.clone()));
    let runner_tokens = gitpod_service!(RunnerTokenServiceServer, RunnerTokenApi::new(state.clone()));
    let fleet = gitpod_service!(FleetServiceServer, FleetApi::new(state.clone()));

    // reflection lists every service served, health and reflection itself
    // included (as Go's does), so tools can call each by name and a client
    // can enumerate them all
    let described = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = described().build_v1()?;
    let reflection_v1alpha = described().build_v1alpha()?;

    // every service SERVING, then following the database (src/health.rs)
    let (health_reporter, health) = tonic_health::server::health_reporter();
    let services = {
        use tonic::server::NamedService;
        vec![
            <RunnerServiceServer<RunnerApi> as NamedService>::NAME,
            <RunnerConfigurationServiceServer<RunnerConfigurationApi> as NamedService>::NAME,
            <IdentityServiceServer<IdentityApi> as NamedService>::NAME,
            <RunnerInteractionServiceServer<RunnerInteractionApi> as NamedService>::NAME,
            <EventServiceServer<EventApi> as NamedService>::NAME,
            <GroupServiceServer<GroupApi> as NamedService>::NAME,
            <UserServiceServer<UserApi> as NamedService>::NAME,
            <OrganizationServiceServer<OrganizationApi> as NamedService>::NAME,
            <RunnerTokenServiceServer<RunnerTokenApi> as NamedService>::NAME,
            <FleetServiceServer<FleetApi> as NamedService>::NAME,
        ]
    };
    for service in &services {
        health_reporter
            .set_service_status(*service, tonic_health::ServingStatus::Serving)
            .await;
    }
    tokio::spawn(crate::server::health::follow_database(
        state.db.clone(),
        health_reporter.clone(),
        services,
        crate::server::health::PROBE_EVERY,
        state.stopping.subscribe(),
    ));

    // The shutdown signal stops new calls at once; calls in flight get up to
    // SHUTDOWN_GRACE to finish, so that one stuck client cannot hold the
    // process (and a rolling deploy) forever.
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

    // leases of ACTIVE runners are written in batches; the last batch at shutdown
    let (flusher_stop, flusher_stopped) = tokio::sync::oneshot::channel::<()>();
    let flusher = tokio::spawn(crate::fleet::liveness::run_flusher(
        state.leases.clone(),
        state.db.clone(),
        crate::fleet::liveness::flush_interval(state.runner_lease),
        async {
            let _ = flusher_stopped.await;
        },
    ));

    // when tokens were last used, written in batches; the last batch at shutdown
    let (usage_stop, usage_stopped) = tokio::sync::oneshot::channel::<()>();
    let usage = tokio::spawn(crate::auth::usage::run_flusher(
        state.token_usage.clone(),
        state.db.clone(),
        crate::auth::usage::flush_interval(settings.token_cache_ttl),
        async {
            let _ = usage_stopped.await;
        },
    ));

    // signing keys rotated through another replica or the admin CLI
    let (keys_stop, keys_stopped) = tokio::sync::oneshot::channel::<()>();
    let keys = tokio::spawn(crate::auth::signing::run_reloader(
        state.signing.clone(),
        state.db.clone(),
        state.secrets.clone(),
        async {
            let _ = keys_stopped.await;
        },
    ));

    // runners whose lease ran out become INACTIVE (every replica sweeps;
    // each transition is made once between them)
    let (sweeper_stop, sweeper_stopped) = tokio::sync::oneshot::channel::<()>();
    let sweeper = tokio::spawn(crate::fleet::liveness::run_sweeper(
        state.db.clone(),
        state.leases.clone(),
        settings.liveness(),
        async {
            let _ = sweeper_stopped.await;
        },
    ));

    // PostgreSQL: every replica hears every change (NOTIFY) for its watchers
    let (listener_stop, listener_stopped) = tokio::sync::oneshot::channel::<()>();
    let event_listener = if settings.database_url.starts_with("postgres") {
        // LISTEN before serving, so no watcher opens a stream it could miss
        // changes on; should it fail, the task keeps trying (and tells watchers)
        let first = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            crate::base::events::listen(&settings.database_url),
        )
        .await
        .ok()
        .and_then(Result::ok);
        Some(tokio::spawn(crate::base::events::run_listener(
            settings.database_url.clone(),
            state.replica,
            first,
            async {
                let _ = listener_stopped.await;
            },
        )))
    } else {
        None
    };

    // audit log entries past their retention go, a batch at a time, hourly
    let (pruner_stop, pruner_stopped) = tokio::sync::oneshot::channel::<()>();
    let pruner = tokio::spawn(crate::fleet::audit_retention::run_pruner(
        state.db.clone(),
        settings.audit_retention,
        std::time::Duration::from_secs(3600),
        async {
            let _ = pruner_stopped.await;
        },
    ));

    // /metrics on a port of its own, when asked for (else on the main port)
    let metrics_server = match settings.metrics_listen {
        Some(address) => {
            let listener = TcpListener::bind(address).await.map_err(|e| {
                anyhow::anyhow!("cannot listen on {address} for /metrics ({e}): choose another --metrics-listen")
            })?;
            tracing::info!(metrics_listen = %listener.local_addr()?, "serving /metrics");
            let (_, health) = tonic_health::server::health_reporter();
            let metrics = Server::builder()
                .accept_http1(true)
                .layer(MetricsLayer::new(state.db.clone(), state.read_db.clone()))
                .add_service(health)
                .serve_with_incoming_shutdown(TcpIncoming::from(listener), {
                    let mut stopping = state.stopping.subscribe();
                    async move {
                        let _ = stopping.wait_for(|stopping| *stopping).await;
                    }
                });
            Some(tokio::spawn(metrics))
        }
        None => None,
    };
    let metrics_here = (settings.metrics && settings.metrics_listen.is_none())
        .then(|| MetricsLayer::new(state.db.clone(), state.read_db.clone()));
    if !settings.metrics {
        crate::base::metrics::turn_off();
    }

    let idle_timeout = Some(limits.idle_timeout).filter(|t| !t.is_zero());
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .map(move |accepted| accepted.map(|io| Connection::new(io, idle_timeout)));
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
        .add_service(runner)
        .add_service(configuration)
        .add_service(identity)
        .add_service(interaction)
        .add_service(events)
        .add_service(groups)
        .add_service(users)
        .add_service(organizations)
        .add_service(runner_tokens)
        .add_service(fleet)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(health)
        .serve_with_incoming_shutdown(incoming, stop_accepting);
    let result = tokio::select! {
        served = serving => served.context("serving"),
        _ = signal => {
            tracing::warn!("calls still in flight after {SHUTDOWN_GRACE:?}; stopping anyway");
            Ok(())
        }
    };
    let _ = sweeper_stop.send(());
    let _ = pruner_stop.send(());
    let _ = listener_stop.send(());
    if let Some(event_listener) = event_listener {
        let _ = event_listener.await;
    }
    let _ = flusher_stop.send(());
    let _ = usage_stop.send(());
    let _ = keys_stop.send(());
    if let Some(metrics_server) = metrics_server {
        let _ = metrics_server.await;
    }
    for (task, finished) in [
        ("signing key reloader", keys.await),
        ("token use recorder", usage.await),
        ("liveness sweep", sweeper.await),
        ("audit pruner", pruner.await),
        ("lease flusher", flusher.await),
    ] {
        if let Err(e) = finished {
            tracing::error!(error = %e, "the {task} task failed");
        }
    }
    result
}
