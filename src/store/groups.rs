//! Groups of an organization, as GroupService manages them. Every write
//! takes `Managed<Groups>` (an organization admin's, or the admin CLI's) and
//! records its audit entry.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::audit::{self, Change, subject};
use super::entities::{group, membership, runner_policy, user};
use super::not_found;
use super::query::{Patch, keyset, keyset_scoped};
use crate::base::capability::{Managed, Visible};
use crate::base::error::Result;
use crate::base::pagination::Page;

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
        query = query.filter(name_contains(group::Column::Name, &filter.search));
    }
    keyset_scoped(
        query,
        group::Column::OrganizationId,
        filter.organization_id,
        group::Column::Id,
        page,
    )
}

/// `column` holds `search`, case-insensitively (LIKE with its wildcards escaped).
pub(crate) fn name_contains(
    column: impl sea_orm::sea_query::IntoColumnRef,
    search: &str,
) -> sea_orm::sea_query::SimpleExpr {
    let escaped = search
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Expr::expr(Func::lower(Expr::col(column)))
        .like(sea_orm::sea_query::LikeExpr::new(format!("%{escaped}%")).escape('\\'))
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

/// A member of a group, with their name.
#[derive(Debug, Clone)]
pub struct Member {
    pub membership: membership::Model,
    pub name: String,
}

/// Adds a user of the organization to one of its groups. NOT_FOUND for a
/// group or user of another organization (or none); ALREADY_EXISTS when the
/// user is a member.
pub async fn add_member(
    db: &impl TransactionTrait,
    groups: &Managed<Groups>,
    group_id: Uuid,
    user_id: Uuid,
) -> Result<Member> {
    let organization_id = groups.get().organization_id;
    audit::audited(db, groups.actor(), async |txn| {
        let group = group::Entity::find_by_id(group_id)
            .filter(group::Column::OrganizationId.eq(organization_id))
            .one(txn)
            .await?
            .ok_or_else(|| not_found("group"))?;
        let user = user::Entity::find_by_id(user_id)
            .filter(user::Column::OrganizationId.eq(organization_id))
            .one(txn)
            .await?
            .ok_or_else(|| not_found("user"))?;
        let row = membership::ActiveModel {
            group_id: Set(group.id),
            user_id: Set(user.id),
            created_at: Set(Utc::now()),
            id: Set(Uuid::now_v7()),
        };
        let membership = match membership::Entity::insert(row).exec_with_returning(txn).await {
            Ok(m) => m,
            Err(e) if super::is_unique_violation(&e) => {
                return Err(crate::base::error::Error::AlreadyExists(
                    "the user is a member of the group already".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let change = Change::resource(subject::GROUP_MEMBERSHIP_CHANGED, group.id, "group.add_member");
        Ok((
            Member {
                membership,
                name: user.name,
            },
            change,
        ))
    })
    .await
}

/// Removes a membership of one of the organization's groups; NOT_FOUND when
/// there is none such.
pub async fn remove_member(db: &impl TransactionTrait, groups: &Managed<Groups>, membership_id: Uuid) -> Result<()> {
    let organization_id = groups.get().organization_id;
    audit::audited(db, groups.actor(), async |txn| {
        let of_the_organization = sea_orm::sea_query::Query::select()
            .column(group::Column::Id)
            .from(group::Entity)
            .and_where(group::Column::OrganizationId.eq(organization_id))
            .to_owned();
        let found = membership::Entity::find()
            .filter(membership::Column::Id.eq(membership_id))
            .filter(membership::Column::GroupId.in_subquery(of_the_organization))
            .one(txn)
            .await?
            .ok_or_else(|| not_found("membership"))?;
        membership::Entity::delete_many()
            .filter(membership::Column::Id.eq(membership_id))
            .exec(txn)
            .await?;
        let change = Change::resource(subject::GROUP_MEMBERSHIP_CHANGED, found.group_id, "group.remove_member");
        Ok(((), change))
    })
    .await
}

/// The membership of `user_id` in a group of the organization, if any.
pub async fn member(
    db: &impl ConnectionTrait,
    groups: &Visible<Groups>,
    group_id: Uuid,
    user_id: Uuid,
) -> Result<Option<Member>> {
    if get(db, groups, group_id).await?.is_none() {
        return Ok(None);
    }
    let Some(membership) = membership::Entity::find()
        .filter(membership::Column::GroupId.eq(group_id))
        .filter(membership::Column::UserId.eq(user_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let names = user_names(db, &[membership.user_id]).await?;
    let name = names.get(&membership.user_id).cloned().unwrap_or_default();
    Ok(Some(Member { membership, name }))
}

pub fn members_query(group_id: Uuid, page: Page) -> sea_orm::Select<membership::Entity> {
    keyset(
        membership::Entity::find().filter(membership::Column::GroupId.eq(group_id)),
        membership::Column::Id,
        page,
    )
}

/// A page of a group's members (the group must be the caller's to see; an
/// unknown group has none). `search` narrows by name within the page's users.
pub async fn members(db: &impl ConnectionTrait, group_id: Uuid, search: &str, page: Page) -> Result<Vec<Member>> {
    let mut query = members_query(group_id, page);
    if !search.is_empty() {
        let named = sea_orm::sea_query::Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .and_where(name_contains(user::Column::Name, search))
            .to_owned();
        query = query.filter(membership::Column::UserId.in_subquery(named));
    }
    let rows = query.all(db).await?;
    let ids: Vec<Uuid> = rows.iter().map(|m| m.user_id).collect();
    let names = user_names(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|membership| Member {
            name: names.get(&membership.user_id).cloned().unwrap_or_default(),
            membership,
        })
        .collect())
}

/// Users' names, one query for a page of them.
async fn user_names(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<HashMap<Uuid, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, String)> = user::Entity::find()
        .select_only()
        .columns([user::Column::Id, user::Column::Name])
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The ids of the groups `user_id` is a member of, as a subquery (for a
/// filter's `GroupId IN (…)`).
pub fn of_user(user_id: Uuid) -> sea_orm::sea_query::SelectStatement {
    use super::entities::membership::Column as M;
    sea_orm::sea_query::Query::select()
        .column(M::GroupId)
        .from(super::entities::membership::Entity)
        .and_where(M::UserId.eq(user_id))
        .to_owned()
}
