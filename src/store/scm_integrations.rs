//! SCM integrations: how a runner reaches a source host (OAuth app, PATs).

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::entities::scm_integration;
use super::{is_unique_violation, not_found};
use crate::error::{Error, Result};
use crate::pagination::Page;

pub use scm_integration::Model as ScmIntegration;

pub struct NewScmIntegration {
    pub runner_id: Uuid,
    pub organization_id: Uuid,
    pub scm_id: String,
    pub host: String,
    pub oauth_client_id: Option<String>,
    pub oauth_client_secret_encrypted: Option<Vec<u8>>,
    pub issuer_url: Option<String>,
    pub pat: bool,
    pub virtual_directory: Option<String>,
}

fn duplicate() -> Error {
    Error::AlreadyExists("the runner already has an SCM integration for this host".into())
}

/// ALREADY_EXISTS when the runner already has an integration for the host.
pub async fn create(db: &impl ConnectionTrait, new: NewScmIntegration) -> Result<ScmIntegration> {
    let now = Utc::now();
    let row = scm_integration::ActiveModel {
        id: Set(Uuid::now_v7()),
        runner_id: Set(new.runner_id),
        organization_id: Set(new.organization_id),
        scm_id: Set(new.scm_id),
        host: Set(new.host),
        oauth_client_id: Set(new.oauth_client_id),
        oauth_client_secret_encrypted: Set(new.oauth_client_secret_encrypted),
        issuer_url: Set(new.issuer_url),
        pat: Set(new.pat),
        virtual_directory: Set(new.virtual_directory),
        created_at: Set(now),
        updated_at: Set(now),
    };
    match scm_integration::Entity::insert(row).exec_with_returning(db).await {
        Ok(model) => Ok(model),
        Err(e) if is_unique_violation(&e) => Err(duplicate()),
        Err(e) => Err(e.into()),
    }
}

pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<ScmIntegration>> {
    Ok(scm_integration::Entity::find_by_id(id).one(db).await?)
}

#[derive(Debug, Clone, Default)]
pub struct ScmIntegrationFilter {
    pub organization_id: Uuid,
    pub only_runner: Option<Uuid>,
    pub runner_ids: Vec<Uuid>,
}

pub async fn list(db: &impl ConnectionTrait, filter: &ScmIntegrationFilter, page: Page) -> Result<Vec<ScmIntegration>> {
    Ok(list_query(filter, page).all(db).await?)
}

/// The query behind `list` (tests check its plan uses an index).
pub fn list_query(filter: &ScmIntegrationFilter, page: Page) -> sea_orm::Select<scm_integration::Entity> {
    use scm_integration::Column as C;
    let mut query = scm_integration::Entity::find().filter(C::OrganizationId.eq(filter.organization_id));
    if let Some(id) = filter.only_runner {
        query = query.filter(C::RunnerId.eq(id));
    }
    if !filter.runner_ids.is_empty() {
        query = query.filter(C::RunnerId.is_in(filter.runner_ids.iter().copied()));
    }
    if let Some(after) = page.after {
        query = query.filter(C::Id.gt(after));
    }
    query.order_by_asc(C::Id).limit(page.size + 1)
}

/// A partial update; Some(None) clears an optional field.
#[derive(Debug, Clone, Default)]
pub struct ScmIntegrationChanges {
    pub oauth_client_id: Option<Option<String>>,
    pub oauth_client_secret_encrypted: Option<Option<Vec<u8>>>,
    pub pat: Option<bool>,
    pub issuer_url: Option<Option<String>>,
    pub virtual_directory: Option<Option<String>>,
}

pub async fn update(
    db: &(impl ConnectionTrait + TransactionTrait),
    id: Uuid,
    changes: ScmIntegrationChanges,
) -> Result<ScmIntegration> {
    let txn = db.begin().await?;
    let current = scm_integration::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| not_found("SCM integration"))?;
    let mut row = current.into_active_model();
    if let Some(v) = changes.oauth_client_id {
        row.oauth_client_id = Set(v);
    }
    if let Some(v) = changes.oauth_client_secret_encrypted {
        row.oauth_client_secret_encrypted = Set(v);
    }
    if let Some(v) = changes.pat {
        row.pat = Set(v);
    }
    if let Some(v) = changes.issuer_url {
        row.issuer_url = Set(v);
    }
    if let Some(v) = changes.virtual_directory {
        row.virtual_directory = Set(v);
    }
    row.updated_at = Set(Utc::now());
    let updated = row.update(&txn).await?;
    txn.commit().await?;
    Ok(updated)
}

pub async fn delete(db: &impl ConnectionTrait, id: Uuid) -> Result<()> {
    let result = scm_integration::Entity::delete_by_id(id).exec(db).await?;
    if result.rows_affected == 0 {
        return Err(not_found("SCM integration"));
    }
    Ok(())
}

/// The SCM integrations of some runners (at most 500: hosts, not a listing).
pub async fn for_runners(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    runner: Option<Uuid>,
) -> Result<Vec<ScmIntegration>> {
    use scm_integration::Column as C;
    let mut query = scm_integration::Entity::find().filter(C::OrganizationId.eq(organization_id));
    if let Some(id) = runner {
        query = query.filter(C::RunnerId.eq(id));
    }
    Ok(query.order_by_asc(C::Id).limit(500).all(db).await?)
}
