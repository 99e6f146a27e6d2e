//! Groups of an organization, as GroupService manages them. Every write
//! takes `Managed<Groups>` (an organization admin's, or the admin CLI's) and
//! records its audit entry.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::audit::{self, Change, subject};
use super::entities::{group, membership, runner_policy};
use super::not_found;
use super::query::{Patch, keyset};
use crate::capability::{Managed, Visible};
use crate::error::Result;
use crate::pagination::Page;

pub use group::Model as Group;

/// The groups of one organization (what a capability is for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Groups {
    pub organization_id: Uuid,
}

pub async fn create(
    db: &impl TransactionTrait,
    groups: &Managed<Groups>,
    name: &str,
    description: &str,
) -> Result<Group> {
    let row = group::ActiveModel {
        id: Set(Uuid::now_v7()),
        organization_id: Set(groups.get().organization_id),
        name: Set(name.to_owned()),
        created_at: Set(Utc::now()),
        description: Set(description.to_owned()),
        updated_at: Set(None),
    };
    audit::audited(db, groups.actor(), async |txn| {
        let group = group::Entity::insert(row).exec_with_returning(txn).await?;
        let change = Change::resource(subject::GROUP, group.id, "group.create");
        Ok((group, change))
    })
    .await
}

/// A group of the organization by id; None when missing or another's.
pub async fn get(db: &impl ConnectionTrait, groups: &Visible<Groups>, id: Uuid) -> Result<Option<Group>> {
    Ok(group::Entity::find_by_id(id)
        .filter(group::Column::OrganizationId.eq(groups.get().organization_id))
        .one(db)
        .await?)
}

/// A group of the organization by name (the oldest, should two share it).
pub async fn by_name(db: &impl ConnectionTrait, groups: &Visible<Groups>, name: &str) -> Result<Option<Group>> {
    let page = Page { after: None, size: 0 };
    Ok(keyset(
        group::Entity::find()
            .filter(group::Column::OrganizationId.eq(groups.get().organization_id))
            .filter(group::Column::Name.eq(name)),
        group::Column::Id,
        page,
    )
    .one(db)
    .await?)
}

#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    pub organization_id: Uuid,
    /// Case-insensitive substring of the name.
    pub search: String,
    pub group_ids: Vec<Uuid>,
    /// Leave out the groups holding a policy (a role) on this runner.
    pub without_policy_on: Option<Uuid>,
}

pub fn list_query(filter: &GroupFilter, page: Page) -> sea_orm::Select<group::Entity> {
    let mut query = group::Entity::find().filter(group::Column::OrganizationId.eq(filter.organization_id));
    if !filter.group_ids.is_empty() {
        query = query.filter(group::Column::Id.is_in(filter.group_ids.clone()));
    }
    if let Some(runner_id) = filter.without_policy_on {
        let holders = sea_orm::sea_query::Query::select()
            .column(runner_policy::Column::GroupId)
            .from(runner_policy::Entity)
            .and_where(runner_policy::Column::RunnerId.eq(runner_id))
            .to_owned();
        query = query.filter(group::Column::Id.not_in_subquery(holders));
    }
    if !filter.search.is_empty() {
        let pattern = format!("%{}%", escape_like(&filter.search.to_lowercase()));
        query = query.filter(
            Condition::all().add(
                Expr::expr(Func::lower(Expr::col(group::Column::Name)))
                    .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
            ),
        );
    }
    keyset(query, group::Column::Id, page)
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub async fn list(db: &impl ConnectionTrait, filter: &GroupFilter, page: Page) -> Result<Vec<Group>> {
    Ok(list_query(filter, page).all(db).await?)
}

/// How many members each of `ids` has (one query for a page of groups).
pub async fn member_counts(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<HashMap<Uuid, i64>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, i64)> = membership::Entity::find()
        .select_only()
        .column(membership::Column::GroupId)
        .column_as(membership::Column::UserId.count(), "members")
        .filter(membership::Column::GroupId.is_in(ids.iter().copied()))
        .group_by(membership::Column::GroupId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

#[derive(Debug, Clone, Default)]
pub struct GroupChanges {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// NOT_FOUND when the group is gone or another organization's.
pub async fn update(
    db: &impl TransactionTrait,
    groups: &Managed<Groups>,
    id: Uuid,
    changes: GroupChanges,
) -> Result<()> {
    use group::Column as C;
    let organization_id = groups.get().organization_id;
    let patch = Patch::<group::Entity>::new(C::UpdatedAt)
        .set(C::Name, changes.name)
        .set(C::Description, changes.description);
    audit::audited(db, groups.actor(), async |txn| {
        patch
            .apply(txn, C::Id.eq(id).and(C::OrganizationId.eq(organization_id)), "group")
            .await?;
        Ok(((), Change::resource(subject::GROUP, id, "group.update")))
    })
    .await
}

/// Deletes a group with its memberships and runner policies (ON DELETE
/// CASCADE: one statement, one transaction). NOT_FOUND as for `update`.
pub async fn delete(db: &impl TransactionTrait, groups: &Managed<Groups>, id: Uuid) -> Result<()> {
    use group::Column as C;
    let organization_id = groups.get().organization_id;
    audit::audited(db, groups.actor(), async |txn| {
        let removed = group::Entity::delete_many()
            .filter(C::Id.eq(id))
            .filter(C::OrganizationId.eq(organization_id))
            .exec(txn)
            .await?;
        if removed.rows_affected == 0 {
            return Err(not_found("group"));
        }
        Ok(((), Change::resource(subject::GROUP, id, "group.delete")))
    })
    .await
}
