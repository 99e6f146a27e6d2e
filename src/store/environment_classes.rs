//! Environment classes: the machine shapes a runner offers.

use chrono::Utc;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::audit::{self, subject};
use super::entities::{environment_class, runner};
use super::query::{Patch, RunnerScope, keyset_scoped};
use super::runners::Runner;
use crate::base::capability::Managed;
use crate::base::error::Result;
use crate::base::pagination::Page;

pub use environment_class::Model as EnvironmentClass;

pub struct NewEnvironmentClass {
    pub display_name: String,
    pub description: String,
    pub configuration: Vec<(String, String)>,
}

pub async fn create(
    db: &impl sea_orm::TransactionTrait,
    runner: &Managed<Runner>,
    new: NewEnvironmentClass,
) -> Result<EnvironmentClass> {
    audit::audited_for_runner(
        db,
        runner,
        (subject::ENVIRONMENT_CLASS, "environment_class.create"),
        async |txn| {
            let class = insert(txn, runner.get(), new).await?;
            let id = class.id;
            Ok((class, id))
        },
    )
    .await
}

/// A class of `runner`; callers hold a capability for it.
pub(super) async fn insert(
    db: &impl ConnectionTrait,
    runner: &Runner,
    new: NewEnvironmentClass,
) -> Result<EnvironmentClass> {
    let now = Utc::now();
    let row = environment_class::ActiveModel {
        id: Set(Uuid::now_v7()),
        runner_id: Set(runner.id),
        organization_id: Set(runner.organization_id),
        display_name: Set(new.display_name),
        description: Set(new.description),
        configuration: Set(serde_json::to_string(&new.configuration).map_err(anyhow::Error::from)?),
        enabled: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(environment_class::Entity::insert(row).exec_with_returning(db).await?)
}

pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<EnvironmentClass>> {
    Ok(environment_class::Entity::find_by_id(id).one(db).await?)
}

#[derive(Debug, Clone, Default)]
pub struct EnvironmentClassFilter {
    pub scope: RunnerScope,
    pub enabled: Option<bool>,
    pub runner_kinds: Vec<i32>,
    pub runner_providers: Vec<i32>,
    /// Only runners that can take new environments (not being deleted).
    pub usable_runners_only: bool,
}

/// One page in creation order, plus one extra row when a further page exists.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &EnvironmentClassFilter,
    page: Page,
) -> Result<Vec<EnvironmentClass>> {
    Ok(list_query(filter, page).all(db).await?)
}

/// The query behind `list` (tests check its plan uses an index).
pub fn list_query(filter: &EnvironmentClassFilter, page: Page) -> sea_orm::Select<environment_class::Entity> {
    use environment_class::Column as C;
    let mut query = filter
        .scope
        .apply(environment_class::Entity::find(), C::OrganizationId, C::RunnerId);
    if let Some(enabled) = filter.enabled {
        query = query.filter(C::Enabled.eq(enabled));
    }
    if !filter.runner_kinds.is_empty() || !filter.runner_providers.is_empty() || filter.usable_runners_only {
        let mut runners = Query::select();
        runners
            .column(runner::Column::Id)
            .from(runner::Entity)
            .and_where(Expr::col(runner::Column::OrganizationId).eq(filter.scope.organization_id));
        if !filter.runner_kinds.is_empty() {
            runners.and_where(Expr::col(runner::Column::Kind).is_in(filter.runner_kinds.iter().copied()));
        }
        if !filter.runner_providers.is_empty() {
            runners.and_where(Expr::col(runner::Column::Provider).is_in(filter.runner_providers.iter().copied()));
        }
        if filter.usable_runners_only {
            runners.and_where(Expr::col(runner::Column::Phase).ne(super::runners::phase::DELETING));
        }
        query = query.filter(C::RunnerId.in_subquery(runners.to_owned()));
    }
    keyset_scoped(query, C::OrganizationId, filter.scope.organization_id, C::Id, page)
}

#[derive(Debug, Clone, Default)]
pub struct EnvironmentClassChanges {
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// NOT_FOUND when the class is gone or is not the managed runner's.
pub async fn update(
    db: &impl sea_orm::TransactionTrait,
    runner: &Managed<Runner>,
    id: Uuid,
    changes: EnvironmentClassChanges,
) -> Result<()> {
    use environment_class::Column as C;
    let patch = Patch::<environment_class::Entity>::new(C::UpdatedAt)
        .set(C::DisplayName, changes.display_name)
        .set(C::Description, changes.description)
        .set(C::Enabled, changes.enabled);
    audit::audited_for_runner(
        db,
        runner,
        (subject::ENVIRONMENT_CLASS, "environment_class.update"),
        async |txn| {
            let filter = C::Id.eq(id).and(C::RunnerId.eq(runner.get().id));
            patch.apply(txn, filter, "environment class").await?;
            Ok(((), id))
        },
    )
    .await
}

impl environment_class::Model {
    /// The configuration values, in the order they were given.
    pub fn configuration(&self) -> Vec<(String, String)> {
        serde_json::from_str(&self.configuration).unwrap_or_default()
    }
}
