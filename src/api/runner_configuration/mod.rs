//! gitpod.v1.RunnerConfigurationService: what runners offer (environment
//! classes), how they reach source hosts (SCM integrations, host tokens), the
//! LLMs their agents use, and the schema all of that is checked against.

mod environment_classes;
mod host_tokens;
mod llm_integrations;
mod schema;
mod scm_integrations;

use tonic::{Request, Response, Status};

use super::principal;
use crate::proto::gitpod::v1::{self as pb, runner_configuration_service_server::RunnerConfigurationService};
use crate::state::AppState;

pub struct RunnerConfigurationApi {
    state: AppState,
}

impl RunnerConfigurationApi {
    pub fn new(state: AppState) -> Self {
        RunnerConfigurationApi { state }
    }
}

/// Each RPC: the caller from the request, then the handler of its module.
macro_rules! rpcs {
    ($($name:ident: $module:ident::$handler:ident($req:ident) -> $resp:ident;)*) => {
        #[tonic::async_trait]
        impl RunnerConfigurationService for RunnerConfigurationApi {
            $(
                async fn $name(&self, request: Request<pb::$req>) -> Result<Response<pb::$resp>, Status> {
                    let caller = principal(&request)?;
                    Ok(Response::new($module::$handler(&self.state, caller, request.into_inner()).await?))
                }
            )*
        }
    };
}

rpcs! {
    create_host_authentication_token: host_tokens::create(CreateHostAuthenticationTokenRequest) -> CreateHostAuthenticationTokenResponse;
    get_host_authentication_token: host_tokens::get(GetHostAuthenticationTokenRequest) -> GetHostAuthenticationTokenResponse;
    list_host_authentication_tokens: host_tokens::list(ListHostAuthenticationTokensRequest) -> ListHostAuthenticationTokensResponse;
    update_host_authentication_token: host_tokens::update(UpdateHostAuthenticationTokenRequest) -> UpdateHostAuthenticationTokenResponse;
    delete_host_authentication_token: host_tokens::delete(DeleteHostAuthenticationTokenRequest) -> DeleteHostAuthenticationTokenResponse;
    get_runner_configuration_schema: schema::get(GetRunnerConfigurationSchemaRequest) -> GetRunnerConfigurationSchemaResponse;
    validate_runner_configuration: schema::validate(ValidateRunnerConfigurationRequest) -> ValidateRunnerConfigurationResponse;
    create_scm_integration: scm_integrations::create(CreateScmIntegrationRequest) -> CreateScmIntegrationResponse;
    get_scm_integration: scm_integrations::get(GetScmIntegrationRequest) -> GetScmIntegrationResponse;
    list_scm_integrations: scm_integrations::list(ListScmIntegrationsRequest) -> ListScmIntegrationsResponse;
    update_scm_integration: scm_integrations::update(UpdateScmIntegrationRequest) -> UpdateScmIntegrationResponse;
    delete_scm_integration: scm_integrations::delete(DeleteScmIntegrationRequest) -> DeleteScmIntegrationResponse;
    create_environment_class: environment_classes::create(CreateEnvironmentClassRequest) -> CreateEnvironmentClassResponse;
    get_environment_class: environment_classes::get(GetEnvironmentClassRequest) -> GetEnvironmentClassResponse;
    list_environment_classes: environment_classes::list(ListEnvironmentClassesRequest) -> ListEnvironmentClassesResponse;
    update_environment_class: environment_classes::update(UpdateEnvironmentClassRequest) -> UpdateEnvironmentClassResponse;
    create_llm_integration: llm_integrations::create(CreateLlmIntegrationRequest) -> CreateLlmIntegrationResponse;
    get_llm_integration: llm_integrations::get(GetLlmIntegrationRequest) -> GetLlmIntegrationResponse;
    list_llm_integrations: llm_integrations::list(ListLlmIntegrationsRequest) -> ListLlmIntegrationsResponse;
    update_llm_integration: llm_integrations::update(UpdateLlmIntegrationRequest) -> UpdateLlmIntegrationResponse;
    delete_llm_integration: llm_integrations::delete(DeleteLlmIntegrationRequest) -> DeleteLlmIntegrationResponse;
}
