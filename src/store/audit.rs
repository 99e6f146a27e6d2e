//! The audit log: who changed what, and who was handed a credential. An
//! entry is written in the transaction of its change, so a change and its
//! entry commit (or fail) together; entries never hold a secret.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, Statement, TransactionTrait,
};
use uuid::Uuid;

use super::entities::audit_log;
use super::query::beyond_in_scope;
use super::runners::Runner;
use crate::base::capability::{Actor, Managed};
use crate::base::error::Result;
use crate::base::events::Event;
use crate::base::pagination::Page;

pub use audit_log::Model as AuditEntry;

/// gitpod.v1.ResourceType numbers of what paddock audits.
pub mod subject {
    pub const RUNNER: i32 = 2;
    pub const USER: i32 = 8;
    pub const ENVIRONMENT_CLASS: i32 = 9;
    pub const RUNNER_SCM_INTEGRATION: i32 = 10;
    pub const HOST_AUTHENTICATION_TOKEN: i32 = 11;
    pub const GROUP: i32 = 12;
    pub const PERSONAL_ACCESS_TOKEN: i32 = 13;
    pub const RUNNER_LLM_INTEGRATION: i32 = 20;
    pub const GROUP_MEMBERSHIP_CHANGED: i32 = 41;
    /// A runner policy (a group's role on a runner); its subject id is the runner's.
    pub const ROLE_ASSIGNMENT: i32 = 47;
}

/// gitpod.v1.AuditLogEntryKind numbers.
pub mod kind {
    pub const RESOURCE_CHANGE: i32 = 3;
    pub const CREDENTIAL_ACCESS: i32 = 4;
}

/// What an entry says happened, and what watchers hear of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub subject_type: i32,
    pub subject_id: Uuid,
    /// `<resource>.<verb>`, e.g. `runner.update`.
    pub action: &'static str,
    pub kind: i32,
    /// The gitpod.v1.ResourceOperation watchers hear; None: not watched.
    pub operation: Option<i32>,
    /// The runner the subject is or belongs to (who may see the event).
    pub runner_id: Option<Uuid>,
    /// The user a host token belongs to (who may see the event).
    pub holder_id: Option<Uuid>,
}

impl Change {
    /// A resource created, changed or deleted; the operation watchers hear
    /// follows from the action's verb.
    pub fn resource(subject_type: i32, subject_id: Uuid, action: &'static str) -> Change {
        use crate::base::events::operation as op;
        let watched = !matches!(
            subject_type,
            subject::USER | subject::GROUP | subject::GROUP_MEMBERSHIP_CHANGED
        );
        let verb = action.rsplit('.').next().unwrap_or_default();
        let operation = match verb {
            "create" => op::CREATE,
            "delete" | "delete_confirmed" => op::DELETE,
            "signup" | "update_status" => op::UPDATE_STATUS,
            _ => op::UPDATE,
        };
        Change {
            subject_type,
            subject_id,
            action,
            kind: kind::RESOURCE_CHANGE,
            operation: watched.then_some(operation),
            runner_id: (subject_type == subject::RUNNER).then_some(subject_id),
            holder_id: None,
        }
    }

    /// A credential handed out (never the credential itself); not an event.
    pub fn credential(subject_type: i32, subject_id: Uuid, action: &'static str) -> Change {
        Change {
            subject_type,
            subject_id,
            action,
            kind: kind::CREDENTIAL_ACCESS,
            operation: None,
            runner_id: None,
            holder_id: None,
        }
    }

    /// The subject belongs to this runner.
    pub fn of_runner(self, runner_id: Uuid) -> Change {
        Change {
            runner_id: Some(runner_id),
            ..self
        }
    }

    /// The subject (a host token) belongs to this user.
    pub fn held_by(self, user_id: Uuid) -> Change {
        Change {
            holder_id: Some(user_id),
            ..self
        }
    }

    /// Watchers hear this operation instead of the verb's.
    pub fn heard_as(self, operation: i32) -> Change {
        Change {
            operation: Some(operation),
            ..self
        }
    }

    fn event(&self, actor: &Actor) -> Option<Event> {
        Some(Event {
            operation: self.operation?,
            resource_type: self.subject_type,
            resource_id: self.subject_id,
            organization_id: actor.organization_id,
            runner_id: self.runner_id,
            holder_id: self.holder_id,
            actor_id: actor.id,
        })
    }
}

/// An event to hand to this process's watchers once its transaction has
/// committed (SQLite); on PostgreSQL it went with the transaction (NOTIFY).
#[must_use = "call committed() after the transaction commits"]
#[derive(Debug, Default)]
pub struct Pending(Vec<Event>);

impl Pending {
    pub fn committed(self) {
        for event in self.0 {
            crate::base::events::publish(event);
        }
    }

    /// Both lots, for a transaction that announces several changes.
    pub fn and(mut self, other: Pending) -> Pending {
        self.0.extend(other.0);
        self
    }
}

/// Announces `event`: PostgreSQL NOTIFY on `db` (delivered when its
/// transaction commits, or at once outside one); on SQLite, kept for
/// `Pending::committed`.
pub async fn announce(db: &impl ConnectionTrait, event: Event) -> Result<Pending> {
    if db.get_database_backend() == DbBackend::Postgres {
        let payload = serde_json::to_string(&event).map_err(anyhow::Error::from)?;
        db.execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [crate::base::events::CHANNEL.into(), payload.into()],
        ))
        .await?;
        return Ok(Pending::default());
    }
    Ok(Pending(vec![event]))
}

/// Writes the entry of `change` made by `actor`, and announces it to
/// watchers; call it inside the change's transaction and `committed()` the
/// answer after the commit.
pub async fn record(db: &impl ConnectionTrait, actor: &Actor, change: Change) -> Result<Pending> {
    write_entry(db, actor, change).await?;
    match change.event(actor) {
        Some(event) => announce(db, event).await,
        None => Ok(Pending::default()),
    }
}

async fn write_entry(db: &impl ConnectionTrait, actor: &Actor, change: Change) -> Result<AuditEntry> {
    let entry = AuditEntry {
        id: Uuid::now_v7(),
        organization_id: actor.organization_id,
        actor_id: actor.id,
        actor_principal: actor.principal,
        subject_id: change.subject_id,
        subject_type: change.subject_type,
        action: change.action.to_owned(),
        kind: change.kind,
        created_at: Utc::now(),
    };
    let row = audit_log::ActiveModel {
        id: Set(entry.id),
        organization_id: Set(entry.organization_id),
        actor_id: Set(entry.actor_id),
        actor_principal: Set(entry.actor_principal),
        subject_id: Set(entry.subject_id),
        subject_type: Set(entry.subject_type),
        action: Set(entry.action.clone()),
        kind: Set(entry.kind),
        created_at: Set(entry.created_at),
    };
    audit_log::Entity::insert(row).exec_without_returning(db).await?;
    Ok(entry)
}

/// Runs `write` in a transaction and records the change it reports, made by
/// `actor`, in the same one: the change and its entry commit together, and
/// watchers hear of it once it has.
pub async fn audited<T>(
    db: &impl TransactionTrait,
    actor: &Actor,
    write: impl AsyncFnOnce(&DatabaseTransaction) -> Result<(T, Change)>,
) -> Result<T> {
    let txn = db.begin().await?;
    let (value, change) = write(&txn).await?;
    let pending = record(&txn, actor, change).await?;
    txn.commit().await?;
    pending.committed();
    Ok(value)
}

/// `write` to something the managed runner owns, recorded as `action` on a
/// subject of `subject_type` of that runner, in the same transaction.
/// `write` answers its value and the id of the subject it wrote.
pub async fn audited_for_runner<T>(
    db: &impl TransactionTrait,
    runner: &Managed<Runner>,
    (subject_type, action): (i32, &'static str),
    write: impl AsyncFnOnce(&DatabaseTransaction) -> Result<(T, Uuid)>,
) -> Result<T> {
    audited(db, runner.actor(), async |txn| {
        let (value, id) = write(txn).await?;
        Ok((
            value,
            Change::resource(subject_type, id, action).of_runner(runner.get().id),
        ))
    })
    .await
}

/// ListAuditLogs' filter, within one organization.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub organization_id: Uuid,
    pub actor_ids: Vec<Uuid>,
    pub actor_principals: Vec<i32>,
    pub subject_ids: Vec<Uuid>,
    pub subject_types: Vec<i32>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Newest first (the default) or oldest first.
    pub newest_first: bool,
}

pub fn list_query(filter: &AuditFilter, page: Page) -> Select<audit_log::Entity> {
    use audit_log::Column as C;
    let mut query = audit_log::Entity::find().filter(C::OrganizationId.eq(filter.organization_id));
    if !filter.actor_ids.is_empty() {
        query = query.filter(C::ActorId.is_in(filter.actor_ids.clone()));
    }
    if !filter.actor_principals.is_empty() {
        query = query.filter(C::ActorPrincipal.is_in(filter.actor_principals.clone()));
    }
    if !filter.subject_ids.is_empty() {
        query = query.filter(C::SubjectId.is_in(filter.subject_ids.clone()));
    }
    if !filter.subject_types.is_empty() {
        query = query.filter(C::SubjectType.is_in(filter.subject_types.clone()));
    }
    // from and to bound the time through the ids (UUIDv7 carry their
    // millisecond), so every filter stays a range of an index
    // (the id bound keeps the index range; the time itself is exact)
    if let Some(from) = filter.from {
        query = query
            .filter(C::Id.gte(first_id_at(from)))
            .filter(C::CreatedAt.gte(from));
    }
    if let Some(to) = filter.to {
        let next_millisecond = to + chrono::Duration::milliseconds(1);
        query = query
            .filter(C::Id.lt(first_id_at(next_millisecond)))
            .filter(C::CreatedAt.lt(to));
    }
    query = query.filter(beyond_in_scope(
        (C::OrganizationId, filter.organization_id),
        (C::Id, page.after),
        filter.newest_first,
    ));
    let query = if filter.newest_first {
        query.order_by_desc(C::OrganizationId).order_by_desc(C::Id)
    } else {
        query.order_by_asc(C::OrganizationId).order_by_asc(C::Id)
    };
    query.limit(page.size + 1)
}

/// The smallest UUIDv7 of the millisecond `at` falls in.
fn first_id_at(at: DateTime<Utc>) -> Uuid {
    let millis = at.timestamp_millis().max(0) as u64;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = 0x70;
    bytes[8] = 0x80;
    Uuid::from_bytes(bytes)
}

pub async fn list(db: &impl ConnectionTrait, filter: &AuditFilter, page: Page) -> Result<Vec<AuditEntry>> {
    Ok(list_query(filter, page).all(db).await?)
}

pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<AuditEntry>> {
    Ok(audit_log::Entity::find_by_id(id).one(db).await?)
}

/// Deletes up to `batch` entries older than `before`; how many went. Small
/// batches keep each delete short on a busy database.
pub async fn prune(db: &impl ConnectionTrait, before: DateTime<Utc>, batch: u64) -> Result<u64> {
    let old: Vec<Uuid> = audit_log::Entity::find()
        .select_only()
        .column(audit_log::Column::Id)
        .filter(audit_log::Column::CreatedAt.lt(before))
        .limit(batch)
        .into_tuple()
        .all(db)
        .await?;
    if old.is_empty() {
        return Ok(0);
    }
    let removed = audit_log::Entity::delete_many()
        .filter(audit_log::Column::Id.is_in(old))
        .exec(db)
        .await?;
    Ok(removed.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_id_at_sorts_before_every_id_of_its_millisecond_and_after_earlier_ones() {
        let at = Utc::now();
        let id = Uuid::now_v7();
        assert!(first_id_at(at - chrono::Duration::milliseconds(1)) < id);
        assert!(first_id_at(at + chrono::Duration::milliseconds(5)) > id);
    }
}
