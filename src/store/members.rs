//! The users of an organization as OrganizationService shows them: listed
//! with filters and a sort (keyset over (name, id) or id), and their role
//! set by an organization admin — never leaving the organization without one.

use sea_orm::sea_query::{Expr, Func, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::audit::{self, Change, subject};
use super::entities::{membership, organization, user};
use super::not_found;
use crate::base::capability::Managed;
use crate::base::error::{Error, Result};
use crate::base::pagination::Page;

pub use user::Model as Member;

/// The members of one organization (what a capability is for).
#[derive(Debug, Clone, Copy)]
pub struct Members {
    pub organization_id: Uuid,
}

#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    pub organization_id: Uuid,
    /// Case-insensitive part of the name.
    pub search: String,
    /// Only admins (true) or only members (false).
    pub admins: Option<bool>,
    pub user_ids: Vec<Uuid>,
    pub exclude_group_ids: Vec<Uuid>,
    pub exclude_members_in_any_group: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortBy {
    /// By when they joined (ids are UUIDv7).
    #[default]
    Joined,
    Name,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Sort {
    pub by: SortBy,
    pub descending: bool,
}

fn filtered(filter: &MemberFilter) -> sea_orm::Select<user::Entity> {
    use user::Column as C;
    let mut query = user::Entity::find().filter(C::OrganizationId.eq(filter.organization_id));
    if !filter.search.is_empty() {
        query = query.filter(super::groups::name_contains(C::Name, &filter.search));
    }
    if let Some(admins) = filter.admins {
        query = query.filter(C::OrgAdmin.eq(admins));
    }
    if !filter.user_ids.is_empty() {
        query = query.filter(C::Id.is_in(filter.user_ids.iter().copied()));
    }
    if filter.exclude_members_in_any_group || !filter.exclude_group_ids.is_empty() {
        let mut in_groups = Query::select()
            .column(membership::Column::UserId)
            .from(membership::Entity)
            .to_owned();
        if !filter.exclude_members_in_any_group {
            in_groups.and_where(Expr::col(membership::Column::GroupId).is_in(filter.exclude_group_ids.iter().copied()));
        }
        query = query.filter(C::Id.not_in_subquery(in_groups));
    }
    query
}

/// Names sort case-insensitively (an index holds `lower(name)`).
fn lower_name() -> SimpleExpr {
    Func::lower(Expr::col(user::Column::Name)).into()
}

/// The query of one page, after the member `after` (as read) in the sort.
pub fn list_query(
    filter: &MemberFilter,
    sort: Sort,
    after: Option<&Member>,
    size: u64,
) -> sea_orm::Select<user::Entity> {
    use user::Column as C;
    let mut query = filtered(filter);
    let order = if sort.descending {
        sea_orm::Order::Desc
    } else {
        sea_orm::Order::Asc
    };
    // Row values led by the organization, which only the organization's
    // indexes serve (see `query::keyset_scoped`).
    if let Some(after) = after {
        // the leading key's own bound goes alongside, which SQLite needs for
        // a range (see `query::beyond_in_scope`)
        let (leading, after_leading): (SimpleExpr, SimpleExpr) = match sort.by {
            SortBy::Name => (lower_name(), Func::lower(Expr::val(after.name.clone())).into()),
            SortBy::Joined => (Expr::col(C::Id).into(), Expr::val(after.id).into()),
        };
        let mut columns: Vec<SimpleExpr> = vec![Expr::col(C::OrganizationId).into(), leading.clone()];
        let mut values: Vec<SimpleExpr> = vec![Expr::val(filter.organization_id).into(), after_leading.clone()];
        if sort.by == SortBy::Name {
            columns.push(Expr::col(C::Id).into());
            values.push(Expr::val(after.id).into());
        }
        let (columns, values) = (Expr::tuple(columns), Expr::tuple(values));
        query = query.filter(if sort.descending {
            columns.lt(values).and(Expr::expr(leading).lte(after_leading))
        } else {
            columns.gt(values).and(Expr::expr(leading).gte(after_leading))
        });
    } else if sort.by == SortBy::Joined {
        // a first page too is a range of the organization's index
        query = query.filter(super::query::beyond_in_scope(
            (C::OrganizationId, filter.organization_id),
            (C::Id, None),
            sort.descending,
        ));
    }
    query = query.order_by(C::OrganizationId, order.clone());
    if sort.by == SortBy::Name {
        query = query.order_by(lower_name(), order.clone());
    }
    query.order_by(C::Id, order).limit(size + 1)
}

/// One page (plus one row when more follow). The page's key is the last
/// member's id; a member deleted since is no place to go on from: NOT_FOUND.
pub async fn list(db: &impl ConnectionTrait, filter: &MemberFilter, sort: Sort, page: Page) -> Result<Vec<Member>> {
    let after = match page.after {
        Some(id) => Some(
            user::Entity::find_by_id(id)
                .filter(user::Column::OrganizationId.eq(filter.organization_id))
                .one(db)
                .await?
                .ok_or_else(|| Error::NotFound("the page token's member is gone: list from the start".into()))?,
        ),
        None => None,
    };
    Ok(list_query(filter, sort, after.as_ref(), page.size).all(db).await?)
}

/// How many members match the filter.
pub async fn count(db: &impl ConnectionTrait, filter: &MemberFilter) -> Result<u64> {
    Ok(filtered(filter).count(db).await?)
}

/// Makes a member of the organization an admin or a plain member.
/// NOT_FOUND for a user of another organization; FAILED_PRECONDITION when
/// that would leave the organization without an admin.
pub async fn set_admin(
    db: &impl TransactionTrait,
    members: &Managed<Members>,
    user_id: Uuid,
    admin: bool,
) -> Result<()> {
    let organization_id = members.get().organization_id;
    audit::audited(db, members.actor(), async |txn| {
        // Two admins demoting each other at once must not both succeed: a
        // write to the organization's row serializes role changes in it
        // (a row lock on PostgreSQL; SQLite has one writer anyway).
        organization::Entity::update_many()
            .col_expr(organization::Column::Name, Expr::col(organization::Column::Name).into())
            .filter(organization::Column::Id.eq(organization_id))
            .exec(txn)
            .await?;
        let member = user::Entity::find_by_id(user_id)
            .filter(user::Column::OrganizationId.eq(organization_id))
            .one(txn)
            .await?
            .ok_or_else(|| not_found("member"))?;
        if member.org_admin && !admin {
            let admins = user::Entity::find()
                .filter(user::Column::OrganizationId.eq(organization_id))
                .filter(user::Column::OrgAdmin.eq(true))
                .count(txn)
                .await?;
            if admins <= 1 {
                return Err(Error::FailedPrecondition(
                    "the organization's last admin cannot be made a member: make another member admin first".into(),
                ));
            }
        }
        user::Entity::update_many()
            .col_expr(user::Column::OrgAdmin, Expr::value(admin))
            .filter(user::Column::Id.eq(user_id))
            .exec(txn)
            .await?;
        Ok(((), Change::resource(subject::USER, user_id, "user.set_role")))
    })
    .await
}
