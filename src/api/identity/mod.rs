//! gitpod.v1.IdentityService: the runner token exchange, "who am I", and
//! OIDC ID tokens of the caller for other systems to verify (see `auth::signing`).

mod tokens;

pub(crate) use tokens::subject;

use crate::api::service;

service! {
    IdentityApi: crate::protocol::proto::gitpod::v1::identity_service_server::IdentityService {
        #[public]
        exchange_token(ExchangeTokenRequest) -> ExchangeTokenResponse = tokens::exchange_token;
        get_authenticated_identity(GetAuthenticatedIdentityRequest) -> GetAuthenticatedIdentityResponse
            = tokens::authenticated_identity;
        get_id_token(GetIdTokenRequest) -> GetIdTokenResponse = tokens::get_id_token;
    }
}
