//! Roles a group holds in its whole organization (role assignments of
//! resource type ORGANIZATION): ORG_RUNNERS_ADMIN and ORG_AUDIT_LOG_READER
//! are the ones paddock has a use for. Only organization admins assign them
//! (`Managed<Groups>`).

use chrono::Utc;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;

use super::audit::{self, Change, subject};
use super::entities::{group, membership, org_role_assignment, runner_policy};
use super::groups::Groups;
use super::query::keyset_scoped;
use super::{is_unique_violation, not_found};
use crate::base::capability::Managed;
use crate::base::error::{Error, Result};
use crate::base::pagination::Page;

pub use org_role_assignment::Model as OrgRole;

/// gitpod.v1.ResourceRole values paddock enforces.
pub const ORG_RUNNERS_ADMIN: i32 = 50;
pub const ORG_AUDIT_LOG_READER: i32 = 64;

/// Gives a group of the organization `role`. NOT_FOUND for a group of
/// another organization; ALREADY_EXISTS when it holds the role.
pub async fn create(
    db: &impl sea_orm::TransactionTrait,
    groups: &Managed<Groups>,
    group_id: Uuid,
    role: i32,
) -> Result<OrgRole> {
    let organization_id = groups.get().organization_id;
    audit::audited(db, groups.actor(), async |txn| {
        group::Entity::find_by_id(group_id)
            .filter(group::Column::OrganizationId.eq(organization_id))
            .one(txn)
            .await?
            .ok_or_else(|| not_found("group"))?;
        let row = org_role_assignment::ActiveModel {
            id: Set(Uuid::now_v7()),
            organization_id: Set(organization_id),
            group_id: Set(group_id),
            role: Set(role),
            created_at: Set(Utc::now()),
        };
        let assignment = match org_role_assignment::Entity::insert(row).exec_with_returning(txn).await {
            Ok(a) => a,
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::AlreadyExists("the group already holds this role".into()));
            }
            Err(e) => return Err(e.into()),
        };
        let change = Change::resource(subject::ROLE_ASSIGNMENT, assignment.id, "org_role.create");
        Ok((assignment, change))
    })
    .await
}

/// An organization role assignment by id, if it is of the organization.
pub async fn by_id(db: &impl ConnectionTrait, organization_id: Uuid, id: Uuid) -> Result<Option<OrgRole>> {
    Ok(org_role_assignment::Entity::find_by_id(id)
        .filter(org_role_assignment::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?)
}

/// NOT_FOUND when the organization has no such assignment.
pub async fn delete(db: &impl sea_orm::TransactionTrait, groups: &Managed<Groups>, id: Uuid) -> Result<()> {
    use org_role_assignment::Column as C;
    let organization_id = groups.get().organization_id;
    audit::audited(db, groups.actor(), async |txn| {
        let filter = C::Id.eq(id).and(C::OrganizationId.eq(organization_id));
        super::query::delete::<org_role_assignment::Entity>(txn, filter, "role assignment").await?;
        Ok(((), Change::resource(subject::ROLE_ASSIGNMENT, id, "org_role.delete")))
    })
    .await
}

/// ListRoleAssignments' filter over organization roles.
#[derive(Debug, Clone, Default)]
pub struct OrgRoleFilter {
    pub organization_id: Uuid,
    pub group_id: Option<Uuid>,
    /// Only the groups this user is a member of.
    pub user_id: Option<Uuid>,
    /// gitpod.v1.ResourceRole values; empty: any.
    pub roles: Vec<i32>,
}

pub fn list_query(filter: &OrgRoleFilter, page: Page) -> sea_orm::Select<org_role_assignment::Entity> {
    use org_role_assignment::Column as C;
    let mut query = org_role_assignment::Entity::find().filter(C::OrganizationId.eq(filter.organization_id));
    if let Some(group_id) = filter.group_id {
        query = query.filter(C::GroupId.eq(group_id));
    }
    if let Some(user_id) = filter.user_id {
        query = query.filter(C::GroupId.in_subquery(super::groups::of_user(user_id)));
    }
    if !filter.roles.is_empty() {
        query = query.filter(C::Role.is_in(filter.roles.clone()));
    }
    keyset_scoped(query, C::OrganizationId, filter.organization_id, C::Id, page)
}

/// One page (plus one row when more follow), by id.
pub async fn list(db: &impl ConnectionTrait, filter: &OrgRoleFilter, page: Page) -> Result<Vec<OrgRole>> {
    Ok(list_query(filter, page).all(db).await?)
}

fn groups_holding(role: i32) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(org_role_assignment::Column::GroupId)
        .from(org_role_assignment::Entity)
        .and_where(Expr::col(org_role_assignment::Column::Role).eq(role))
        .to_owned()
}

/// Whether the user is in a group holding the organization role (one query;
/// groups and users never cross organizations).
pub async fn user_holds(db: &impl ConnectionTrait, user_id: Uuid, role: i32) -> Result<bool> {
    let count = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .filter(membership::Column::GroupId.in_subquery(groups_holding(role)))
        .count(db)
        .await?;
    Ok(count > 0)
}

/// Whether the user is in a group holding `runner_role` on the runner or
/// ORG_RUNNERS_ADMIN in the organization (one query).
pub async fn user_manages_runner(
    db: &impl ConnectionTrait,
    runner_id: Uuid,
    user_id: Uuid,
    runner_role: i32,
) -> Result<bool> {
    let groups_with_policy = Query::select()
        .column(runner_policy::Column::GroupId)
        .from(runner_policy::Entity)
        .and_where(Expr::col(runner_policy::Column::RunnerId).eq(runner_id))
        .and_where(Expr::col(runner_policy::Column::Role).eq(runner_role))
        .to_owned();
    let count = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .filter(
            membership::Column::GroupId
                .in_subquery(groups_with_policy)
                .or(membership::Column::GroupId.in_subquery(groups_holding(ORG_RUNNERS_ADMIN))),
        )
        .count(db)
        .await?;
    Ok(count > 0)
}
