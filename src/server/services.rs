//! Every service this server answers, registered in one place: the API
//! services (one line each in `api_services!` below), reflection and health.
//! Their names feed health; their descriptors feed reflection and the
//! Connect translator.

use tonic::codec::CompressionEncoding;
use tonic::service::{Routes, RoutesBuilder};
use tonic_health::server::HealthReporter;

use crate::api::{self, state::AppState};
use crate::protocol::proto::gitpod::v1 as gitpod;
use crate::protocol::proto::paddock::v1 as paddock;

/// The descriptors of everything served: paddock's protos, reflection's and
/// health's. Reflection lists them all (health and reflection included, as
/// Go's does), so a client can enumerate every service and call it by name.
pub const DESCRIPTOR_SETS: &[&[u8]] = &[
    crate::protocol::proto::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    tonic_health::pb::FILE_DESCRIPTOR_SET,
];

/// The API services: `generated server(api)`, each answering gzip when
/// asked and refusing messages over the size limit.
macro_rules! api_services {
    ($registry:ident, $state:expr, $max_message_bytes:expr; $($server:path => $api:path),* $(,)?) => {
        $(
            $registry.add(
                <$server>::new(<$api>::new($state.clone()))
                    .accept_compressed(CompressionEncoding::Gzip)
                    .send_compressed(CompressionEncoding::Gzip)
                    .max_decoding_message_size($max_message_bytes),
            );
        )*
    };
}

/// What `serve` mounts: the routes, and the names health reports on.
pub(crate) struct Services {
    routes: RoutesBuilder,
    names: Vec<&'static str>,
}

impl Services {
    /// Every service, over `state`.
    pub fn new(state: &AppState, max_message_bytes: usize) -> anyhow::Result<Services> {
        let mut services = Services {
            routes: RoutesBuilder::default(),
            names: Vec::new(),
        };
        api_services! {
            services, state, max_message_bytes;
            gitpod::runner_service_server::RunnerServiceServer<_> => api::runner::RunnerApi,
            gitpod::runner_configuration_service_server::RunnerConfigurationServiceServer<_> => api::runner_configuration::RunnerConfigurationApi,
            gitpod::identity_service_server::IdentityServiceServer<_> => api::identity::IdentityApi,
            gitpod::runner_interaction_service_server::RunnerInteractionServiceServer<_> => api::runner_interaction::RunnerInteractionApi,
            gitpod::event_service_server::EventServiceServer<_> => api::event::EventApi,
            gitpod::group_service_server::GroupServiceServer<_> => api::group::GroupApi,
            gitpod::user_service_server::UserServiceServer<_> => api::user::UserApi,
            gitpod::organization_service_server::OrganizationServiceServer<_> => api::organization::OrganizationApi,
            paddock::runner_token_service_server::RunnerTokenServiceServer<_> => api::runner_tokens::RunnerTokenApi,
            paddock::fleet_service_server::FleetServiceServer<_> => api::fleet::FleetApi,
        }
        let described = || {
            DESCRIPTOR_SETS
                .iter()
                .fold(tonic_reflection::server::Builder::configure(), |builder, set| {
                    builder.register_encoded_file_descriptor_set(set)
                })
        };
        services.routes.add_service(described().build_v1()?);
        services.routes.add_service(described().build_v1alpha()?);
        Ok(services)
    }

    fn add<S: Servable>(&mut self, service: S) {
        self.names.push(S::NAME);
        self.routes.add_service(service);
    }

    /// The API services' names (what health reports on, beside "").
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// The routes, with health's service: every API service SERVING now.
    pub async fn routes<H: Servable>(mut self, reporter: &HealthReporter, health: H) -> Routes {
        for name in &self.names {
            reporter
                .set_service_status(*name, tonic_health::ServingStatus::Serving)
                .await;
        }
        self.routes.add_service(health);
        self.routes.routes()
    }
}

/// What tonic can route calls to.
pub(crate) trait Servable:
    tower::Service<
        http::Request<tonic::body::Body>,
        Response = http::Response<tonic::body::Body>,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + tonic::server::NamedService
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> Servable for S where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static
{
}
