//! gitpod.v1.RunnerService: runners, their tokens and their policies, and the
//! source-host RPCs (`context`, over the hosts of `scm`).

pub mod context;
mod policies;
mod runners;
pub mod scm;

pub(crate) use runners::delete_one;

use crate::api::service;

service! {
    RunnerApi: crate::protocol::proto::gitpod::v1::runner_service_server::RunnerService {
        create_runner(CreateRunnerRequest) -> CreateRunnerResponse = runners::create;
        get_runner(GetRunnerRequest) -> GetRunnerResponse = runners::get;
        list_runners(ListRunnersRequest) -> ListRunnersResponse = runners::list;
        update_runner(UpdateRunnerRequest) -> UpdateRunnerResponse = runners::update;
        delete_runner(DeleteRunnerRequest) -> DeleteRunnerResponse = runners::delete;
        create_runner_token(CreateRunnerTokenRequest) -> CreateRunnerTokenResponse = runners::create_token;
        create_runner_logs_token(CreateRunnerLogsTokenRequest) -> CreateRunnerLogsTokenResponse
            = runners::create_logs_token;
        list_runner_policies(ListRunnerPoliciesRequest) -> ListRunnerPoliciesResponse = policies::list;
        create_runner_policy(CreateRunnerPolicyRequest) -> CreateRunnerPolicyResponse = policies::create;
        update_runner_policy(UpdateRunnerPolicyRequest) -> UpdateRunnerPolicyResponse = policies::update;
        delete_runner_policy(DeleteRunnerPolicyRequest) -> DeleteRunnerPolicyResponse = policies::delete;
        parse_context_url(ParseContextUrlRequest) -> ParseContextUrlResponse = context::parse_context_url;
        check_authentication_for_host(CheckAuthenticationForHostRequest) -> CheckAuthenticationForHostResponse
            = context::check_authentication_for_host;
        search_repositories(SearchRepositoriesRequest) -> SearchRepositoriesResponse = context::search_repositories;
        list_scm_organizations(ListScmOrganizationsRequest) -> ListScmOrganizationsResponse
            = context::list_scm_organizations;
        check_repository_access(CheckRepositoryAccessRequest) -> CheckRepositoryAccessResponse
            = context::check_repository_access;
    }
}
