//! The authenticated caller of a request. A leaf: the store answers with it
//! (`store::tokens::authenticate`) and auth decides with it, so neither needs
//! the other's types.

use uuid::Uuid;

/// gitpod.v1.Principal numbers.
pub const PRINCIPAL_USER: i32 = 2;
pub const PRINCIPAL_RUNNER: i32 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User {
        id: Uuid,
        organization_id: Uuid,
        org_admin: bool,
        /// Called with a read-only personal access token: only
        /// side-effect-free RPCs (the auth layer holds it to that).
        read_only: bool,
    },
    Runner {
        id: Uuid,
        organization_id: Uuid,
    },
}

impl Principal {
    pub fn organization_id(&self) -> Uuid {
        match self {
            Principal::User { organization_id, .. } | Principal::Runner { organization_id, .. } => *organization_id,
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            Principal::User { id, .. } | Principal::Runner { id, .. } => *id,
        }
    }

    /// The one runner a runner principal may list things of (None for users).
    pub fn own_runner(&self) -> Option<Uuid> {
        match self {
            Principal::Runner { id, .. } => Some(*id),
            Principal::User { .. } => None,
        }
    }

    /// Whether the caller's token may only read.
    pub fn read_only(&self) -> bool {
        matches!(self, Principal::User { read_only: true, .. })
    }

    /// The gitpod.v1.Principal number of this caller.
    pub fn kind(&self) -> i32 {
        match self {
            Principal::User { .. } => PRINCIPAL_USER,
            Principal::Runner { .. } => PRINCIPAL_RUNNER,
        }
    }
}
