//! SCM integrations: how a runner reaches a source host (OAuth app, PATs).

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::audit::{self, subject};
use super::entities::scm_integration;
use super::is_unique_violation;
use super::query::{Patch, RunnerScope, keyset_scoped};
use super::runners::Runner;
use crate::base::capability::Managed;
use crate::base::error::{Error, Result};
use crate::base::pagination::Page;

pub use scm_integration::Model as ScmIntegration;

pub struct NewScmIntegration {
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

pub async fn create(
    db: &impl sea_orm::TransactionTrait,
    runner: &Managed<Runner>,
    new: NewScmIntegration,
) -> Result<ScmIntegration> {
    audit::audited_for_runner(
        db,
        runner,
        (subject::RUNNER_SCM_INTEGRATION, "scm_integration.create"),
        async |txn| {
            let value = create_row(txn, runner, new).await?;
            let id = value.id;
            Ok((value, id))
        },
    )
    .await
}

/// ALREADY_EXISTS when the runner already has an integration for the host.
async fn create_row(
    db: &impl ConnectionTrait,
    runner: &Managed<Runner>,
    new: NewScmIntegration,
) -> Result<ScmIntegration> {
    let now = Utc::now();
    let row = scm_integration::ActiveModel {
        id: Set(Uuid::now_v7()),
        runner_id: Set(runner.get().id),
        organization_id: Set(runner.get().organization_id),
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

/// The scm integrations a list shows.
pub type ScmIntegrationFilter = RunnerScope;

pub async fn list(db: &impl ConnectionTrait, filter: &RunnerScope, page: Page) -> Result<Vec<ScmIntegration>> {
    Ok(list_query(filter, page).all(db).await?)
}

/// The query behind `list` (tests check its plan uses an index).
pub fn list_query(filter: &RunnerScope, page: Page) -> sea_orm::Select<scm_integration::Entity> {
    use scm_integration::Column as C;
    let query = filter.apply(scm_integration::Entity::find(), C::OrganizationId, C::RunnerId);
    keyset_scoped(query, C::OrganizationId, filter.organization_id, C::Id, page)
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
    db: &impl sea_orm::TransactionTrait,
    runner: &Managed<Runner>,
    id: Uuid,
    changes: ScmIntegrationChanges,
) -> Result<()> {
    audit::audited_for_runner(
        db,
        runner,
        (subject::RUNNER_SCM_INTEGRATION, "scm_integration.update"),
        async |txn| {
            update_row(txn, runner, id, changes).await?;
            Ok(((), id))
        },
    )
    .await
}

/// NOT_FOUND when the integration is gone or is not the managed runner's.
async fn update_row(
    db: &impl ConnectionTrait,
    runner: &Managed<Runner>,
    id: Uuid,
    changes: ScmIntegrationChanges,
) -> Result<()> {
    use scm_integration::Column as C;
    Patch::<scm_integration::Entity>::new(C::UpdatedAt)
        .set(C::OauthClientId, changes.oauth_client_id)
        .set(C::OauthClientSecretEncrypted, changes.oauth_client_secret_encrypted)
        .set(C::Pat, changes.pat)
        .set(C::IssuerUrl, changes.issuer_url)
        .set(C::VirtualDirectory, changes.virtual_directory)
        .apply(db, C::Id.eq(id).and(C::RunnerId.eq(runner.get().id)), "SCM integration")
        .await
}

pub async fn delete(db: &impl sea_orm::TransactionTrait, runner: &Managed<Runner>, id: Uuid) -> Result<()> {
    audit::audited_for_runner(
        db,
        runner,
        (subject::RUNNER_SCM_INTEGRATION, "scm_integration.delete"),
        async |txn| {
            delete_row(txn, runner, id).await?;
            Ok(((), id))
        },
    )
    .await
}

/// NOT_FOUND when the integration is gone or is not the managed runner's.
async fn delete_row(db: &impl ConnectionTrait, runner: &Managed<Runner>, id: Uuid) -> Result<()> {
    use scm_integration::Column as C;
    let filter = C::Id.eq(id).and(C::RunnerId.eq(runner.get().id));
    super::query::delete::<scm_integration::Entity>(db, filter, "SCM integration").await
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
