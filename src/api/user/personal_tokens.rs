//! Personal access tokens: shown once, stored hashed, listed and deleted.

use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{check_page_size, convert, keyset_page, require_uuid};
use crate::auth::{Principal, access, tokens};
use crate::base::error::Result;
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::personal_tokens::{self, NewPersonalToken, PersonalToken};
use chrono::Utc;

/// `valid_for`'s upper bound (buf.validate: lte 7776000s), also the
/// lifetime of a token created without one.
pub(super) const MAX_VALID_FOR: chrono::Duration = chrono::Duration::days(90);

/// `valid_for` as a lifetime: at most 90 days, not negative; none (or zero)
/// is the longest.
pub(super) fn lifetime(v: &mut Violations, valid_for: Option<&prost_types::Duration>) -> chrono::Duration {
    v.duration("valid_for", valid_for, MAX_VALID_FOR, "0s and 7776000s (90 days)")
        .filter(|d| !d.is_zero())
        .unwrap_or(MAX_VALID_FOR)
}

pub(super) async fn create_personal_access_token(
    state: &AppState,
    caller: Principal,
    req: pb::CreatePersonalAccessTokenRequest,
) -> Result<pb::CreatePersonalAccessTokenResponse> {
    let mut v = Violations::new();
    let for_user = v.uuid("user_id", &req.user_id);
    let lifetime = lifetime(&mut v, req.valid_for.as_ref());
    v.storable("description", &req.description);
    let for_user = v.finish(for_user)?;
    let minter = access::mint_personal_token(&caller, Some(for_user))?;
    let token = tokens::generate(tokens::TokenKind::PersonalAccess)?;
    personal_tokens::create(
        &state.db,
        &minter,
        NewPersonalToken {
            hash: token.hash,
            description: req.description,
            expires_at: Utc::now() + lifetime,
            read_only: req.read_only,
        },
    )
    .await?;
    Ok(pb::CreatePersonalAccessTokenResponse { token: token.plaintext })
}

pub(super) async fn get_personal_access_token(
    state: &AppState,
    caller: Principal,
    req: pb::GetPersonalAccessTokenRequest,
) -> Result<pb::GetPersonalAccessTokenResponse> {
    let id = require_uuid("personal_access_token_id", &req.personal_access_token_id)?;
    let token = access::personal_token(&state.read_db, &caller, id).await?;
    Ok(pb::GetPersonalAccessTokenResponse {
        pat: Some(convert::personal_access_token(token.into_inner())),
    })
}

pub(super) async fn list_personal_access_tokens(
    state: &AppState,
    caller: Principal,
    req: pb::ListPersonalAccessTokensRequest,
) -> Result<pb::ListPersonalAccessTokensResponse> {
    let mut v = Violations::new();
    check_page_size(&mut v, req.pagination.as_ref());
    let f = req.filter.unwrap_or_default();
    let user_ids = v.id_filter("filter.user_ids", &f.user_ids);
    v.finish(())?;
    let owners = access::see_personal_tokens(&caller, user_ids)?;
    let owners = owners.get();
    let (rows, pagination) = keyset_page(
        &state.secrets,
        "personal_access_tokens",
        owners,
        req.pagination,
        |t: &PersonalToken| t.id,
        |page| personal_tokens::list(&state.read_db, owners, page),
    )
    .await?;
    Ok(pb::ListPersonalAccessTokensResponse {
        pagination,
        personal_access_tokens: rows.into_iter().map(convert::personal_access_token).collect(),
    })
}

pub(super) async fn delete_personal_access_token(
    state: &AppState,
    caller: Principal,
    req: pb::DeletePersonalAccessTokenRequest,
) -> Result<pb::DeletePersonalAccessTokenResponse> {
    let id = require_uuid("personal_access_token_id", &req.personal_access_token_id)?;
    let token = access::personal_token(&state.db, &caller, id).await?;
    personal_tokens::delete(&state.db, &token).await?;
    state.token_cache.forget_stored(&token.get().hash);
    Ok(pb::DeletePersonalAccessTokenResponse {})
}
