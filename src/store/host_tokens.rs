//! Host authentication tokens: a user's credential for a source host, kept
//! sealed for the runner that acts on the user's behalf.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::audit::{self, Change, subject};
use super::entities::host_authentication_token;
use super::is_unique_violation;
use super::query::{Patch, keyset_scoped};
use crate::base::capability::Managed;
use crate::base::error::{Error, Result};
use crate::base::pagination::Page;

pub use host_authentication_token::Model as HostToken;

/// Whose token, on which runner: what `auth::access` lets a caller create a
/// host token for.
#[derive(Debug, Clone, Copy)]
pub struct Holder {
    pub runner_id: Uuid,
    pub organization_id: Uuid,
    pub subject_id: Uuid,
    pub subject_principal: i32,
}

pub struct NewHostToken {
    pub host: String,
    pub token_encrypted: Vec<u8>,
    pub refresh_token_encrypted: Option<Vec<u8>>,
    pub source: i32,
    pub expires_at: Option<DateTime<Utc>>,
    pub integration_id: Option<Uuid>,
    pub scopes: Vec<String>,
}

pub async fn create(
    db: &impl sea_orm::TransactionTrait,
    holder: &Managed<Holder>,
    new: NewHostToken,
) -> Result<HostToken> {
    audit::audited(db, holder.actor(), async |txn| {
        let value = create_row(txn, holder, new).await?;
        let change = Change::resource(
            subject::HOST_AUTHENTICATION_TOKEN,
            value.id,
            "host_authentication_token.create",
        )
        .of_runner(value.runner_id)
        .held_by(value.subject_id);
        Ok((value, change))
    })
    .await
}

/// ALREADY_EXISTS when the subject already has a token for the host on the runner.
async fn create_row(db: &impl ConnectionTrait, holder: &Managed<Holder>, new: NewHostToken) -> Result<HostToken> {
    let now = Utc::now();
    let holder = holder.get();
    let row = host_authentication_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        runner_id: Set(holder.runner_id),
        organization_id: Set(holder.organization_id),
        subject_id: Set(holder.subject_id),
        subject_principal: Set(holder.subject_principal),
        host: Set(new.host),
        token_encrypted: Set(new.token_encrypted),
        refresh_token_encrypted: Set(new.refresh_token_encrypted),
        source: Set(new.source),
        expires_at: Set(new.expires_at),
        integration_id: Set(new.integration_id),
        scopes: Set(serde_json::to_string(&new.scopes).map_err(anyhow::Error::from)?),
        created_at: Set(now),
        updated_at: Set(now),
    };
    match host_authentication_token::Entity::insert(row)
        .exec_with_returning(db)
        .await
    {
        Ok(model) => Ok(model),
        Err(e) if is_unique_violation(&e) => Err(Error::AlreadyExists(
            "this subject already has a token for this host on this runner".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<HostToken>> {
    Ok(host_authentication_token::Entity::find_by_id(id).one(db).await?)
}

#[derive(Debug, Clone, Default)]
pub struct HostTokenFilter {
    pub organization_id: Uuid,
    pub runner_id: Option<Uuid>,
    pub subject_id: Option<Uuid>,
    /// Only the tokens of this subject (callers who are not organization admins).
    pub only_subject: Option<Uuid>,
}

pub async fn list(db: &impl ConnectionTrait, filter: &HostTokenFilter, page: Page) -> Result<Vec<HostToken>> {
    Ok(list_query(filter, page).all(db).await?)
}

/// The query behind `list` (tests check its plan uses an index).
pub fn list_query(filter: &HostTokenFilter, page: Page) -> sea_orm::Select<host_authentication_token::Entity> {
    use host_authentication_token::Column as C;
    let mut query = host_authentication_token::Entity::find().filter(C::OrganizationId.eq(filter.organization_id));
    if let Some(id) = filter.runner_id {
        query = query.filter(C::RunnerId.eq(id));
    }
    if let Some(id) = filter.subject_id {
        query = query.filter(C::SubjectId.eq(id));
    }
    if let Some(id) = filter.only_subject {
        query = query.filter(C::SubjectId.eq(id));
    }
    keyset_scoped(query, C::OrganizationId, filter.organization_id, C::Id, page)
}

#[derive(Debug, Clone, Default)]
pub struct HostTokenChanges {
    pub token_encrypted: Option<Vec<u8>>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub refresh_token_encrypted: Option<Option<Vec<u8>>>,
    pub scopes: Option<Vec<String>>,
}

pub async fn update(
    db: &impl sea_orm::TransactionTrait,
    token: &Managed<HostToken>,
    changes: HostTokenChanges,
) -> Result<()> {
    audit::audited(db, token.actor(), async |txn| {
        update_row(txn, token, changes).await?;
        let change = Change::resource(
            subject::HOST_AUTHENTICATION_TOKEN,
            token.get().id,
            "host_authentication_token.update",
        )
        .of_runner(token.get().runner_id)
        .held_by(token.get().subject_id);
        Ok(((), change))
    })
    .await
}

async fn update_row(db: &impl ConnectionTrait, token: &Managed<HostToken>, changes: HostTokenChanges) -> Result<()> {
    use host_authentication_token::Column as C;
    let scopes = changes
        .scopes
        .map(|s| serde_json::to_string(&s).map_err(anyhow::Error::from))
        .transpose()?;
    Patch::<host_authentication_token::Entity>::new(C::UpdatedAt)
        .set(C::TokenEncrypted, changes.token_encrypted)
        .set(C::ExpiresAt, changes.expires_at)
        .set(C::RefreshTokenEncrypted, changes.refresh_token_encrypted)
        .set(C::Scopes, scopes)
        .apply(db, C::Id.eq(token.get().id), "host authentication token")
        .await
}

pub async fn delete(db: &impl sea_orm::TransactionTrait, token: Managed<HostToken>) -> Result<()> {
    use host_authentication_token::Column as C;
    let (id, runner_id, holder_id) = (token.get().id, token.get().runner_id, token.get().subject_id);
    audit::audited(db, token.actor(), async |txn| {
        let filter = C::Id.eq(id);
        super::query::delete::<host_authentication_token::Entity>(txn, filter, "host authentication token").await?;
        let change = Change::resource(
            subject::HOST_AUTHENTICATION_TOKEN,
            id,
            "host_authentication_token.delete",
        )
        .of_runner(runner_id)
        .held_by(holder_id);
        Ok(((), change))
    })
    .await
}

impl host_authentication_token::Model {
    pub fn scopes(&self) -> Vec<String> {
        serde_json::from_str(&self.scopes).unwrap_or_default()
    }
}

/// The subject's unexpired token for the host on the runner, if any.
pub async fn live_for(
    db: &impl ConnectionTrait,
    runner_id: Uuid,
    subject_id: Uuid,
    host: &str,
    now: DateTime<Utc>,
) -> Result<Option<HostToken>> {
    use host_authentication_token::Column as C;
    let token = host_authentication_token::Entity::find()
        .filter(C::RunnerId.eq(runner_id))
        .filter(C::SubjectId.eq(subject_id))
        .filter(C::Host.eq(host))
        .one(db)
        .await?;
    Ok(token.filter(|t| t.expires_at.is_none_or(|e| e > now)))
}

/// The subject's unexpired token for the host: on the runner when one is
/// named, else on any runner of the organization (the newest).
pub async fn live_for_host(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    subject_id: Uuid,
    host: &str,
    runner_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Option<HostToken>> {
    use host_authentication_token::Column as C;
    let mut query = host_authentication_token::Entity::find()
        .filter(C::OrganizationId.eq(organization_id))
        .filter(C::SubjectId.eq(subject_id))
        .filter(C::Host.eq(host));
    if let Some(id) = runner_id {
        query = query.filter(C::RunnerId.eq(id));
    }
    let tokens = query.order_by_desc(C::Id).limit(20).all(db).await?;
    Ok(tokens.into_iter().find(|t| t.expires_at.is_none_or(|e| e > now)))
}
