//! Bearer tokens, kept only as SHA-256 hashes.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryTrait,
    TransactionTrait,
};
use uuid::Uuid;

use super::entities::{runner, token, user};
use super::query::Prepared;
use crate::base::error::Result;
use crate::base::principal::Principal;

/// What a token is for, as stored in `tokens.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A user's personal access token.
    PersonalAccess,
    /// A runner's long-lived access token.
    RunnerAccess,
    /// A one-time token a runner trades for its access token.
    RunnerExchange,
}

impl TokenKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::PersonalAccess => "personal_access",
            TokenKind::RunnerAccess => "runner_access",
            TokenKind::RunnerExchange => "runner_exchange",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            TokenKind::PersonalAccess,
            TokenKind::RunnerAccess,
            TokenKind::RunnerExchange,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

pub struct NewToken {
    pub hash: [u8; 32],
    pub kind: TokenKind,
    pub organization_id: Uuid,
    pub user_id: Option<Uuid>,
    pub runner_id: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
    pub description: String,
    pub read_only: bool,
}

pub async fn insert(db: &impl ConnectionTrait, new: NewToken) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let row = token::ActiveModel {
        id: Set(id),
        hash: Set(new.hash.to_vec()),
        kind: Set(new.kind.as_str().to_owned()),
        organization_id: Set(new.organization_id),
        user_id: Set(new.user_id),
        runner_id: Set(new.runner_id),
        created_at: Set(Utc::now()),
        expires_at: Set(new.expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
        description: Set(new.description),
        read_only: Set(new.read_only),
        last_used_at: Set(None),
    };
    token::Entity::insert(row).exec_without_returning(db).await?;
    Ok(id)
}

/// Who a live bearer token belongs to.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub expires_at: Option<DateTime<Utc>>,
    /// A runner token's runner, read in the same query: the runner's own
    /// calls (its lease above all) need not read it again.
    pub runner: Option<runner::Model>,
    pub token_id: Uuid,
    /// When the token was last recorded as used (see `auth::usage`).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The principal behind a bearer token, if the token is a live credential:
/// known, not revoked, not expired, and of a kind that may call the API —
/// with the token's expiry, and for a runner token its runner (one query).
pub async fn authenticate(
    db: &impl ConnectionTrait,
    hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<Option<Authenticated>> {
    static BY_HASH: Prepared = Prepared::new();
    let backend = db.get_database_backend();
    let statement = BY_HASH.statement(
        backend,
        || {
            token::Entity::find()
                .filter(token::Column::Hash.eq(Vec::<u8>::new()))
                .find_also_related(runner::Entity)
                .build(backend)
        },
        vec![hash.to_vec().into()],
    );
    let Some(row) = db.query_one(statement).await? else {
        return Ok(None);
    };
    // the column prefixes of SeaORM's find_also_related
    let token = token::Model::from_query_result(&row, "A_")?;
    let runner = runner::Model::from_query_result_optional(&row, "B_")?;
    if token.revoked_at.is_some() || token.expires_at.is_some_and(|t| t <= now) {
        return Ok(None);
    }
    match (TokenKind::parse(&token.kind), token.user_id, runner) {
        (Some(TokenKind::PersonalAccess), Some(user_id), _) => {
            let user = user::Entity::find_by_id(user_id).one(db).await?;
            Ok(user.map(|u| Authenticated {
                principal: Principal::User {
                    id: u.id,
                    organization_id: u.organization_id,
                    org_admin: u.org_admin,
                    read_only: token.read_only,
                },
                expires_at: token.expires_at,
                runner: None,
                token_id: token.id,
                last_used_at: token.last_used_at,
            }))
        }
        (Some(TokenKind::RunnerAccess), _, Some(runner)) => Ok(Some(Authenticated {
            principal: Principal::Runner {
                id: runner.id,
                organization_id: token.organization_id,
            },
            expires_at: token.expires_at,
            runner: Some(runner),
            token_id: token.id,
            last_used_at: token.last_used_at,
        })),
        // Exchange tokens are traded, never presented as bearer tokens.
        _ => Ok(None),
    }
}

/// Why an exchange failed; all of them look the same to the caller.
#[derive(Debug, PartialEq, Eq)]
pub enum ExchangeRefused {
    Unknown,
    Used,
    Expired,
    Revoked,
}

/// Trades an unused, unexpired exchange token for a new runner access token
/// (`access_hash`), once: of two concurrent exchanges of one token — even on
/// different replicas — exactly one succeeds.
pub async fn exchange(
    db: &(impl ConnectionTrait + TransactionTrait),
    exchange_hash: &[u8; 32],
    access_hash: [u8; 32],
    now: DateTime<Utc>,
) -> Result<Result<Uuid, ExchangeRefused>> {
    let txn = db.begin().await?;
    let Some(token) = token::Entity::find()
        .filter(token::Column::Hash.eq(exchange_hash.to_vec()))
        .filter(token::Column::Kind.eq(TokenKind::RunnerExchange.as_str()))
        .one(&txn)
        .await?
    else {
        return Ok(Err(ExchangeRefused::Unknown));
    };
    let Some(runner_id) = token.runner_id else {
        return Ok(Err(ExchangeRefused::Unknown));
    };
    if token.revoked_at.is_some() {
        return Ok(Err(ExchangeRefused::Revoked));
    }
    if token.used_at.is_some() {
        return Ok(Err(ExchangeRefused::Used));
    }
    if token.expires_at.is_some_and(|t| t <= now) {
        return Ok(Err(ExchangeRefused::Expired));
    }
    // Claim the token; the condition makes a concurrent second claim a no-op.
    let claimed = token::Entity::update_many()
        .col_expr(token::Column::UsedAt, Expr::value(now))
        .filter(token::Column::Id.eq(token.id))
        .filter(token::Column::UsedAt.is_null())
        // a DeleteRunner committed since the read revokes the token
        .filter(token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(Err(ExchangeRefused::Used));
    }
    // the runner's earlier access tokens stop working: a token is replaced
    // because it leaked or its key was lost, and the old one must not sign
    // up with a key of its own before the new one does
    token::Entity::update_many()
        .col_expr(token::Column::RevokedAt, Expr::value(now))
        .filter(token::Column::RunnerId.eq(runner_id))
        .filter(token::Column::Kind.eq(TokenKind::RunnerAccess.as_str()))
        .filter(token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    // a new access token may sign up with a new key (the old key is forgotten)
    super::entities::runner::Entity::update_many()
        .col_expr(
            super::entities::runner::Column::PublicKey,
            Expr::value(Option::<Vec<u8>>::None),
        )
        .filter(super::entities::runner::Column::Id.eq(runner_id))
        .exec(&txn)
        .await?;
    insert(
        &txn,
        NewToken {
            hash: access_hash,
            kind: TokenKind::RunnerAccess,
            organization_id: token.organization_id,
            user_id: None,
            runner_id: Some(runner_id),
            expires_at: None,
            description: String::new(),
            read_only: false,
        },
    )
    .await?;
    // the exchange token is the credential of the call: its runner acts
    let runner = crate::base::capability::Actor {
        id: runner_id,
        principal: crate::base::principal::PRINCIPAL_RUNNER,
        organization_id: token.organization_id,
    };
    let pending = super::audit::record(
        &txn,
        &runner,
        super::audit::Change::credential(super::audit::subject::RUNNER, runner_id, "runner.exchange_token"),
    )
    .await?;
    txn.commit().await?;
    pending.committed();
    Ok(Ok(runner_id))
}

/// Revokes a runner's unused exchange tokens (when it is being deleted: its
/// access token keeps working until it confirms, so it can learn of it).
pub async fn revoke_exchange_tokens(db: &impl ConnectionTrait, runner_id: Uuid, now: DateTime<Utc>) -> Result<()> {
    token::Entity::update_many()
        .col_expr(token::Column::RevokedAt, Expr::value(now))
        .filter(token::Column::RunnerId.eq(runner_id))
        .filter(token::Column::Kind.eq(TokenKind::RunnerExchange.as_str()))
        .filter(token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Records that these tokens were used at `at` (a batch from
/// `auth::usage`); a later time already recorded stays.
pub async fn mark_used(db: &impl ConnectionTrait, ids: &[Uuid], at: DateTime<Utc>) -> Result<()> {
    for chunk in ids.chunks(500) {
        token::Entity::update_many()
            .col_expr(token::Column::LastUsedAt, Expr::value(at))
            .filter(token::Column::Id.is_in(chunk.iter().copied()))
            .filter(token::Column::LastUsedAt.is_null().or(token::Column::LastUsedAt.lt(at)))
            .exec(db)
            .await?;
    }
    Ok(())
}
