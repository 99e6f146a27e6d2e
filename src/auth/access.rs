//! Who may see and who may change what. Each check hands back a capability
//! (`crate::base::capability`) — a value that only exists when the check passed —
//! and the store's writes take it, so a handler cannot forget the check.
//! This is the only module that grants capabilities.

use uuid::Uuid;

use super::Principal;
use crate::base::capability::{Actor, Managed, Visible};
use crate::base::error::{Error, Result};
use crate::base::principal::PRINCIPAL_USER;
use crate::store::groups::Groups;
use crate::store::host_tokens::{self, Holder, HostToken};
use crate::store::runners::{Itself, Owner, Runner};
use crate::store::{self, Db, RunnerOwned, entities::group};

/// gitpod.v1.RunnerRole.RUNNER_ROLE_ADMIN
const RUNNER_ROLE_ADMIN: i32 = 1;

/// The audit log's actor for what `principal` is allowed to do.
fn actor(principal: &Principal) -> Actor {
    Actor {
        id: principal.id(),
        principal: principal.kind(),
        organization_id: principal.organization_id(),
    }
}

fn is_org_admin(principal: &Principal) -> bool {
    matches!(principal, Principal::User { org_admin: true, .. })
}

/// Organization admins manage their organization's groups.
pub fn manage_groups(principal: &Principal) -> Result<Managed<Groups>> {
    if !is_org_admin(principal) {
        return Err(Error::PermissionDenied("only organization admins manage groups".into()));
    }
    Ok(Managed::grant(
        Groups {
            organization_id: principal.organization_id(),
        },
        actor(principal),
    ))
}

/// Organization admins assign roles in their own organization (another
/// organization's id is NOT_FOUND).
pub fn manage_org_roles(principal: &Principal, organization_id: Uuid) -> Result<Managed<Groups>> {
    if organization_id != principal.organization_id() {
        return Err(Error::NotFound("organization not found".into()));
    }
    manage_groups(principal)
}

/// Users see their organization's groups; runners do not.
pub fn see_groups(principal: &Principal) -> Result<Visible<Groups>> {
    match principal {
        Principal::User { organization_id, .. } => Ok(Visible::grant(Groups {
            organization_id: *organization_id,
        })),
        Principal::Runner { .. } => Err(Error::PermissionDenied("runners do not read groups".into())),
    }
}

/// The admin CLI (`paddock admin`), run by whoever may open the database,
/// manages any organization's groups; its audit entries name nobody.
pub fn operator_groups(organization_id: Uuid) -> Managed<Groups> {
    Managed::grant(Groups { organization_id }, Actor::operator(organization_id))
}

/// The audit log of the caller's organization is for its admins and for
/// members of a group holding ORG_AUDIT_LOG_READER; the organization's id
/// when the caller is one of them.
pub async fn read_audit_log(db: &Db, principal: &Principal) -> Result<Uuid> {
    let allowed = match principal {
        Principal::User { org_admin: true, .. } => true,
        Principal::User { id, .. } => {
            store::org_roles::user_holds(db, *id, store::org_roles::ORG_AUDIT_LOG_READER).await?
        }
        Principal::Runner { .. } => false,
    };
    if !allowed {
        return Err(Error::PermissionDenied(
            "only organization admins and audit log readers read the audit log".into(),
        ));
    }
    Ok(principal.organization_id())
}

/// The fleet as a whole (its counts) is for the organization's users, not
/// its runners: the organization's id.
pub fn see_fleet(principal: &Principal) -> Result<Uuid> {
    match principal {
        Principal::User { organization_id, .. } => Ok(*organization_id),
        Principal::Runner { .. } => Err(Error::PermissionDenied("runners do not read the fleet".into())),
    }
}

/// Members of the runner's organization see it; a runner sees only itself.
/// Anyone else learns nothing, not even that it exists: NOT_FOUND.
pub async fn see_runner(db: &Db, principal: &Principal, runner_id: Uuid) -> Result<Visible<Runner>> {
    let runner = store::runners::get(db, runner_id)
        .await?
        .filter(|r| r.organization_id == principal.organization_id())
        .filter(|r| match principal {
            Principal::User { .. } => true,
            Principal::Runner { id, .. } => *id == r.id,
        })
        .ok_or_else(|| Error::NotFound("runner not found".into()))?;
    Ok(Visible::grant(runner))
}

/// Organization admins, the runner's creator, and members of a group holding
/// RUNNER_ROLE_ADMIN on the runner or ORG_RUNNERS_ADMIN in the organization
/// manage it; other members may only look.
pub async fn manage_runner(db: &Db, principal: &Principal, runner_id: Uuid) -> Result<Managed<Runner>> {
    let runner = see_runner(db, principal, runner_id).await?.into_inner();
    let allowed = match principal {
        Principal::User { org_admin: true, .. } => true,
        Principal::User { id, .. } if *id == runner.creator_id => true,
        Principal::User { id, .. } => {
            store::org_roles::user_manages_runner(db, runner_id, *id, RUNNER_ROLE_ADMIN).await?
        }
        Principal::Runner { .. } => false,
    };
    if !allowed {
        return Err(Error::PermissionDenied("you may not manage this runner".into()));
    }
    Ok(Managed::grant(runner, actor(principal)))
}

/// A runner acting on itself: only with its own access token. Other
/// principals may not (PERMISSION_DENIED); a runner naming another runner
/// learns nothing of it (NOT_FOUND).
/// `known`: the runner as read while authenticating this call, used instead
/// of reading it again.
pub async fn runner_itself(
    db: &Db,
    principal: &Principal,
    runner_id: Uuid,
    known: Option<&store::runners::Runner>,
) -> Result<Managed<Itself>> {
    let Principal::Runner { id, .. } = principal else {
        return Err(Error::PermissionDenied(
            "only a runner's own access token may call the runner interaction service".into(),
        ));
    };
    if *id != runner_id {
        return Err(Error::NotFound("runner not found".into()));
    }
    if let Some(runner) = known.filter(|r| r.id == runner_id) {
        return Ok(Managed::grant(Itself(runner.clone()), actor(principal)));
    }
    let runner = see_runner(db, principal, runner_id).await?.into_inner();
    Ok(Managed::grant(Itself(runner), actor(principal)))
}

/// Only users create runners, in their own organization, as their creator.
pub fn create_runner(principal: &Principal) -> Result<Managed<Owner>> {
    match principal {
        Principal::User {
            id, organization_id, ..
        } => Ok(Managed::grant(
            Owner {
                organization_id: *organization_id,
                creator_id: *id,
                creator_principal: principal.kind(),
            },
            actor(principal),
        )),
        Principal::Runner { .. } => Err(Error::PermissionDenied("runners cannot create runners".into())),
    }
}

/// A group of the caller's organization (policies name groups).
pub async fn see_group(db: &Db, principal: &Principal, group_id: Uuid) -> Result<Visible<group::Model>> {
    store::organizations::find_group(db, group_id)
        .await?
        .filter(|g| g.organization_id == principal.organization_id())
        .map(Visible::grant)
        .ok_or_else(|| Error::NotFound("group not found".into()))
}

/// Something that belongs to a runner (`row`, as read by its id), when the
/// caller may see that runner. A missing row and an invisible runner look
/// the same: NOT_FOUND naming `what`. Other failures stay what they are.
pub async fn see_owned<R: RunnerOwned>(
    db: &Db,
    principal: &Principal,
    row: Option<R>,
    what: &str,
) -> Result<Visible<R>> {
    let not_found = || Error::NotFound(format!("{what} not found"));
    let row = row.ok_or_else(not_found)?;
    match see_runner(db, principal, row.runner_id()).await {
        Ok(_) => Ok(Visible::grant(row)),
        Err(Error::NotFound(_)) => Err(not_found()),
        Err(e) => Err(e),
    }
}

/// Something that belongs to a runner the caller manages: the runner's
/// capability (which the store's writes of `row` take) and the row.
/// NOT_FOUND as for `see_owned`; PERMISSION_DENIED when the caller only sees it.
pub async fn manage_owned<R: RunnerOwned>(
    db: &Db,
    principal: &Principal,
    row: Option<R>,
    what: &str,
) -> Result<(Managed<Runner>, R)> {
    let row = see_owned(db, principal, row, what).await?.into_inner();
    let runner = manage_runner(db, principal, row.runner_id()).await?;
    Ok((runner, row))
}

/// A host token the caller may read and change: their own, or — for
/// organization admins — anyone's in their organization. Other people's
/// tokens are not to be seen: NOT_FOUND.
pub async fn host_token(db: &Db, principal: &Principal, id: Uuid) -> Result<Managed<HostToken>> {
    host_tokens::get(db, id)
        .await?
        .filter(|t| t.organization_id == principal.organization_id())
        .filter(|t| t.subject_id == principal.id() || is_org_admin(principal))
        .map(|token| Managed::grant(token, actor(principal)))
        .ok_or_else(|| Error::NotFound("host authentication token not found".into()))
}

/// Whose host tokens the caller may list: only their own (Some), or — for
/// organization admins — everyone's in their organization (None).
pub fn host_token_subjects(principal: &Principal) -> Option<Uuid> {
    (!is_org_admin(principal)).then(|| principal.id())
}

/// The right to store a host token for `subject` (the caller when None) on a
/// runner the caller sees. Only users hold host tokens; only organization
/// admins store them for others, and only for users of their organization.
pub async fn hold_host_token(
    db: &Db,
    principal: &Principal,
    runner_id: Uuid,
    subject: Option<Uuid>,
) -> Result<Managed<Holder>> {
    let Principal::User { id: caller_id, .. } = principal else {
        return Err(Error::PermissionDenied(
            "only users hold host authentication tokens".into(),
        ));
    };
    let subject = subject.unwrap_or(*caller_id);
    if subject != *caller_id {
        if !is_org_admin(principal) {
            return Err(Error::PermissionDenied(
                "only organization admins create tokens for others".into(),
            ));
        }
        store::organizations::find_user(db, subject)
            .await?
            .filter(|u| u.organization_id == principal.organization_id())
            .ok_or_else(|| Error::NotFound("subject not found".into()))?;
    }
    let runner = see_runner(db, principal, runner_id).await?.into_inner();
    Ok(Managed::grant(
        Holder {
            runner_id: runner.id,
            organization_id: runner.organization_id,
            subject_id: subject,
            subject_principal: PRINCIPAL_USER,
        },
        actor(principal),
    ))
}

/// A user minting a personal access token: only for themselves (an admin
/// minting one for someone else could act as them).
pub fn mint_personal_token(
    principal: &Principal,
    for_user: Option<Uuid>,
) -> Result<Managed<store::personal_tokens::Minter>> {
    let Principal::User {
        id, organization_id, ..
    } = principal
    else {
        return Err(Error::PermissionDenied("runners have no personal access tokens".into()));
    };
    if for_user.is_some_and(|user| user != *id) {
        return Err(Error::PermissionDenied(
            "personal access tokens are created by their user only".into(),
        ));
    }
    Ok(Managed::grant(
        store::personal_tokens::Minter {
            user_id: *id,
            organization_id: *organization_id,
        },
        actor(principal),
    ))
}

/// A personal access token the caller may read and delete: their own, or —
/// for organization admins — anyone's in their organization. Others'
/// tokens are not to be seen: NOT_FOUND.
pub async fn personal_token(
    db: &Db,
    principal: &Principal,
    id: Uuid,
) -> Result<Managed<store::personal_tokens::PersonalToken>> {
    if let Principal::Runner { .. } = principal {
        return Err(Error::PermissionDenied("runners have no personal access tokens".into()));
    }
    store::personal_tokens::get(db, id)
        .await?
        .filter(|t| t.organization_id == principal.organization_id())
        .filter(|t| t.user_id == Some(principal.id()) || is_org_admin(principal))
        .map(|token| Managed::grant(token, actor(principal)))
        .ok_or_else(|| Error::NotFound("personal access token not found".into()))
}

/// Whose personal access tokens the caller may list, of `user_ids` (empty:
/// all they may see): a member only their own, an admin anyone's in the
/// organization.
pub fn see_personal_tokens(
    principal: &Principal,
    user_ids: Vec<Uuid>,
) -> Result<Visible<store::personal_tokens::Owners>> {
    let Principal::User {
        id, organization_id, ..
    } = principal
    else {
        return Err(Error::PermissionDenied("runners have no personal access tokens".into()));
    };
    let user_ids = if is_org_admin(principal) {
        user_ids
    } else if user_ids.iter().all(|u| u == id) {
        vec![*id]
    } else {
        return Err(Error::PermissionDenied(
            "only organization admins list other users' tokens".into(),
        ));
    };
    Ok(Visible::grant(store::personal_tokens::Owners {
        organization_id: *organization_id,
        user_ids,
    }))
}

/// A user of the caller's organization; anyone else's is NOT_FOUND.
/// Runners have no business with people: PERMISSION_DENIED.
pub async fn see_user(db: &Db, principal: &Principal, id: Uuid) -> Result<Visible<store::members::Member>> {
    if let Principal::Runner { .. } = principal {
        return Err(Error::PermissionDenied("runners do not read users".into()));
    }
    store::organizations::find_user(db, id)
        .await?
        .filter(|u| u.organization_id == principal.organization_id())
        .map(Visible::grant)
        .ok_or_else(|| Error::NotFound("user not found".into()))
}

/// The caller's own organization, by the id they named: NOT_FOUND for any other.
pub fn see_organization(principal: &Principal, organization_id: Uuid) -> Result<Visible<store::members::Members>> {
    if organization_id != principal.organization_id() {
        return Err(Error::NotFound("organization not found".into()));
    }
    Ok(Visible::grant(store::members::Members { organization_id }))
}

/// The members of the caller's own organization, for its users (runners
/// have no business with people).
pub fn see_members(principal: &Principal, organization_id: Uuid) -> Result<Visible<store::members::Members>> {
    if let Principal::Runner { .. } = principal {
        return Err(Error::PermissionDenied("runners do not read members".into()));
    }
    see_organization(principal, organization_id)
}

/// Organization admins set their members' roles.
pub fn manage_members(principal: &Principal, organization_id: Uuid) -> Result<Managed<store::members::Members>> {
    see_organization(principal, organization_id)?;
    if !is_org_admin(principal) {
        return Err(Error::PermissionDenied(
            "only organization admins change members' roles".into(),
        ));
    }
    Ok(Managed::grant(
        store::members::Members { organization_id },
        actor(principal),
    ))
}

/// Any caller may have an ID token of their own identity.
pub fn own_identity(principal: &Principal) -> Managed<store::identity::OwnIdentity> {
    let subject_type = match principal {
        Principal::User { .. } => store::identity::USER,
        Principal::Runner { .. } => store::identity::RUNNER,
    };
    Managed::grant(
        store::identity::OwnIdentity {
            subject_id: principal.id(),
            subject_type,
            organization_id: principal.organization_id(),
        },
        actor(principal),
    )
}

/// The admin CLI manages any runner; its audit entries name nobody.
/// NOT_FOUND for a runner that does not exist.
pub async fn operator_runner(db: &Db, runner_id: Uuid) -> Result<Managed<Runner>> {
    let runner = store::runners::get(db, runner_id)
        .await?
        .ok_or_else(|| Error::NotFound("runner not found".into()))?;
    let actor = Actor::operator(runner.organization_id);
    Ok(Managed::grant(runner, actor))
}
