//! The keys paddock signs JWTs with (see `crate::auth::signing`). Not of any one
//! organization: they are the server's, like its secret key.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use uuid::Uuid;

use super::entities::signing_key;
use crate::base::error::Result;

pub use signing_key::Model as SigningKey;

pub struct NewKey {
    pub sealed_private_key: Vec<u8>,
    pub public_jwk: String,
}

/// The keys still published at `now`: the current ones and those retired
/// after `retired_after`. Newest first.
pub async fn published(db: &impl ConnectionTrait, retired_after: DateTime<Utc>) -> Result<Vec<SigningKey>> {
    Ok(signing_key::Entity::find()
        .filter(
            Condition::any()
                .add(signing_key::Column::RetiredAt.is_null())
                .add(signing_key::Column::RetiredAt.gt(retired_after)),
        )
        .order_by_desc(signing_key::Column::Id)
        .all(db)
        .await?)
}

/// Adds a key when there is no current one (the first start; replicas
/// starting together may each add one: the newest signs, all are published).
pub async fn ensure(
    db: &(impl ConnectionTrait + TransactionTrait),
    new: impl FnOnce() -> anyhow::Result<NewKey>,
) -> Result<()> {
    let current = signing_key::Entity::find()
        .filter(signing_key::Column::RetiredAt.is_null())
        .count(db)
        .await?;
    if current == 0 {
        insert(db, new()?).await?;
    }
    Ok(())
}

async fn insert(db: &impl ConnectionTrait, new: NewKey) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let row = signing_key::ActiveModel {
        id: Set(id),
        sealed_private_key: Set(new.sealed_private_key),
        public_jwk: Set(new.public_jwk),
        created_at: Set(Utc::now()),
        retired_at: Set(None),
    };
    signing_key::Entity::insert(row).exec_without_returning(db).await?;
    Ok(id)
}

/// Retires the current keys and adds `new`, which signs from now on; its id.
pub async fn rotate(db: &impl TransactionTrait, new: NewKey) -> Result<Uuid> {
    let txn = db.begin().await?;
    signing_key::Entity::update_many()
        .col_expr(signing_key::Column::RetiredAt, Expr::value(Utc::now()))
        .filter(signing_key::Column::RetiredAt.is_null())
        .exec(&txn)
        .await?;
    let id = insert(&txn, new).await?;
    txn.commit().await?;
    Ok(id)
}

/// Forgets keys retired before `retired_before` (no live token names them).
pub async fn prune(db: &impl ConnectionTrait, retired_before: DateTime<Utc>) -> Result<u64> {
    Ok(signing_key::Entity::delete_many()
        .filter(signing_key::Column::RetiredAt.lt(retired_before))
        .exec(db)
        .await?
        .rows_affected)
}
