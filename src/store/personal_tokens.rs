//! Users' personal access tokens as UserService shows them: created by their
//! user, read and revoked by their user or an organization admin. Stored
//! like every bearer token (`tokens`): only the hash.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use super::audit::{self, Change, subject};
use super::entities::token;
use super::not_found;
use super::query::keyset_scoped;
use super::tokens::{self, NewToken, TokenKind};
use crate::base::capability::Managed;
use crate::base::error::Result;
use crate::base::pagination::Page;

pub use token::Model as PersonalToken;

/// A user minting a token for themselves (what the capability is for).
#[derive(Debug, Clone, Copy)]
pub struct Minter {
    pub user_id: Uuid,
    pub organization_id: Uuid,
}

pub struct NewPersonalToken {
    pub hash: [u8; 32],
    pub description: String,
    pub expires_at: DateTime<Utc>,
    pub read_only: bool,
}

/// Stores a new token of the minter; its id.
pub async fn create(db: &impl TransactionTrait, minter: &Managed<Minter>, new: NewPersonalToken) -> Result<Uuid> {
    let Minter {
        user_id,
        organization_id,
    } = *minter.get();
    audit::audited(db, minter.actor(), async |txn| {
        let id = tokens::insert(
            txn,
            NewToken {
                hash: new.hash,
                kind: TokenKind::PersonalAccess,
                organization_id,
                user_id: Some(user_id),
                runner_id: None,
                expires_at: Some(new.expires_at),
                description: new.description,
                read_only: new.read_only,
            },
        )
        .await?;
        let change = Change::credential(subject::PERSONAL_ACCESS_TOKEN, id, "personal_access_token.create");
        Ok((id, change))
    })
    .await
}

/// A live (not deleted) personal access token by id.
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<PersonalToken>> {
    Ok(token::Entity::find_by_id(id)
        .filter(token::Column::Kind.eq(TokenKind::PersonalAccess.as_str()))
        .filter(token::Column::RevokedAt.is_null())
        .one(db)
        .await?)
}

/// Whose tokens a list shows: an organization's, optionally only some users'.
#[derive(Debug, Clone, Default)]
pub struct Owners {
    pub organization_id: Uuid,
    /// Empty: every user's of the organization.
    pub user_ids: Vec<Uuid>,
}

pub fn list_query(owners: &Owners, page: Page) -> sea_orm::Select<token::Entity> {
    use token::Column as C;
    let mut query = token::Entity::find()
        .filter(C::OrganizationId.eq(owners.organization_id))
        .filter(C::Kind.eq(TokenKind::PersonalAccess.as_str()))
        .filter(C::RevokedAt.is_null());
    if !owners.user_ids.is_empty() {
        query = query.filter(C::UserId.is_in(owners.user_ids.iter().copied()));
    }
    keyset_scoped(query, C::OrganizationId, owners.organization_id, C::Id, page)
}

/// One page (plus one row when more follow), oldest first.
pub async fn list(db: &impl ConnectionTrait, owners: &Owners, page: Page) -> Result<Vec<PersonalToken>> {
    Ok(list_query(owners, page).all(db).await?)
}

/// Revokes the token (it stops authenticating once caches let go of it).
/// NOT_FOUND when it was deleted meanwhile.
pub async fn delete(db: &impl TransactionTrait, token: &Managed<PersonalToken>) -> Result<()> {
    let id = token.get().id;
    audit::audited(db, token.actor(), async |txn| {
        let revoked = token::Entity::update_many()
            .col_expr(token::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(token::Column::Id.eq(id))
            .filter(token::Column::RevokedAt.is_null())
            .exec(txn)
            .await?;
        if revoked.rows_affected == 0 {
            return Err(not_found("personal access token"));
        }
        let change = Change::credential(subject::PERSONAL_ACCESS_TOKEN, id, "personal_access_token.delete");
        Ok(((), change))
    })
    .await
}
