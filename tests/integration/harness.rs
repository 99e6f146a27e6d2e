//! The shared test harness: a real paddock server on an ephemeral port over a
//! real database (a fresh SQLite file, or a fresh PostgreSQL database when
//! PADDOCK_TEST_DATABASE=postgres), called through real tonic clients over
//! gRPC, gRPC-Web or Connect (binary or JSON).

use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderValue, Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use paddock::api::state::AppState;
use paddock::base::secrets::SecretKey;
use paddock::server::{self, admin, settings as config};
use paddock::store;
use sea_orm::{ConnectionTrait, Database};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::body::Body;
use tonic::codec::CompressionEncoding;
use tower::util::BoxCloneService;
use tower::{BoxError, Layer, ServiceBuilder, ServiceExt};
use uuid::Uuid;

pub use paddock::protocol::proto::gitpod::v1 as pb;
pub use paddock::protocol::proto::paddock::v1 as ppb;
pub use pb::event_service_client::EventServiceClient;
pub use pb::group_service_client::GroupServiceClient;
pub use pb::identity_service_client::IdentityServiceClient;
pub use pb::organization_service_client::OrganizationServiceClient;
pub use pb::runner_configuration_service_client::RunnerConfigurationServiceClient;
pub use pb::runner_interaction_service_client::RunnerInteractionServiceClient;
pub use pb::runner_service_client::RunnerServiceClient;
pub use pb::user_service_client::UserServiceClient;
pub use ppb::runner_token_service_client::RunnerTokenServiceClient;

pub type Transport = BoxCloneService<Request<Body>, Response<Body>, BoxError>;

use crate::connect_client::{Codec, ConnectClient};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    GrpcWeb,
    /// Connect unary calls with binary (application/proto) bodies
    ConnectProto,
    /// Connect unary calls with proto3 JSON (application/json) bodies
    ConnectJson,
}

pub const PROTOCOLS: [Protocol; 4] = [
    Protocol::Grpc,
    Protocol::GrpcWeb,
    Protocol::ConnectProto,
    Protocol::ConnectJson,
];

/// Runs a behaviour test over every protocol: after
/// `async fn name(protocol: Protocol) { ... }`, `protocol_tests!(name);`
/// makes a module `name` with one test per protocol (`name::grpc`,
/// `name::grpc_web`, `name::connect_proto`, `name::connect_json`). Arguments
/// after the name configure the runtime as in `#[tokio::test(...)]`, e.g.
/// `protocol_tests!(name, flavor = "multi_thread", worker_threads = 2);`.
macro_rules! protocol_tests {
    ($name:ident $(, $($runtime:tt)+)?) => {
        mod $name {
            #[tokio::test$(($($runtime)+))?]
            async fn grpc() {
                super::$name($crate::harness::Protocol::Grpc).await
            }

            #[tokio::test$(($($runtime)+))?]
            async fn grpc_web() {
                super::$name($crate::harness::Protocol::GrpcWeb).await
            }

            #[tokio::test$(($($runtime)+))?]
            async fn connect_proto() {
                super::$name($crate::harness::Protocol::ConnectProto).await
            }

            #[tokio::test$(($($runtime)+))?]
            async fn connect_json() {
                super::$name($crate::harness::Protocol::ConnectJson).await
            }
        }
    };
}
pub(crate) use protocol_tests;

/// A database of its own for one test; dropped with it.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

pub fn postgres_admin_url() -> String {
    std::env::var("PADDOCK_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn using_postgres() -> bool {
    std::env::var("PADDOCK_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

impl TestDb {
    pub async fn new() -> TestDb {
        if using_postgres() {
            let admin = postgres_admin_url();
            let name = format!("paddock_test_{}", Uuid::now_v7().simple());
            let conn = Database::connect(&admin).await.expect("connecting to PostgreSQL");
            conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("CREATE DATABASE");
            conn.close().await.ok();
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            TestDb {
                url: format!("{base}/{name}"),
                _dir: None,
                postgres: Some((admin, name)),
            }
        } else {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("paddock.db").display());
            TestDb {
                url,
                _dir: Some(dir),
                postgres: None,
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            // Drop runs outside any runtime we may block; use a thread of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(conn) = Database::connect(&admin).await {
                        let _ = conn
                            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Server warnings and errors (e.g. the detail of an INTERNAL) show in a
/// failing test's output; when the suite checks secrets hygiene, everything
/// down to debug also goes to its log (see `hygiene`).
fn init_logging() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt;
    static LOGGING: std::sync::Once = std::sync::Once::new();
    LOGGING.call_once(|| {
        let warnings = tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_filter(LevelFilter::WARN);
        let hygiene = crate::hygiene::dir().map(|_| {
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(|| crate::hygiene::LogFile)
                .with_filter(LevelFilter::DEBUG)
        });
        let subscriber = tracing_subscriber::registry().with(warnings).with(hygiene);
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// A running paddock.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub db: Arc<TestDb>,
    pub key: SecretKey,
    /// An organization admin of the default organization.
    pub admin: User,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub token: String,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server with settings of the test's (e.g. SCM API URLs).
    pub async fn start_with(configure: impl FnOnce(&mut config::Settings)) -> TestServer {
        let db = Arc::new(TestDb::new().await);
        Self::start_configured(db, SecretKey::generate().expect("key"), None, configure).await
    }

    /// Starts a server over an existing database (e.g. after a restart).
    pub async fn start_on(db: Arc<TestDb>, key: SecretKey, admin: Option<User>) -> TestServer {
        Self::start_configured(db, key, admin, |_| {}).await
    }

    pub async fn start_configured(
        db: Arc<TestDb>,
        key: SecretKey,
        admin: Option<User>,
        configure: impl FnOnce(&mut config::Settings),
    ) -> TestServer {
        init_logging();
        let mut settings = config::Settings::for_tests(&db.url, key.clone());
        settings.cors_origins = vec!["http://allowed.example".into()];
        configure(&mut settings);
        let state = server::prepare(&settings).await.expect("preparing the server");
        let listener = tokio::net::TcpListener::bind(settings.listen).await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let serving = {
            let state = state.clone();
            async move {
                server::serve(listener, state, &settings, async {
                    let _ = rx.await;
                })
                .await
            }
        };
        let task = tokio::spawn(serving);
        let mut server = TestServer {
            addr,
            state,
            db,
            key,
            admin: User {
                id: Uuid::nil(),
                organization_id: Uuid::nil(),
                token: String::new(),
            },
            shutdown: Some(tx),
            task: Some(task),
        };
        server.admin = match admin {
            Some(admin) => admin,
            None => server.user_in(paddock::DEFAULT_ORGANIZATION, "admin", true).await,
        };
        server
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn stop(mut self) -> (Arc<TestDb>, SecretKey, User) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server result");
        }
        self.state.db.clone().close().await.ok();
        (self.db.clone(), self.key.clone(), self.admin.clone())
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A new user with a personal access token, in an organization (by name).
    pub async fn user_in(&self, organization: &str, name: &str, org_admin: bool) -> User {
        let user = admin::create_user(&self.state.db, organization, name, org_admin)
            .await
            .expect("user");
        User {
            id: user.user_id,
            organization_id: user.organization_id,
            token: user.token,
        }
    }

    /// A plain member of the default organization.
    pub async fn member(&self, name: &str) -> User {
        self.user_in(paddock::DEFAULT_ORGANIZATION, name, false).await
    }

    pub async fn group(&self, organization_id: Uuid, name: &str, members: &[&User]) -> Uuid {
        let groups = paddock::auth::access::operator_groups(organization_id);
        let group = store::groups::create(&self.state.db, &groups, name, "")
            .await
            .expect("group");
        for user in members {
            admin::add_member(&self.state.db, group.id, user.id)
                .await
                .expect("member");
        }
        group.id
    }

    /// A transport to this server over `protocol`, sending `token` (if any).
    pub async fn transport(&self, protocol: Protocol, token: Option<&str>) -> Transport {
        crate::hygiene::recorded(self.unrecorded_transport(protocol, token).await)
    }

    async fn unrecorded_transport(&self, protocol: Protocol, token: Option<&str>) -> Transport {
        let auth = token.map(|t| HeaderValue::from_str(&format!("Bearer {t}")).expect("header"));
        let add_auth = move |mut req: Request<Body>| {
            if let Some(value) = &auth {
                req.headers_mut().insert(http::header::AUTHORIZATION, value.clone());
            }
            req
        };
        match protocol {
            Protocol::Grpc => {
                let channel = tonic::transport::Endpoint::from_shared(self.url())
                    .expect("endpoint")
                    .connect()
                    .await
                    .expect("connect");
                BoxCloneService::new(
                    ServiceBuilder::new()
                        .map_request(add_auth)
                        .service(channel)
                        .map_err(|e: tonic::transport::Error| -> BoxError { Box::new(e) }),
                )
            }
            Protocol::GrpcWeb => {
                let client = Client::builder(TokioExecutor::new()).build_http();
                let web = tonic_web::GrpcWebClientLayer::new().layer(client);
                BoxCloneService::new(
                    ServiceBuilder::new()
                        .map_request(add_auth)
                        .service(web)
                        .map_response(|r: Response<_>| r.map(Body::new))
                        .map_err(|e: hyper_util::client::legacy::Error| -> BoxError { Box::new(e) }),
                )
            }
            Protocol::ConnectProto | Protocol::ConnectJson => {
                let codec = match protocol {
                    Protocol::ConnectJson => Codec::Json,
                    _ => Codec::Proto,
                };
                let connect = ConnectClient::new(self.url(), codec).expect("the embedded descriptors");
                BoxCloneService::new(ServiceBuilder::new().map_request(add_auth).service(connect))
            }
        }
    }

    pub async fn runners(&self, protocol: Protocol, token: &str) -> RunnerServiceClient<Transport> {
        let origin = self.url().parse().expect("origin");
        RunnerServiceClient::with_origin(self.transport(protocol, Some(token)).await, origin)
            .send_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Gzip)
    }

    pub async fn identity(&self, protocol: Protocol, token: Option<&str>) -> IdentityServiceClient<Transport> {
        let origin = self.url().parse().expect("origin");
        IdentityServiceClient::with_origin(self.transport(protocol, token).await, origin)
    }

    pub async fn configuration(&self, protocol: Protocol, token: &str) -> RunnerConfigurationServiceClient<Transport> {
        let origin = self.url().parse().expect("origin");
        RunnerConfigurationServiceClient::with_origin(self.transport(protocol, Some(token)).await, origin)
    }

    pub async fn groups(&self, protocol: Protocol, token: &str) -> GroupServiceClient<Transport> {
        let origin = self.url().parse().expect("origin");
        GroupServiceClient::with_origin(self.transport(protocol, Some(token)).await, origin)
    }

    pub async fn users(&self, protocol: Protocol, token: &str) -> UserServiceClient<Transport> {
        let origin = self.url().parse().expect("origin");
        UserServiceClient::with_origin(self.transport(protocol, Some(token)).await, origin)
    }

    pub async fn organizations(&self, protocol: Protocol, token: &str) -> OrganizationServiceClient<Transport> {
        let origin = self.url().parse().expect("origin");
        OrganizationServiceClient::with_origin(self.transport(protocol, Some(token)).await, origin)
    }

    pub async fn events(&self, protocol: Protocol, token: &str) -> EventServiceClient<Transport> {
        let origin = self.url().parse().expect("origin");
        EventServiceClient::with_origin(self.transport(protocol, Some(token)).await, origin)
    }

    pub async fn runner_tokens(&self, protocol: Protocol, token: &str) -> RunnerTokenServiceClient<Transport> {
        let origin = self.url().parse().expect("origin");
        RunnerTokenServiceClient::with_origin(self.transport(protocol, Some(token)).await, origin)
    }

    pub async fn interaction(&self, protocol: Protocol, token: &str) -> RunnerInteractionServiceClient<Transport> {
        let origin = self.url().parse().expect("origin");
        RunnerInteractionServiceClient::with_origin(self.transport(protocol, Some(token)).await, origin)
    }

    /// A Linux-host runner created by `creator`, with the access token it
    /// traded its exchange token for (not signed up yet).
    pub async fn runner_with_token(&self, protocol: Protocol, creator: &User, name: &str) -> (String, String) {
        let created = self
            .runners(protocol, &creator.token)
            .await
            .create_runner(linux_runner(name))
            .await
            .expect("create runner")
            .into_inner();
        let access = self
            .identity(protocol, None)
            .await
            .exchange_token(pb::ExchangeTokenRequest {
                exchange_token: created.exchange_token,
            })
            .await
            .expect("exchange")
            .into_inner()
            .access_token;
        (created.runner.expect("runner").runner_id, access)
    }
}

/// A CreateRunnerRequest for a Linux-host runner called `name`.
pub fn linux_runner(name: &str) -> pb::CreateRunnerRequest {
    pb::CreateRunnerRequest {
        name: name.into(),
        provider: pb::RunnerProvider::LinuxHost as i32,
        ..Default::default()
    }
}

/// The field paths named by an INVALID_ARGUMENT status's BadRequest details.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// Polls `check` every 50 ms until it answers Some; panics after `within`
/// saying what never happened.
pub async fn eventually<T>(within: std::time::Duration, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(done) = check().await {
            return done;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{what}: not within {within:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A GitLab integration on `host` for a runner, and a host token of the
/// caller's for it: what a call that reaches the SCM host needs.
pub fn gitlab_access(
    runner_id: &str,
    host: &str,
) -> (
    pb::CreateScmIntegrationRequest,
    pb::CreateHostAuthenticationTokenRequest,
) {
    let integration = pb::CreateScmIntegrationRequest {
        runner_id: runner_id.into(),
        scm_id: "gitlab".into(),
        host: host.into(),
        pat: true,
        ..Default::default()
    };
    let token = pb::CreateHostAuthenticationTokenRequest {
        runner_id: runner_id.into(),
        host: host.into(),
        token: "glpat-for-a-slow-host".into(),
        ..Default::default()
    };
    (integration, token)
}

pub fn class(name: &str) -> pb::EnvironmentClass {
    pb::EnvironmentClass {
        display_name: name.into(),
        description: "what the runner offers".into(),
        configuration: vec![pb::FieldValue {
            key: "cpu".into(),
            value: "4".into(),
        }],
        ..Default::default()
    }
}

pub async fn phase_of(server: &TestServer, protocol: Protocol, runner_id: &str) -> (i32, pb::RunnerStatus) {
    let runner = server
        .runners(protocol, &server.admin.token)
        .await
        .get_runner(pb::GetRunnerRequest {
            runner_id: runner_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .runner
        .unwrap();
    let status = runner.status.unwrap();
    (status.phase, status)
}

/// A runner that traded its exchange token and signed up with a fresh key.
pub async fn signed_up(server: &TestServer, protocol: Protocol, name: &str) -> (String, String, crypto_box::SecretKey) {
    let (runner_id, token) = server.runner_with_token(protocol, &server.admin, name).await;
    let key = crypto_box::SecretKey::generate(&mut crypto_box::aead::OsRng);
    server
        .interaction(protocol, &token)
        .await
        .signup(pb::SignupRequest {
            public_key: key.public_key().as_bytes().to_vec(),
            environment_classes: vec![class("4 cores")],
        })
        .await
        .unwrap();
    (runner_id, token, key)
}
