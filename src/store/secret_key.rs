//! Proof that the server key matches the data: a known value sealed with the
//! key that first wrote to this database.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, TransactionTrait};

use super::Db;
use super::entities::secret_key_check;
use super::is_unique_violation;
use crate::base::secrets::{Secrets, purpose};

const PURPOSE: &str = crate::base::secrets::purpose::KEY_CHECK;
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

/// Every sealed column: table, column, and the purpose its values are
/// sealed for (the same constants the writers use).
const SEALED: &[(&str, &str, &str)] = &[
    ("host_authentication_tokens", "token_encrypted", purpose::HOST_TOKEN),
    (
        "host_authentication_tokens",
        "refresh_token_encrypted",
        purpose::HOST_TOKEN_REFRESH,
    ),
    (
        "scm_integrations",
        "oauth_client_secret_encrypted",
        purpose::SCM_CLIENT_SECRET,
    ),
    ("llm_integrations", "api_key_encrypted", purpose::LLM_API_KEY),
    ("runners", "honeycomb_api_key_encrypted", purpose::RUNNER_HONEYCOMB_KEY),
    (
        "runners",
        "metrics_password_encrypted",
        purpose::RUNNER_METRICS_PASSWORD,
    ),
    ("signing_keys", "sealed_private_key", purpose::SIGNING_KEY),
    ("secret_key_check", "sealed", PURPOSE),
];

/// Seals every stored secret again under `new`, in one transaction: should
/// anything fail, everything stays under `old`. Servers still running with
/// the old key cannot open what this seals: stop them first.
pub async fn rotate(db: &Db, old: &Secrets, new: &Secrets) -> anyhow::Result<usize> {
    use sea_orm::sea_query::{Alias, Expr, Query};
    let txn = db.begin().await?;
    let row = secret_key_check::Entity::find_by_id(1)
        .one(&txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("this database holds no secrets yet: nothing to rotate"))?;
    check(old, &row.sealed)?;
    let backend = txn.get_database_backend();
    let mut resealed = 0;
    for (table, column, purpose) in SEALED {
        let select = Query::select()
            .column(Alias::new(*column))
            .from(Alias::new(*table))
            .and_where(Expr::col(Alias::new(*column)).is_not_null())
            .to_owned();
        for row in txn.query_all(backend.build(&select)).await? {
            let sealed: Vec<u8> = row.try_get_by_index(0)?;
            let plaintext = old
                .open(purpose, &sealed)
                .map_err(|e| anyhow::anyhow!("{table}.{column}: a value the current key cannot open ({e})"))?;
            // a sealed value is unique (its nonce is random): it names its row
            let update = Query::update()
                .table(Alias::new(*table))
                .value(Alias::new(*column), new.seal(purpose, &plaintext)?)
                .and_where(Expr::col(Alias::new(*column)).eq(sealed))
                .to_owned();
            txn.execute(backend.build(&update)).await?;
            resealed += 1;
        }
    }
    txn.commit().await?;
    Ok(resealed)
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
