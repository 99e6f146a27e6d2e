//! Configuration schemas runners published for themselves.

use sea_orm::{ConnectionTrait, EntityTrait};
use uuid::Uuid;

use super::entities::runner_configuration_schema;
use crate::base::error::Result;

/// The encoded schema the runner published, if it published one.
pub async fn published(db: &impl ConnectionTrait, runner_id: Uuid) -> Result<Option<Vec<u8>>> {
    Ok(runner_configuration_schema::Entity::find_by_id(runner_id)
        .one(db)
        .await?
        .map(|row| row.schema))
}
