//! LLM integrations: model endpoints a runner's agents may use.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::audit::{self, subject};
use super::entities::llm_integration;
use super::query::{Patch, RunnerScope, keyset_scoped};
use super::runners::Runner;
use crate::base::capability::Managed;
use crate::base::error::Result;
use crate::base::pagination::Page;

pub use llm_integration::Model as LlmIntegration;

/// A request header the runner adds to LLM calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestHeader {
    pub key: String,
    pub value: Vec<u8>,
    pub header_type: i32,
}

pub struct NewLlmIntegration {
    pub models: Vec<i32>,
    pub endpoint: String,
    pub api_key_encrypted: Option<Vec<u8>>,
    pub max_tokens: i64,
    pub phase: i32,
    pub provider: i32,
}

fn json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(value).map_err(anyhow::Error::from)?)
}

pub async fn create(
    db: &impl sea_orm::TransactionTrait,
    runner: &Managed<Runner>,
    new: NewLlmIntegration,
) -> Result<LlmIntegration> {
    audit::audited_for_runner(
        db,
        runner,
        (subject::RUNNER_LLM_INTEGRATION, "llm_integration.create"),
        async |txn| {
            let value = create_row(txn, runner, new).await?;
            let id = value.id;
            Ok((value, id))
        },
    )
    .await
}

async fn create_row(
    db: &impl ConnectionTrait,
    runner: &Managed<Runner>,
    new: NewLlmIntegration,
) -> Result<LlmIntegration> {
    let now = Utc::now();
    let row = llm_integration::ActiveModel {
        id: Set(Uuid::now_v7()),
        runner_id: Set(runner.get().id),
        organization_id: Set(runner.get().organization_id),
        models: Set(json(&new.models)?),
        endpoint: Set(new.endpoint),
        api_key_encrypted: Set(new.api_key_encrypted),
        max_tokens: Set(new.max_tokens),
        phase: Set(new.phase),
        phase_reason: Set(String::new()),
        request_headers: Set("[]".into()),
        provider: Set(new.provider),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(llm_integration::Entity::insert(row).exec_with_returning(db).await?)
}

pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<LlmIntegration>> {
    Ok(llm_integration::Entity::find_by_id(id).one(db).await?)
}

/// The llm integrations a list shows.
pub type LlmIntegrationFilter = RunnerScope;

pub async fn list(db: &impl ConnectionTrait, filter: &RunnerScope, page: Page) -> Result<Vec<LlmIntegration>> {
    Ok(list_query(filter, page).all(db).await?)
}

/// The query behind `list` (tests check its plan uses an index).
pub fn list_query(filter: &RunnerScope, page: Page) -> sea_orm::Select<llm_integration::Entity> {
    use llm_integration::Column as C;
    let query = filter.apply(llm_integration::Entity::find(), C::OrganizationId, C::RunnerId);
    keyset_scoped(query, C::OrganizationId, filter.organization_id, C::Id, page)
}

#[derive(Debug, Clone, Default)]
pub struct LlmIntegrationChanges {
    pub endpoint: Option<String>,
    pub models: Option<Vec<i32>>,
    pub api_key_encrypted: Option<Option<Vec<u8>>>,
    pub max_tokens: Option<i64>,
    pub phase: Option<i32>,
    pub request_headers: Option<Vec<RequestHeader>>,
}

pub async fn update(
    db: &impl sea_orm::TransactionTrait,
    runner: &Managed<Runner>,
    id: Uuid,
    changes: LlmIntegrationChanges,
) -> Result<()> {
    audit::audited_for_runner(
        db,
        runner,
        (subject::RUNNER_LLM_INTEGRATION, "llm_integration.update"),
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
    changes: LlmIntegrationChanges,
) -> Result<()> {
    use llm_integration::Column as C;
    Patch::<llm_integration::Entity>::new(C::UpdatedAt)
        .set(C::Endpoint, changes.endpoint)
        .set(C::Models, changes.models.as_ref().map(json).transpose()?)
        .set(C::ApiKeyEncrypted, changes.api_key_encrypted)
        .set(C::MaxTokens, changes.max_tokens)
        .set(C::Phase, changes.phase)
        .set(
            C::RequestHeaders,
            changes.request_headers.as_ref().map(json).transpose()?,
        )
        .apply(db, C::Id.eq(id).and(C::RunnerId.eq(runner.get().id)), "LLM integration")
        .await
}

pub async fn delete(db: &impl sea_orm::TransactionTrait, runner: &Managed<Runner>, id: Uuid) -> Result<()> {
    audit::audited_for_runner(
        db,
        runner,
        (subject::RUNNER_LLM_INTEGRATION, "llm_integration.delete"),
        async |txn| {
            delete_row(txn, runner, id).await?;
            Ok(((), id))
        },
    )
    .await
}

/// NOT_FOUND when the integration is gone or is not the managed runner's.
async fn delete_row(db: &impl ConnectionTrait, runner: &Managed<Runner>, id: Uuid) -> Result<()> {
    use llm_integration::Column as C;
    let filter = C::Id.eq(id).and(C::RunnerId.eq(runner.get().id));
    super::query::delete::<llm_integration::Entity>(db, filter, "LLM integration").await
}

impl llm_integration::Model {
    pub fn models(&self) -> Vec<i32> {
        serde_json::from_str(&self.models).unwrap_or_default()
    }

    pub fn request_headers(&self) -> Vec<RequestHeader> {
        serde_json::from_str(&self.request_headers).unwrap_or_default()
    }
}
