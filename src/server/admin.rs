//! Administration straight on the database: what `paddock admin` does, the
//! `--admin-token` bootstrap of `serve`, and how tests and the benchmark make
//! their users — one implementation for all of them.

use uuid::Uuid;

use crate::auth::tokens::{self, TokenKind};
use crate::base::error::{Error, Result};
use crate::store::{self, Db};

/// A user as created: their first personal access token is shown only here.
#[derive(Debug, Clone)]
pub struct CreatedUser {
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub token: String,
}

/// Creates a user in the organization of that name (created when missing)
/// with a new personal access token.
pub async fn create_user(db: &Db, organization: &str, name: &str, org_admin: bool) -> Result<CreatedUser> {
    let org = store::organizations::ensure(db, organization).await?;
    let token = tokens::generate(TokenKind::PersonalAccess)?;
    let new = store::organizations::NewUser {
        organization_id: org.id,
        name,
        org_admin,
        token_hash: token.hash,
    };
    let user = store::organizations::create_user(db, new).await?;
    Ok(CreatedUser {
        user_id: user.id,
        organization_id: org.id,
        token: token.plaintext,
    })
}

/// Creates a group in the organization of that name (created when missing).
pub async fn create_group(db: &Db, organization: &str, name: &str) -> Result<Uuid> {
    let org = store::organizations::ensure(db, organization).await?;
    let groups = crate::auth::access::operator_groups(org.id);
    Ok(store::groups::create(db, &groups, name, "").await?.id)
}

/// Adds a user to a group of their organization; adding twice is harmless.
/// The same store code as GroupService's CreateMembership, as the operator.
pub async fn add_member(db: &Db, group: Uuid, user: Uuid) -> Result<()> {
    let found = store::organizations::find_group(db, group).await?;
    let group = found.ok_or_else(|| Error::NotFound("group not found".into()))?;
    let found = store::organizations::find_user(db, user).await?;
    let user = found.ok_or_else(|| Error::NotFound("user not found".into()))?;
    if group.organization_id != user.organization_id {
        return Err(Error::FailedPrecondition(
            "the user and the group belong to different organizations".into(),
        ));
    }
    let groups = crate::auth::access::operator_groups(group.organization_id);
    match store::groups::add_member(db, &groups, group.id, user.id).await {
        // a member already: nothing changes, and nothing is recorded
        Ok(_) | Err(Error::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes sure an admin of the default organization holds `token` (the
/// `--admin-token` bootstrap); safe on every start of every replica.
pub async fn ensure_admin_token(db: &Db, token: &str) -> Result<()> {
    store::organizations::ensure_admin(db, crate::DEFAULT_ORGANIZATION, tokens::hash(token)).await
}

/// A runner token as the admin CLI prints it (never its value).
fn runner_token_json(t: store::runner_tokens::RunnerToken) -> serde_json::Value {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339());
    serde_json::json!({
        "id": t.id.to_string(),
        "kind": t.kind,
        "active": store::runner_tokens::is_active(&t, chrono::Utc::now()),
        "created_at": t.created_at.to_rfc3339(),
        "last_used_at": time(t.last_used_at),
        "expires_at": time(t.expires_at),
        "exchanged_at": time(t.used_at),
        "revoked_at": time(t.revoked_at),
    })
}

/// Every token of a runner (only the working ones unless `all`), oldest
/// first — the same store code as RunnerTokenService.ListRunnerTokens.
pub async fn runner_tokens(db: &Db, runner_id: Uuid, all: bool) -> Result<Vec<serde_json::Value>> {
    let runner = crate::auth::access::operator_runner(db, runner_id).await?;
    let mut found = Vec::new();
    let mut page = crate::base::pagination::Page { after: None, size: 100 };
    loop {
        let mut rows = store::runner_tokens::list(db, &runner, all, page).await?;
        let more = rows.len() > 100;
        rows.truncate(100);
        page.after = rows.last().map(|t| t.id);
        found.extend(rows.into_iter().map(runner_token_json));
        if !more {
            return Ok(found);
        }
    }
}

/// Revokes one runner token.
pub async fn revoke_runner_token(db: &Db, token_id: Uuid) -> Result<serde_json::Value> {
    let token = store::runner_tokens::get(db, token_id)
        .await?
        .ok_or_else(|| Error::NotFound("runner token not found".into()))?;
    let runner_id = token
        .runner_id
        .ok_or_else(|| Error::NotFound("runner token not found".into()))?;
    let runner = crate::auth::access::operator_runner(db, runner_id).await?;
    let revoked = store::runner_tokens::revoke(db, &runner, token_id).await?;
    Ok(runner_token_json(revoked))
}

/// Issues a runner a new access token; its current ones work on for `grace`.
/// The new token's record and its value (shown only here).
pub async fn rotate_runner_token(
    db: &Db,
    runner_id: Uuid,
    grace: std::time::Duration,
) -> Result<(serde_json::Value, String)> {
    // (a grace past chrono's range is past the 30 days the store allows)
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    let runner = crate::auth::access::operator_runner(db, runner_id).await?;
    let token = tokens::generate(TokenKind::RunnerAccess)?;
    let rotated = store::runner_tokens::rotate(db, &runner, token.hash, grace).await?;
    Ok((runner_token_json(rotated.token), token.plaintext))
}

/// Makes a new JWT signing key (sealed with `key`, which must be the
/// server's) and retires the current one; the new key's id.
/// Seals every stored secret under `new` instead of `old`: how many.
pub async fn rotate_secret_key(
    db: &Db,
    old: &crate::base::secrets::SecretKey,
    new: &crate::base::secrets::SecretKey,
) -> anyhow::Result<usize> {
    use crate::base::secrets::Secrets;
    store::secret_key::rotate(db, &Secrets::new(old), &Secrets::new(new)).await
}

pub async fn rotate_signing_key(db: &Db, key: &crate::base::secrets::SecretKey) -> anyhow::Result<Uuid> {
    let secrets = crate::base::secrets::Secrets::new(key);
    store::secret_key::verify_or_record(db, &secrets).await?;
    Ok(store::signing_keys::rotate(db, crate::auth::signing::new_key(&secrets)?).await?)
}
