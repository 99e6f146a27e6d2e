//! The query shapes every resource shares: a keyset page, a partial update in
//! one statement, a delete that knows when nothing was there.

use chrono::Utc;
use sea_orm::sea_query::{Expr, IntoCondition, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select, UpdateMany, Value,
};
use uuid::Uuid;

use super::not_found;
use crate::base::error::Result;
use crate::base::pagination::Page;

/// One page of `query` in the order of its unique key `key` (UUIDv7 ids, so
/// creation order), plus one extra row when a further page exists.
pub fn keyset<E: EntityTrait>(query: Select<E>, key: E::Column, page: Page) -> Select<E> {
    let query = match page.after {
        Some(after) => query.filter(key.gt(after)),
        None => query,
    };
    query.order_by_asc(key).limit(page.size + 1)
}

/// `keyset` within one value of `scope` (which the query filters by
/// equality to `scope_value`): the page starts after the row value
/// `(scope, key) > (scope_value, after)` (a first page after the nil id),
/// which the composite index
/// `(scope, key)` serves and the primary key cannot. With `key > after`
/// alone, PostgreSQL's planner may walk the primary key from `after` and
/// filter by `scope`: its statistics of UUIDv7 keys do not know of the rows
/// added since they were gathered, so it does not see that a last page would
/// read every newer row of other organizations.
pub fn keyset_scoped<E: EntityTrait>(
    query: Select<E>,
    scope: E::Column,
    scope_value: Uuid,
    key: E::Column,
    page: Page,
) -> Select<E> {
    query
        .filter(beyond_in_scope((scope, scope_value), (key, page.after), false))
        .order_by_asc(scope)
        .order_by_asc(key)
        .limit(page.size + 1)
}

/// Rows past `(scope, key) = (scope_value, after)` in ascending order (or
/// before it, in descending): a row value, for the reason `keyset_scoped`
/// gives. A first page (no `after`) starts past the nil id (before the
/// largest, descending), so that it too is a range of the scope's index: the
/// planner drops an ORDER BY on a column fixed by equality, and would
/// otherwise walk the primary key — from its newest end, for a newest-first
/// page, through every newer row of other scopes.
///
/// The key's own bound (`key > after`) goes alongside: SQLite uses a row
/// value as an index range only without an equality on its first column, so
/// with `scope = value` it would read the scope from its start.
pub fn beyond_in_scope<C: ColumnTrait>(scope: (C, Uuid), key: (C, Option<Uuid>), descending: bool) -> SimpleExpr {
    let start = if descending { Uuid::max() } else { Uuid::nil() };
    let after = key.1.unwrap_or(start);
    let columns = Expr::tuple([Expr::col(scope.0).into(), Expr::col(key.0).into()]);
    let values = Expr::tuple([Expr::val(scope.1).into(), Expr::val(after).into()]);
    if descending {
        columns.lt(values).and(key.0.lt(after))
    } else {
        columns.gt(values).and(key.0.gt(after))
    }
}

/// Which rows of runner-owned things (integrations, classes) a list may
/// show: one organization's, optionally only some runners' — and for a
/// runner principal only its own.
#[derive(Debug, Clone, Default)]
pub struct RunnerScope {
    pub organization_id: Uuid,
    /// Only this runner's (a runner principal sees only its own).
    pub only_runner: Option<Uuid>,
    /// Only these runners' (the request's filter; empty: all).
    pub runner_ids: Vec<Uuid>,
}

impl RunnerScope {
    /// `query` narrowed to the scope, given the entity's organization and runner columns.
    pub fn apply<E: EntityTrait>(&self, query: Select<E>, organization: E::Column, runner: E::Column) -> Select<E> {
        let mut query = query.filter(organization.eq(self.organization_id));
        if let Some(id) = self.only_runner {
            query = query.filter(runner.eq(id));
        }
        if !self.runner_ids.is_empty() {
            query = query.filter(runner.is_in(self.runner_ids.iter().copied()));
        }
        query
    }
}

/// A partial update: the columns given a value change, the rest stay, and
/// `updated_at` moves — one UPDATE, no read first. No row matched is NOT_FOUND
/// (the row is gone, or is not where the caller's capability reaches).
pub struct Patch<E: EntityTrait> {
    update: UpdateMany<E>,
}

impl<E: EntityTrait> Patch<E> {
    pub fn new(updated_at: E::Column) -> Self {
        Patch {
            update: E::update_many().col_expr(updated_at, Expr::value(Utc::now())),
        }
    }

    /// Sets `column` when `value` is Some; `Some(None)` of an optional column clears it.
    pub fn set<V: Into<Value>>(mut self, column: E::Column, value: Option<V>) -> Self {
        if let Some(value) = value {
            self.update = self.update.col_expr(column, Expr::value(value));
        }
        self
    }

    /// Applies the update to the rows matching `filter`.
    pub async fn apply(self, db: &impl ConnectionTrait, filter: impl IntoCondition, what: &str) -> Result<()> {
        let result = self.update.filter(filter.into_condition()).exec(db).await?;
        if result.rows_affected == 0 {
            return Err(not_found(what));
        }
        Ok(())
    }
}

/// Deletes the rows matching `filter`; none matched is NOT_FOUND.
pub async fn delete<E: EntityTrait>(db: &impl ConnectionTrait, filter: impl IntoCondition, what: &str) -> Result<()> {
    let result = E::delete_many().filter(filter.into_condition()).exec(db).await?;
    if result.rows_affected == 0 {
        return Err(not_found(what));
    }
    Ok(())
}

/// SQL built once per backend from a SeaORM query and then run with each
/// call's values: for the hottest statement (a bearer token's lookup, every
/// call of every runner), whose building — every column quoted and aliased —
/// cost more than running it. The SQL stays the one SeaORM generates.
pub struct Prepared {
    sqlite: std::sync::OnceLock<String>,
    postgres: std::sync::OnceLock<String>,
}

impl Prepared {
    pub const fn new() -> Prepared {
        Prepared {
            sqlite: std::sync::OnceLock::new(),
            postgres: std::sync::OnceLock::new(),
        }
    }

    /// `build` makes the query with placeholder values (built once per
    /// backend); `values` are this call's, in the same order.
    pub fn statement(
        &self,
        backend: sea_orm::DbBackend,
        build: impl FnOnce() -> sea_orm::Statement,
        values: Vec<Value>,
    ) -> sea_orm::Statement {
        let cell = match backend {
            sea_orm::DbBackend::Sqlite => &self.sqlite,
            _ => &self.postgres,
        };
        let sql = cell.get_or_init(|| build().sql);
        sea_orm::Statement::from_sql_and_values(backend, sql.as_str(), values)
    }
}

impl Default for Prepared {
    fn default() -> Self {
        Prepared::new()
    }
}
