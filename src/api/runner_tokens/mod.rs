//! paddock.v1.RunnerTokenService: a runner's credentials as those who
//! manage it see and cut them — listed (kind, created, last used, expiry;
//! never a value), revoked one by one, or rotated with overlap: a new access
//! token now, the earlier ones working on for a grace the caller picks.

use chrono::Utc;

use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{check_page_size, convert, keyset_page, require_uuid, service};
use crate::auth::{Principal, access, tokens};
use crate::base::error::{Error, Result};
use crate::protocol::proto::paddock::v1 as pb;
use crate::store::runner_tokens::{self, RunnerToken};
use crate::store::tokens::TokenKind;

service! {
    package paddock::v1;
    RunnerTokenApi: crate::protocol::proto::paddock::v1::runner_token_service_server::RunnerTokenService {
        list_runner_tokens(ListRunnerTokensRequest) -> ListRunnerTokensResponse = list;
        revoke_runner_token(RevokeRunnerTokenRequest) -> RevokeRunnerTokenResponse = revoke;
        rotate_runner_token(RotateRunnerTokenRequest) -> RotateRunnerTokenResponse = rotate;
    }
}

/// The grace when the request names none.
pub const DEFAULT_GRACE: chrono::Duration = chrono::Duration::hours(1);

pub fn to_proto(t: RunnerToken) -> pb::RunnerToken {
    let now = Utc::now();
    let kind = match TokenKind::parse(&t.kind) {
        Some(TokenKind::RunnerAccess) => pb::RunnerTokenKind::Access,
        Some(TokenKind::RunnerExchange) => pb::RunnerTokenKind::Exchange,
        _ => pb::RunnerTokenKind::Unspecified,
    };
    pb::RunnerToken {
        active: runner_tokens::is_active(&t, now),
        id: t.id.to_string(),
        runner_id: t.runner_id.map(|r| r.to_string()).unwrap_or_default(),
        kind: kind as i32,
        created_at: Some(convert::timestamp(t.created_at)),
        last_used_at: t.last_used_at.map(convert::timestamp),
        expires_at: t.expires_at.map(convert::timestamp),
        exchanged_at: t.used_at.map(convert::timestamp),
        revoked_at: t.revoked_at.map(convert::timestamp),
    }
}

async fn list(
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
        tokens: rows.into_iter().map(to_proto).collect(),
    })
}

async fn revoke(
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
        token: Some(to_proto(revoked)),
    })
}

/// `grace` as a duration: 0s..30d; none is an hour.
fn grace(v: &mut Violations, grace: Option<&prost_types::Duration>) -> chrono::Duration {
    v.duration("grace", grace, runner_tokens::MAX_GRACE, "0s and 30d")
        .unwrap_or(DEFAULT_GRACE)
}

async fn rotate(
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
        token: Some(to_proto(rotated.token)),
        previous_expire_at: Some(convert::timestamp(rotated.previous_expire_at)),
    })
}
