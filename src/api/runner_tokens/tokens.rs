//! A runner's credentials: listed, revoked, rotated with an overlap.

use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{check_page_size, convert, keyset_page, require_uuid};
use crate::auth::{Principal, access, tokens};
use crate::base::error::{Error, Result};
use crate::protocol::proto::paddock::v1 as pb;
use crate::store::runner_tokens::{self, RunnerToken};
use crate::store::tokens::TokenKind;

/// The grace when the request names none.
pub const DEFAULT_GRACE: chrono::Duration = chrono::Duration::hours(1);

pub(super) async fn list(
    state: &AppState,
    caller: Principal,
    req: pb::ListRunnerTokensRequest,
) -> Result<pb::ListRunnerTokensResponse> {
    let mut v = Violations::new();
    let runner_id = v.uuid("runner_id", &req.runner_id);
    check_page_size(&mut v, req.pagination.as_ref());
    let runner_id = v.finish(runner_id)?;
    // seeing a runner's credentials is for those who may cut them
    let runner = access::manage_runner(&state.db, &caller, runner_id).await?;
    let (rows, pagination) = keyset_page(
        &state.secrets,
        "runner_tokens",
        &(runner_id, req.include_inactive),
        req.pagination,
        |t: &RunnerToken| t.id,
        |page| runner_tokens::list(&state.read_db, &runner, req.include_inactive, page),
    )
    .await?;
    Ok(pb::ListRunnerTokensResponse {
        pagination,
        tokens: rows.into_iter().map(convert::runner_token).collect(),
    })
}

pub(super) async fn revoke(
    state: &AppState,
    caller: Principal,
    req: pb::RevokeRunnerTokenRequest,
) -> Result<pb::RevokeRunnerTokenResponse> {
    let id = require_uuid("token_id", &req.token_id)?;
    let not_found = || Error::NotFound("runner token not found".into());
    let token = runner_tokens::get(&state.db, id).await?.ok_or_else(not_found)?;
    let runner_id = token.runner_id.ok_or_else(not_found)?;
    let runner = match access::manage_runner(&state.db, &caller, runner_id).await {
        Err(Error::NotFound(_)) => return Err(not_found()),
        other => other?,
    };
    let revoked = runner_tokens::revoke(&state.db, &runner, id).await?;
    state.token_cache.forget_stored(&revoked.hash);
    Ok(pb::RevokeRunnerTokenResponse {
        token: Some(convert::runner_token(revoked)),
    })
}

/// `grace` as a duration: 0s..30d; none is an hour.
pub(super) fn grace(v: &mut Violations, grace: Option<&prost_types::Duration>) -> chrono::Duration {
    v.duration("grace", grace, runner_tokens::MAX_GRACE, "0s and 30d")
        .unwrap_or(DEFAULT_GRACE)
}

pub(super) async fn rotate(
    state: &AppState,
    caller: Principal,
    req: pb::RotateRunnerTokenRequest,
) -> Result<pb::RotateRunnerTokenResponse> {
    let mut v = Violations::new();
    let runner_id = v.uuid("runner_id", &req.runner_id);
    let grace = grace(&mut v, req.grace.as_ref());
    let runner_id = v.finish(runner_id)?;
    let runner = access::manage_runner(&state.db, &caller, runner_id).await?;
    let new = tokens::generate(TokenKind::RunnerAccess)?;
    let rotated = runner_tokens::rotate(&state.db, &runner, new.hash, grace).await?;
    Ok(pb::RotateRunnerTokenResponse {
        access_token: new.plaintext,
        token: Some(convert::runner_token(rotated.token)),
        previous_expire_at: Some(convert::timestamp(rotated.previous_expire_at)),
    })
}
