//! Administration straight on the database: what `paddock admin` does, the
//! `--admin-token` bootstrap of `serve`, and how tests and the benchmark make
//! their users — one implementation for all of them.

use uuid::Uuid;

use crate::auth::tokens::{self, TokenKind};
use crate::error::{Error, Result};
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
