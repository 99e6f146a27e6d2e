//! Runner policies: which group holds which role on a runner.

use chrono::Utc;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::entities::{membership, runner_policy};
use super::{is_unique_violation, not_found};
use crate::error::{Error, Result};
use crate::pagination::Page;

pub use runner_policy::Model as Policy;

/// One page of a runner's policies, ordered by group id, plus one extra row
/// when a further page exists.
pub async fn list(db: &impl ConnectionTrait, runner_id: Uuid, page: Page) -> Result<Vec<Policy>> {
    Ok(list_query(runner_id, page).all(db).await?)
}

/// The query behind `list` (tests check its plan uses an index).
pub fn list_query(runner_id: Uuid, page: Page) -> sea_orm::Select<runner_policy::Entity> {
    let mut query = runner_policy::Entity::find().filter(runner_policy::Column::RunnerId.eq(runner_id));
    if let Some(after) = page.after {
        query = query.filter(runner_policy::Column::GroupId.gt(after));
    }
    query.order_by_asc(runner_policy::Column::GroupId).limit(page.size + 1)
}

/// ALREADY_EXISTS when the group already has a policy on the runner.
pub async fn create(db: &impl ConnectionTrait, runner_id: Uuid, group_id: Uuid, role: i32) -> Result<Policy> {
    let row = runner_policy::ActiveModel {
        runner_id: Set(runner_id),
        group_id: Set(group_id),
        role: Set(role),
        created_at: Set(Utc::now()),
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
pub async fn update(db: &impl ConnectionTrait, runner_id: Uuid, group_id: Uuid, role: i32) -> Result<Policy> {
    let result = runner_policy::Entity::update_many()
        .col_expr(runner_policy::Column::Role, Expr::value(role))
        .filter(runner_policy::Column::RunnerId.eq(runner_id))
        .filter(runner_policy::Column::GroupId.eq(group_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(not_found("policy"));
    }
    Ok(Policy {
        runner_id,
        group_id,
        role,
        created_at: Utc::now(),
    })
}

/// NOT_FOUND when the group has no policy on the runner.
pub async fn delete(db: &impl ConnectionTrait, runner_id: Uuid, group_id: Uuid) -> Result<()> {
    let result = runner_policy::Entity::delete_many()
        .filter(runner_policy::Column::RunnerId.eq(runner_id))
        .filter(runner_policy::Column::GroupId.eq(group_id))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(not_found("policy"));
    }
    Ok(())
}

/// Whether the user is in a group that holds `role` on the runner (one query).
pub async fn user_has_role(db: &impl ConnectionTrait, runner_id: Uuid, user_id: Uuid, role: i32) -> Result<bool> {
    let groups_with_role = Query::select()
        .column(runner_policy::Column::GroupId)
        .from(runner_policy::Entity)
        .and_where(Expr::col(runner_policy::Column::RunnerId).eq(runner_id))
        .and_where(Expr::col(runner_policy::Column::Role).eq(role))
        .to_owned();
    let count = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .filter(membership::Column::GroupId.in_subquery(groups_with_role))
        .count(db)
        .await?;
    Ok(count > 0)
}
