//! A runner's credentials — its access tokens and exchange tokens — as an
//! admin lists, revokes and rotates them (paddock.v1.RunnerTokenService and
//! `paddock admin runner-token`). Values are never stored, only hashes.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use super::audit::{self, Change, subject};
use super::entities::token;
use super::not_found;
use super::query::keyset;
use super::runners::Runner;
use super::tokens::{self, NewToken, TokenKind};
use crate::base::capability::Managed;
use crate::base::error::{Error, Result};
use crate::base::pagination::Page;

pub use token::Model as RunnerToken;

const KINDS: [TokenKind; 2] = [TokenKind::RunnerAccess, TokenKind::RunnerExchange];

/// Whether the token works at `now`: not revoked, not expired, not traded.
pub fn is_active(t: &RunnerToken, now: DateTime<Utc>) -> bool {
    t.revoked_at.is_none() && t.used_at.is_none() && t.expires_at.is_none_or(|e| e > now)
}

/// `is_active` as SQL.
fn active_at(now: DateTime<Utc>) -> Condition {
    use token::Column as C;
    Condition::all()
        .add(C::RevokedAt.is_null())
        .add(C::UsedAt.is_null())
        .add(Condition::any().add(C::ExpiresAt.is_null()).add(C::ExpiresAt.gt(now)))
}

pub fn list_query(
    runner_id: Uuid,
    include_inactive: bool,
    now: DateTime<Utc>,
    page: Page,
) -> sea_orm::Select<token::Entity> {
    use token::Column as C;
    let mut query = token::Entity::find()
        .filter(C::RunnerId.eq(runner_id))
        .filter(C::Kind.is_in(KINDS.map(TokenKind::as_str)));
    if !include_inactive {
        query = query.filter(active_at(now));
    }
    keyset(query, C::Id, page)
}

/// One page of the runner's tokens (plus one row when more follow), oldest
/// first: for those who manage the runner.
pub async fn list(
    db: &impl ConnectionTrait,
    runner: &Managed<Runner>,
    include_inactive: bool,
    page: Page,
) -> Result<Vec<RunnerToken>> {
    Ok(list_query(runner.get().id, include_inactive, Utc::now(), page)
        .all(db)
        .await?)
}

/// A token of some runner by id (to find out whose it is).
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<RunnerToken>> {
    Ok(token::Entity::find_by_id(id)
        .filter(token::Column::Kind.is_in(KINDS.map(TokenKind::as_str)))
        .one(db)
        .await?)
}

/// Revokes one of the runner's tokens; NOT_FOUND when it is not the
/// runner's or is revoked already. The token as it is now.
pub async fn revoke(db: &impl TransactionTrait, runner: &Managed<Runner>, id: Uuid) -> Result<RunnerToken> {
    let runner_id = runner.get().id;
    audit::audited(db, runner.actor(), async |txn| {
        let revoked = token::Entity::update_many()
            .col_expr(token::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(token::Column::Id.eq(id))
            .filter(token::Column::RunnerId.eq(runner_id))
            .filter(token::Column::Kind.is_in(KINDS.map(TokenKind::as_str)))
            .filter(token::Column::RevokedAt.is_null())
            .exec(txn)
            .await?;
        if revoked.rows_affected == 0 {
            return Err(not_found("runner token"));
        }
        let token = token::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| not_found("runner token"))?;
        Ok((
            token,
            Change::credential(subject::RUNNER, runner_id, "runner.revoke_token").of_runner(runner_id),
        ))
    })
    .await
}

/// Revokes every credential of the runner that works now (its access tokens
/// and unused exchange tokens): the runner can no longer call paddock until
/// it is given a new token. How many were revoked (0 is no error: there was
/// nothing to revoke).
pub async fn revoke_all(db: &impl TransactionTrait, runner: &Managed<Runner>) -> Result<u64> {
    use token::Column as C;
    let runner_id = runner.get().id;
    let now = Utc::now();
    audit::audited(db, runner.actor(), async |txn| {
        let revoked = token::Entity::update_many()
            .col_expr(C::RevokedAt, Expr::value(now))
            .filter(C::RunnerId.eq(runner_id))
            .filter(C::Kind.is_in(KINDS.map(TokenKind::as_str)))
            .filter(active_at(now))
            .exec(txn)
            .await?;
        Ok((
            revoked.rows_affected,
            Change::credential(subject::RUNNER, runner_id, "runner.revoke_all_tokens").of_runner(runner_id),
        ))
    })
    .await
}

/// The longest grace a rotation gives the earlier tokens.
pub const MAX_GRACE: chrono::Duration = chrono::Duration::days(30);

/// What a rotation made: the new token, and when the earlier ones stop.
pub struct Rotated {
    pub token: RunnerToken,
    pub previous_expire_at: DateTime<Utc>,
}

/// Issues the runner a new access token (`hash`), makes its current access
/// tokens expire after `grace` (0 to `MAX_GRACE`; sooner ones keep their
/// expiry) and revokes its unused exchange tokens (a leaked one would
/// otherwise outlive the rotation). FAILED_PRECONDITION for a runner being
/// deleted.
pub async fn rotate(
    db: &impl TransactionTrait,
    runner: &Managed<Runner>,
    hash: [u8; 32],
    grace: chrono::Duration,
) -> Result<Rotated> {
    if grace < chrono::Duration::zero() || grace > MAX_GRACE {
        return Err(Error::InvalidArgument(vec![crate::base::error::FieldViolation {
            field: "grace".into(),
            description: "must be between 0s and 30d".into(),
        }]));
    }
    if runner.get().phase == super::runners::phase::DELETING {
        return Err(Error::FailedPrecondition("the runner is being deleted".into()));
    }
    let (runner_id, organization_id) = (runner.get().id, runner.get().organization_id);
    let now = Utc::now();
    let previous_expire_at = now + grace;
    audit::audited(db, runner.actor(), async |txn| {
        tokens::revoke_exchange_tokens(txn, runner_id, now).await?;
        token::Entity::update_many()
            .col_expr(token::Column::ExpiresAt, Expr::value(previous_expire_at))
            .filter(token::Column::RunnerId.eq(runner_id))
            .filter(token::Column::Kind.eq(TokenKind::RunnerAccess.as_str()))
            .filter(token::Column::RevokedAt.is_null())
            .filter(
                Condition::any()
                    .add(token::Column::ExpiresAt.is_null())
                    .add(token::Column::ExpiresAt.gt(previous_expire_at)),
            )
            .exec(txn)
            .await?;
        let id = tokens::insert(
            txn,
            NewToken {
                hash,
                kind: TokenKind::RunnerAccess,
                organization_id,
                user_id: None,
                runner_id: Some(runner_id),
                expires_at: None,
                description: "rotated".into(),
                read_only: false,
            },
        )
        .await?;
        let token = token::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| not_found("runner token"))?;
        let rotated = Rotated {
            token,
            previous_expire_at,
        };
        Ok((
            rotated,
            Change::credential(subject::RUNNER, runner_id, "runner.rotate_token").of_runner(runner_id),
        ))
    })
    .await
}
