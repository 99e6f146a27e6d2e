//! gitpod.v1.RunnerInteractionService: the runner's side of the control
//! plane, called with the runner's own access token. Every handler starts
//! from `auth::access::runner_itself`: another principal is PERMISSION_DENIED,
//! another runner's id NOT_FOUND.

mod configuration;
mod itself;

use crate::api::service;

service! {
    RunnerInteractionApi: crate::protocol::proto::gitpod::v1::runner_interaction_service_server::RunnerInteractionService {
        #[runner] signup(SignupRequest) -> SignupResponse = itself::signup;
        #[runner] mark_runner_active(MarkRunnerActiveRequest) -> MarkRunnerActiveResponse = itself::mark_runner_active;
        #[runner] update_runner_status(UpdateRunnerStatusRequest) -> UpdateRunnerStatusResponse = itself::update_runner_status;
        #[runner] get_latest_version(GetLatestVersionRequest) -> GetLatestVersionResponse = itself::get_latest_version;
        #[runner] list_runner_environment_classes(ListRunnerEnvironmentClassesRequest) -> ListRunnerEnvironmentClassesResponse
            = configuration::list_environment_classes;
        #[runner] list_runner_scm_integrations(ListRunnerScmIntegrationsRequest) -> ListRunnerScmIntegrationsResponse
            = configuration::list_scm_integrations;
        #[runner] get_host_authentication_token_value(GetHostAuthenticationTokenValueRequest)
            -> GetHostAuthenticationTokenValueResponse = configuration::get_host_authentication_token_value;
        #[runner] update_runner_configuration_schema(UpdateRunnerConfigurationSchemaRequest)
            -> UpdateRunnerConfigurationSchemaResponse = itself::update_runner_configuration_schema;
    }
}
