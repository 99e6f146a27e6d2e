//! Who may see and who may manage a runner. Each check hands back a
//! capability — a value that only exists when the check passed — so a handler
//! cannot forget to make it.

use uuid::Uuid;

use super::Principal;
use crate::error::{Error, Result};
use crate::store::{self, Db, runners::Runner};

/// gitpod.v1.RunnerRole.RUNNER_ROLE_ADMIN
const RUNNER_ROLE_ADMIN: i32 = 1;

/// A runner the caller may read.
#[derive(Debug)]
pub struct VisibleRunner(Runner);

/// A runner the caller may change, delete, mint tokens for and set policies on.
#[derive(Debug)]
pub struct ManagedRunner(Runner);

impl VisibleRunner {
    pub fn runner(&self) -> &Runner {
        &self.0
    }
    pub fn into_runner(self) -> Runner {
        self.0
    }
}

impl ManagedRunner {
    pub fn runner(&self) -> &Runner {
        &self.0
    }
}

/// Members of the runner's organization see it; a runner sees only itself.
/// Anyone else learns nothing, not even that it exists: NOT_FOUND.
pub async fn see_runner(db: &Db, principal: &Principal, runner_id: Uuid) -> Result<VisibleRunner> {
    let runner = store::runners::get(db, runner_id)
        .await?
        .filter(|r| r.organization_id == principal.organization_id())
        .filter(|r| match principal {
            Principal::User { .. } => true,
            Principal::Runner { id, .. } => *id == r.id,
        })
        .ok_or_else(|| Error::NotFound("runner not found".into()))?;
    Ok(VisibleRunner(runner))
}

/// Organization admins, the runner's creator, and members of a group holding
/// RUNNER_ROLE_ADMIN on the runner manage it; other members may only look.
pub async fn manage_runner(db: &Db, principal: &Principal, runner_id: Uuid) -> Result<ManagedRunner> {
    let visible = see_runner(db, principal, runner_id).await?;
    let allowed = match principal {
        Principal::User { org_admin: true, .. } => true,
        Principal::User { id, .. } if *id == visible.0.creator_id => true,
        Principal::User { id, .. } => store::policies::user_has_role(db, runner_id, *id, RUNNER_ROLE_ADMIN).await?,
        Principal::Runner { .. } => false,
    };
    if !allowed {
        return Err(Error::PermissionDenied("you may not manage this runner".into()));
    }
    Ok(ManagedRunner(visible.0))
}

/// Only users create runners (in their own organization).
pub fn create_runner(principal: &Principal) -> Result<()> {
    match principal {
        Principal::User { .. } => Ok(()),
        Principal::Runner { .. } => Err(Error::PermissionDenied("runners cannot create runners".into())),
    }
}
