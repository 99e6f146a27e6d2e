//! Token exchange (a runner's exchange token for its access token), the
//! caller's identity, and ID tokens.

use crate::api::state::AppState;
use crate::auth::tokens::{self, TokenKind};
use crate::auth::{Principal, access};
use crate::base::error::{Error, Result};
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store;
use chrono::Utc;

/// Needs no bearer token: the exchange token is the credential. Unknown,
/// used, revoked and expired tokens are refused alike.
pub(super) async fn exchange_token(
    state: &AppState,
    req: pb::ExchangeTokenRequest,
) -> Result<pb::ExchangeTokenResponse> {
    let presented = tokens::hash(&req.exchange_token);
    // (the auth layer limits the exchanges of each client address)
    state.limits.exchange_by_token.spend(&presented).map_err(|over| {
        Error::ResourceExhausted(
            "this exchange token was tried too often: wait before trying again".into(),
            over.retry_after,
        )
    })?;
    let access = tokens::generate(TokenKind::RunnerAccess)?;
    let outcome = store::tokens::exchange(&state.db, &presented, access.hash, Utc::now()).await?;
    match outcome {
        Ok(runner_id) => {
            // the runner's earlier access tokens were revoked: forget them here at once
            state.token_cache.forget_runner(runner_id);
            Ok(pb::ExchangeTokenResponse {
                access_token: access.plaintext,
            })
        }
        Err(_) => Err(Error::Unauthenticated(
            "the exchange token is unknown, expired or already used".into(),
        )),
    }
}

pub(super) async fn authenticated_identity(
    _state: &AppState,
    caller: Principal,
    _req: pb::GetAuthenticatedIdentityRequest,
) -> Result<pb::GetAuthenticatedIdentityResponse> {
    Ok(pb::GetAuthenticatedIdentityResponse {
        subject: Some(pb::Subject {
            id: caller.id().to_string(),
            principal: caller.kind(),
        }),
        organization_id: caller.organization_id().to_string(),
        organization_tier: String::new(),
    })
}

/// `sub` of the tokens paddock signs: the kind of principal and its id, so a
/// federation's trust policy can tell runners from users (`runner:*`).
pub(crate) fn subject(caller: &Principal) -> String {
    match caller {
        Principal::User { id, .. } => format!("user:{id}"),
        Principal::Runner { id, .. } => format!("runner:{id}"),
    }
}

/// An ID token of the caller for the audiences asked for, valid 15 minutes.
pub(super) async fn get_id_token(
    state: &AppState,
    caller: Principal,
    req: pb::GetIdTokenRequest,
) -> Result<pb::GetIdTokenResponse> {
    let mut v = crate::api::validate::Violations::new();
    if req.audience.is_empty() {
        v.add("audience", "name at least one audience");
    }
    // paddock's own tokens have audiences no ID token may claim
    for (i, audience) in req.audience.iter().enumerate() {
        if audience.starts_with(crate::auth::signing::RESERVED_AUDIENCE_PREFIX) {
            v.add(
                format!("audience[{i}]"),
                format!(
                    "audiences starting with {:?} are paddock's own",
                    crate::auth::signing::RESERVED_AUDIENCE_PREFIX
                ),
            );
        }
    }
    v.finish(())?;
    let identity = access::own_identity(&caller);
    let token = state
        .signing
        .id_token(&subject(&caller), caller.organization_id(), &req.audience)?;
    store::identity::record_id_token(&state.db, &identity).await?;
    Ok(pb::GetIdTokenResponse { token })
}
