//! What the audit log keeps of identities handed out: an ID token is signed,
//! never stored, but who got one (and when) is recorded.

use sea_orm::TransactionTrait;
use uuid::Uuid;

use super::audit::{self, Change, subject};
use crate::base::capability::Managed;
use crate::base::error::Result;

/// The caller's own identity (what the capability is for): an ID token can
/// only be had for oneself.
#[derive(Debug, Clone, Copy)]
pub struct OwnIdentity {
    pub subject_id: Uuid,
    /// gitpod.v1.ResourceType of the subject (a user or a runner).
    pub subject_type: i32,
    pub organization_id: Uuid,
}

pub async fn record_id_token(db: &impl TransactionTrait, identity: &Managed<OwnIdentity>) -> Result<()> {
    let OwnIdentity {
        subject_id,
        subject_type,
        ..
    } = *identity.get();
    audit::audited(db, identity.actor(), async |_txn| {
        Ok(((), Change::credential(subject_type, subject_id, "identity.id_token")))
    })
    .await
}

/// gitpod.v1.ResourceType of a user and of a runner.
pub const USER: i32 = subject::USER;
pub const RUNNER: i32 = subject::RUNNER;
