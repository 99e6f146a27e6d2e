//! gitpod.v1.RunnerConfigurationService. Every RPC is declared; those not
//! built yet answer UNIMPLEMENTED through the generated default methods.

use crate::proto::gitpod::v1::runner_configuration_service_server::RunnerConfigurationService;
use crate::state::AppState;

pub struct RunnerConfigurationApi {
    #[allow(dead_code)] // used as the service's RPCs are built
    state: AppState,
}

impl RunnerConfigurationApi {
    pub fn new(state: AppState) -> Self {
        RunnerConfigurationApi { state }
    }
}

#[tonic::async_trait]
impl RunnerConfigurationService for RunnerConfigurationApi {}
