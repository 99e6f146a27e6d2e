//! Organizations and who is in them: users, groups, memberships.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use super::audit::{self, Change, subject};
use super::entities::{group, organization, token, user};
use super::{is_unique_violation, not_found};
use crate::base::error::{Error, Result};

/// The organization of that name, created when it does not exist yet.
pub async fn ensure(db: &impl ConnectionTrait, name: &str) -> Result<organization::Model> {
    if let Some(org) = find_by_name(db, name).await? {
        return Ok(org);
    }
    let org = organization::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.to_owned()),
        created_at: Set(Utc::now()),
    };
    match organization::Entity::insert(org).exec_with_returning(db).await {
        Ok(model) => Ok(model),
        // another replica created it first
        Err(e) if is_unique_violation(&e) => find_by_name(db, name).await?.ok_or_else(|| not_found("organization")),
        Err(e) => Err(e.into()),
    }
}

async fn find_by_name(db: &impl ConnectionTrait, name: &str) -> Result<Option<organization::Model>> {
    Ok(organization::Entity::find()
        .filter(organization::Column::Name.eq(name))
        .one(db)
        .await?)
}

pub struct NewUser<'a> {
    pub organization_id: Uuid,
    pub name: &'a str,
    pub org_admin: bool,
    /// SHA-256 of the user's first personal access token.
    pub token_hash: [u8; 32],
}

/// Creates a user together with their first personal access token.
pub async fn create_user(db: &(impl ConnectionTrait + TransactionTrait), new: NewUser<'_>) -> Result<user::Model> {
    let now = Utc::now();
    let user = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(new.organization_id),
        name: Set(new.name.to_owned()),
        org_admin: Set(new.org_admin),
        created_at: Set(now),
    };
    let txn = db.begin().await?;
    let user = user::Entity::insert(user).exec_with_returning(&txn).await?;
    super::tokens::insert(
        &txn,
        super::tokens::NewToken {
            hash: new.token_hash,
            kind: super::tokens::TokenKind::PersonalAccess,
            organization_id: new.organization_id,
            user_id: Some(user.id),
            runner_id: None,
            expires_at: None,
            description: String::new(),
            read_only: false,
        },
    )
    .await?;
    let change = Change::resource(subject::USER, user.id, "user.create");
    let pending = audit::record(
        &txn,
        &crate::base::capability::Actor::operator(new.organization_id),
        change,
    )
    .await?;
    txn.commit().await?;
    pending.committed();
    Ok(user)
}

/// Ensures an organization admin exists whose token hashes to `token_hash`
/// (the PADDOCK_ADMIN_TOKEN bootstrap). Safe to run on every start of every replica.
pub async fn ensure_admin(
    db: &(impl ConnectionTrait + TransactionTrait),
    org_name: &str,
    token_hash: [u8; 32],
) -> Result<()> {
    let exists = token::Entity::find()
        .filter(token::Column::Hash.eq(token_hash.to_vec()))
        .one(db)
        .await?
        .is_some();
    if exists {
        return Ok(());
    }
    let org = ensure(db, org_name).await?;
    let new = NewUser {
        organization_id: org.id,
        name: "admin",
        org_admin: true,
        token_hash,
    };
    match create_user(db, new).await {
        Err(Error::Database(e)) if is_unique_violation(&e) => Ok(()),
        other => other.map(|_| ()),
    }
}

pub async fn find_group(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<group::Model>> {
    Ok(group::Entity::find_by_id(id).one(db).await?)
}

pub async fn find_user(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<organization::Model>> {
    Ok(organization::Entity::find_by_id(id).one(db).await?)
}
