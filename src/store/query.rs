//! The query shapes every resource shares: a keyset page, a partial update in
//! one statement, a delete that knows when nothing was there.

use chrono::Utc;
use sea_orm::sea_query::{Expr, IntoCondition};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select, UpdateMany, Value,
};

use super::not_found;
use crate::error::Result;
use crate::pagination::Page;

/// One page of `query` in the order of its unique key `key` (UUIDv7 ids, so
/// creation order), plus one extra row when a further page exists.
pub fn keyset<E: EntityTrait>(query: Select<E>, key: E::Column, page: Page) -> Select<E> {
    let query = match page.after {
        Some(after) => query.filter(key.gt(after)),
        None => query,
    };
    query.order_by_asc(key).limit(page.size + 1)
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
