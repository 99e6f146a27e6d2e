//! Proof that the server key matches the data: a known value sealed with the
//! key that first wrote to this database.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use super::entities::secret_key_check;
use super::is_unique_violation;
use crate::secrets::Secrets;

const PURPOSE: &str = "secret_key_check";
const CANARY: &[u8] = b"paddock secret key check v1";

/// Fails when the database holds data sealed with a different key; records
/// the key on first use.
pub async fn verify_or_record(db: &impl ConnectionTrait, secrets: &Secrets) -> anyhow::Result<()> {
    if let Some(row) = secret_key_check::Entity::find_by_id(1).one(db).await? {
        return check(secrets, &row.sealed);
    }
    let row = secret_key_check::ActiveModel {
        id: Set(1),
        sealed: Set(secrets.seal(PURPOSE, CANARY)?),
        created_at: Set(Utc::now()),
    };
    match secret_key_check::Entity::insert(row).exec_without_returning(db).await {
        Ok(_) => Ok(()),
        // a replica starting at the same moment recorded its key first
        Err(e) if is_unique_violation(&e) => {
            let row = secret_key_check::Entity::find_by_id(1)
                .one(db)
                .await?
                .ok_or_else(|| anyhow::anyhow!("secret key check row vanished"))?;
            check(secrets, &row.sealed)
        }
        Err(e) => Err(e.into()),
    }
}

fn check(secrets: &Secrets, sealed: &[u8]) -> anyhow::Result<()> {
    match secrets.open(PURPOSE, sealed) {
        Ok(value) if value == CANARY => Ok(()),
        _ => anyhow::bail!(
            "the secret key does not match the data already in this database \
             (start paddock with the key it was first started with: --secret-key-file)"
        ),
    }
}
