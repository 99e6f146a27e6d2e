//! gitpod.v1.RunnerConfigurationService: what runners offer (environment
//! classes), how they reach source hosts (SCM integrations, host tokens), the
//! LLMs their agents use, and the schema all of that is checked against.

mod environment_classes;
mod host_tokens;
mod llm_integrations;
mod owned;
mod schema;
pub mod schemas;
mod scm_integrations;

use crate::api::service;

service! {
    RunnerConfigurationApi:
        crate::protocol::proto::gitpod::v1::runner_configuration_service_server::RunnerConfigurationService {
        create_host_authentication_token(CreateHostAuthenticationTokenRequest) -> CreateHostAuthenticationTokenResponse
            = host_tokens::create;
        get_host_authentication_token(GetHostAuthenticationTokenRequest) -> GetHostAuthenticationTokenResponse
            = host_tokens::get;
        list_host_authentication_tokens(ListHostAuthenticationTokensRequest) -> ListHostAuthenticationTokensResponse
            = host_tokens::list;
        update_host_authentication_token(UpdateHostAuthenticationTokenRequest) -> UpdateHostAuthenticationTokenResponse
            = host_tokens::update;
        delete_host_authentication_token(DeleteHostAuthenticationTokenRequest) -> DeleteHostAuthenticationTokenResponse
            = host_tokens::delete;
        get_runner_configuration_schema(GetRunnerConfigurationSchemaRequest) -> GetRunnerConfigurationSchemaResponse
            = schema::get;
        validate_runner_configuration(ValidateRunnerConfigurationRequest) -> ValidateRunnerConfigurationResponse
            = schema::validate;
        create_scm_integration(CreateScmIntegrationRequest) -> CreateScmIntegrationResponse = scm_integrations::create;
        get_scm_integration(GetScmIntegrationRequest) -> GetScmIntegrationResponse = scm_integrations::get;
        list_scm_integrations(ListScmIntegrationsRequest) -> ListScmIntegrationsResponse = scm_integrations::list;
        update_scm_integration(UpdateScmIntegrationRequest) -> UpdateScmIntegrationResponse = scm_integrations::update;
        delete_scm_integration(DeleteScmIntegrationRequest) -> DeleteScmIntegrationResponse = scm_integrations::delete;
        create_environment_class(CreateEnvironmentClassRequest) -> CreateEnvironmentClassResponse
            = environment_classes::create;
        get_environment_class(GetEnvironmentClassRequest) -> GetEnvironmentClassResponse = environment_classes::get;
        list_environment_classes(ListEnvironmentClassesRequest) -> ListEnvironmentClassesResponse
            = environment_classes::list;
        update_environment_class(UpdateEnvironmentClassRequest) -> UpdateEnvironmentClassResponse
            = environment_classes::update;
        create_llm_integration(CreateLlmIntegrationRequest) -> CreateLlmIntegrationResponse = llm_integrations::create;
        get_llm_integration(GetLlmIntegrationRequest) -> GetLlmIntegrationResponse = llm_integrations::get;
        list_llm_integrations(ListLlmIntegrationsRequest) -> ListLlmIntegrationsResponse = llm_integrations::list;
        update_llm_integration(UpdateLlmIntegrationRequest) -> UpdateLlmIntegrationResponse = llm_integrations::update;
        delete_llm_integration(DeleteLlmIntegrationRequest) -> DeleteLlmIntegrationResponse = llm_integrations::delete;
    }
}
