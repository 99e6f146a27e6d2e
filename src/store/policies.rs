//! Runner policies: which group holds which role on a runner.

use chrono::Utc;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::audit::{self, subject};
use super::entities::{group, runner_policy};
use super::query::keyset;
use super::runners::Runner;
use super::{is_unique_violation, not_found};
use crate::base::capability::{Managed, Visible};
use crate::base::error::{Error, Result};
use crate::base::pagination::Page;

pub use runner_policy::Model as Policy;

/// One page of a runner's policies, ordered by group id, plus one extra row
/// when a further page exists.
pub async fn list(db: &impl ConnectionTrait, runner_id: Uuid, page: Page) -> Result<Vec<Policy>> {
    Ok(list_query(runner_id, page).all(db).await?)
}

/// The query behind `list` (tests check its plan uses an index).
pub fn list_query(runner_id: Uuid, page: Page) -> sea_orm::Select<runner_policy::Entity> {
    let query = runner_policy::Entity::find().filter(runner_policy::Column::RunnerId.eq(runner_id));
    keyset(query, runner_policy::Column::GroupId, page)
}

/// ALREADY_EXISTS when the group already has a policy on the runner.
pub async fn create(
    db: &impl sea_orm::TransactionTrait,
    runner: &Managed<Runner>,
    group: &Visible<group::Model>,
    role: i32,
) -> Result<Policy> {
    // a role assignment's subject is the runner it is on
    audit::audited_for_runner(
        db,
        runner,
        (subject::ROLE_ASSIGNMENT, "runner_policy.create"),
        async |txn| {
            let policy = insert(txn, runner, group, role).await?;
            let id = policy.runner_id;
            Ok((policy, id))
        },
    )
    .await
}

async fn insert(
    db: &impl ConnectionTrait,
    runner: &Managed<Runner>,
    group: &Visible<group::Model>,
    role: i32,
) -> Result<Policy> {
    let row = runner_policy::ActiveModel {
        runner_id: Set(runner.get().id),
        group_id: Set(group.get().id),
        role: Set(role),
        created_at: Set(Utc::now()),
        id: Set(Uuid::now_v7()),
    };
    match runner_policy::Entity::insert(row).exec_with_returning(db).await {
        Ok(policy) => Ok(policy),
        Err(e) if is_unique_violation(&e) => Err(Error::AlreadyExists(
            "the group already has a policy on this runner".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// NOT_FOUND when the group has no policy on the runner.
pub async fn update(
    db: &impl sea_orm::TransactionTrait,
    runner: &Managed<Runner>,
    group_id: Uuid,
    role: i32,
) -> Result<Policy> {
    let runner_id = runner.get().id;
    audit::audited_for_runner(
        db,
        runner,
        (subject::ROLE_ASSIGNMENT, "runner_policy.update"),
        async |txn| Ok((set_role(txn, runner_id, group_id, role).await?, runner_id)),
    )
    .await
}

async fn set_role(db: &impl ConnectionTrait, runner_id: Uuid, group_id: Uuid, role: i32) -> Result<Policy> {
    let result = runner_policy::Entity::update_many()
        .col_expr(runner_policy::Column::Role, Expr::value(role))
        .filter(runner_policy::Column::RunnerId.eq(runner_id))
        .filter(runner_policy::Column::GroupId.eq(group_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(not_found("policy"));
    }
    // (SQLite here has no UPDATE … RETURNING) the row as stored, unless a
    // delete got in between
    runner_policy::Entity::find_by_id((runner_id, group_id))
        .one(db)
        .await?
        .ok_or_else(|| not_found("policy"))
}

/// NOT_FOUND when the group has no policy on the runner.
pub async fn delete(db: &impl sea_orm::TransactionTrait, runner: &Managed<Runner>, group_id: Uuid) -> Result<()> {
    use runner_policy::Column as C;
    let runner_id = runner.get().id;
    audit::audited_for_runner(
        db,
        runner,
        (subject::ROLE_ASSIGNMENT, "runner_policy.delete"),
        async |txn| {
            let filter = C::RunnerId.eq(runner_id).and(C::GroupId.eq(group_id));
            super::query::delete::<runner_policy::Entity>(txn, filter, "policy").await?;
            Ok(((), runner_id))
        },
    )
    .await
}

/// A policy by its id (as a role assignment).
pub async fn by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Policy>> {
    Ok(runner_policy::Entity::find()
        .filter(runner_policy::Column::Id.eq(id))
        .one(db)
        .await?)
}

/// ListRoleAssignments' filter: the policies of an organization's groups.
#[derive(Debug, Clone, Default)]
pub struct AssignmentFilter {
    pub organization_id: Uuid,
    pub group_id: Option<Uuid>,
    /// Only the groups this user is a member of.
    pub user_id: Option<Uuid>,
    pub runner_ids: Vec<Uuid>,
    /// gitpod.v1.RunnerRole values; empty: any.
    pub roles: Vec<i32>,
}

pub fn assignments_query(filter: &AssignmentFilter, page: Page) -> sea_orm::Select<runner_policy::Entity> {
    use runner_policy::Column as C;
    let of_the_organization = Query::select()
        .column(group::Column::Id)
        .from(group::Entity)
        .and_where(group::Column::OrganizationId.eq(filter.organization_id))
        .to_owned();
    let mut query = runner_policy::Entity::find().filter(C::GroupId.in_subquery(of_the_organization));
    if let Some(group_id) = filter.group_id {
        query = query.filter(C::GroupId.eq(group_id));
    }
    if let Some(user_id) = filter.user_id {
        query = query.filter(C::GroupId.in_subquery(super::groups::of_user(user_id)));
    }
    if !filter.runner_ids.is_empty() {
        query = query.filter(C::RunnerId.is_in(filter.runner_ids.clone()));
    }
    if !filter.roles.is_empty() {
        query = query.filter(C::Role.is_in(filter.roles.clone()));
    }
    keyset(query, C::Id, page)
}

pub async fn assignments(db: &impl ConnectionTrait, filter: &AssignmentFilter, page: Page) -> Result<Vec<Policy>> {
    Ok(assignments_query(filter, page).all(db).await?)
}
