//! paddock.v1.RunnerTokenService: a runner's credentials as those who
//! manage it see and cut them — listed (kind, created, last used, expiry;
//! never a value), revoked one by one, or rotated with overlap: a new access
//! token now, the earlier ones working on for a grace the caller picks.

mod tokens;

use crate::api::service;

service! {
    package paddock::v1;
    RunnerTokenApi: crate::protocol::proto::paddock::v1::runner_token_service_server::RunnerTokenService {
        list_runner_tokens(ListRunnerTokensRequest) -> ListRunnerTokensResponse = tokens::list;
        revoke_runner_token(RevokeRunnerTokenRequest) -> RevokeRunnerTokenResponse = tokens::revoke;
        rotate_runner_token(RotateRunnerTokenRequest) -> RotateRunnerTokenResponse = tokens::rotate;
    }
}
