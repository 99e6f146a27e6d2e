//! The control plane's side of runner liveness: leases written in batches,
//! runners whose lease ran out marked INACTIVE, long-INACTIVE runners removed.
//!
//! These are the server's own housekeeping, decided from stored timestamps
//! alone, so they take no capability: no caller asked for them. Every
//! transition is one conditional UPDATE, so replicas sweeping the same
//! database at the same moment make each transition once between them, and
//! each sweep reads only the runners that change (through the
//! `(phase, lease_renewed_at)` and `(phase, inactive_since)` indexes), never
//! the fleet. Timestamps come from the replicas' clocks, which must agree to
//! well within the grace (NTP does).

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, Select, TransactionTrait,
};
use uuid::Uuid;

use super::audit::{self, Change, Pending};
use super::entities::runner;
use super::runners::phase;
use crate::base::error::Result;
use crate::base::events::{Event, operation};

/// Phases a lease keeps alive; only these can run out.
const ALIVE: [i32; 2] = [phase::ACTIVE, phase::DEGRADED];

/// How many transitions one statement batch makes; a sweep repeats until
/// none is left, so a mass outage is handled in bounded transactions.
const BATCH: u64 = 500;

/// Writes leases collected in memory: one statement for the timestamps, and
/// one that brings back runners a sweep marked INACTIVE while their lease
/// waited in memory (so no replica reports a live runner INACTIVE for longer
/// than a flush).
pub async fn write(
    db: &(impl ConnectionTrait + TransactionTrait),
    runner_ids: &[Uuid],
    renewed_at: DateTime<Utc>,
) -> Result<()> {
    if runner_ids.is_empty() {
        return Ok(());
    }
    let txn = db.begin().await?;
    // a lease only moves forward: a late batch (a replica that could not
    // write for a while) never undoes a newer lease another replica wrote
    runner::Entity::update_many()
        .col_expr(runner::Column::LeaseRenewedAt, Expr::value(renewed_at))
        .filter(runner::Column::Id.is_in(runner_ids.iter().copied()))
        .filter(
            Condition::any()
                .add(runner::Column::LeaseRenewedAt.is_null())
                .add(runner::Column::LeaseRenewedAt.lt(renewed_at)),
        )
        .exec(&txn)
        .await?;
    let revived = revive(&txn, runner_ids, renewed_at).await?;
    txn.commit().await?;
    revived.committed();
    Ok(())
}

/// INACTIVE runners that sent a lease become ACTIVE again, their "no
/// heartbeat" message cleared (an UPDATE_STATUS for watchers). Other phases
/// are left as they are.
pub async fn revive(db: &impl ConnectionTrait, runner_ids: &[Uuid], now: DateTime<Utc>) -> Result<Pending> {
    let inactive: Vec<(Uuid, Uuid)> = runner::Entity::find()
        .select_only()
        .columns([runner::Column::Id, runner::Column::OrganizationId])
        .filter(runner::Column::Id.is_in(runner_ids.iter().copied()))
        .filter(runner::Column::Phase.eq(phase::INACTIVE))
        .into_tuple()
        .all(db)
        .await?;
    let mut pending = Pending::default();
    for (runner_id, organization_id) in inactive {
        let revived = runner::Entity::update_many()
            .col_expr(runner::Column::Phase, Expr::value(phase::ACTIVE))
            .col_expr(runner::Column::StatusMessage, Expr::value(String::new()))
            .col_expr(
                runner::Column::InactiveSince,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(runner::Column::UpdatedAt, Expr::value(now))
            .filter(runner::Column::Id.eq(runner_id))
            .filter(runner::Column::Phase.eq(phase::INACTIVE))
            .exec(db)
            .await?;
        if revived.rows_affected == 1 {
            let event = status_event(runner_id, organization_id, operation::UPDATE_STATUS);
            pending = pending.and(audit::announce(db, event).await?);
        }
    }
    Ok(pending)
}

/// A change paddock itself made to a runner (no actor: the nil id).
fn status_event(runner_id: Uuid, organization_id: Uuid, operation: i32) -> Event {
    Event {
        operation,
        resource_type: audit::subject::RUNNER,
        resource_id: runner_id,
        organization_id,
        runner_id: Some(runner_id),
        holder_id: None,
        actor_id: Uuid::nil(),
    }
}

/// A runner this sweep marked INACTIVE, with when it was last heard of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired {
    pub runner_id: Uuid,
    pub last_lease: DateTime<Utc>,
}

/// The next batch of live runners whose lease is older than `cutoff` (id,
/// last lease): a range of the `(phase, lease_renewed_at)` index.
pub fn expiring(cutoff: DateTime<Utc>) -> Select<runner::Entity> {
    runner::Entity::find()
        .select_only()
        .columns([
            runner::Column::Id,
            runner::Column::LeaseRenewedAt,
            runner::Column::OrganizationId,
        ])
        .filter(runner::Column::Phase.is_in(ALIVE))
        .filter(runner::Column::LeaseRenewedAt.lt(cutoff))
        .limit(BATCH)
}

/// The next batch of runners to forget (ids): INACTIVE since before
/// `inactive_cutoff`, or DELETING with no lease since `lease_cutoff` (their
/// runner is not coming back to confirm). A range of an index each.
pub fn forgotten(inactive_cutoff: DateTime<Utc>, lease_cutoff: DateTime<Utc>) -> Select<runner::Entity> {
    runner::Entity::find()
        .select_only()
        .columns([runner::Column::Id, runner::Column::OrganizationId])
        .filter(forgettable(inactive_cutoff, lease_cutoff))
        .limit(BATCH)
}

fn forgettable(inactive_cutoff: DateTime<Utc>, lease_cutoff: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(runner::Column::Phase.eq(phase::INACTIVE))
                .add(runner::Column::InactiveSince.lt(inactive_cutoff)),
        )
        .add(
            Condition::all()
                .add(runner::Column::Phase.eq(phase::DELETING))
                .add(runner::Column::LeaseRenewedAt.lt(lease_cutoff)),
        )
}

/// Marks INACTIVE every ACTIVE or DEGRADED runner whose last lease is older
/// than `cutoff`, saying since when in its status message. Returns the
/// transitions this call made (another replica's are not in it).
pub async fn expire(
    db: &(impl ConnectionTrait + TransactionTrait),
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Expired>> {
    let mut made = Vec::new();
    loop {
        let mut stale: Vec<(Uuid, Option<DateTime<Utc>>, Uuid)> = expiring(cutoff).into_tuple().all(db).await?;
        if stale.is_empty() {
            return Ok(made);
        }
        let full = stale.len() as u64 == BATCH;
        stale.sort_unstable();
        let mut changed_here = 0;
        let batch = Batch::begin(db).await?;
        let mut pending = Pending::default();
        for (runner_id, last_lease, organization_id) in stale {
            let Some(last_lease) = last_lease else { continue };
            let message = format!(
                "no heartbeat since {}: the runner's lease ran out",
                last_lease.to_rfc3339_opts(SecondsFormat::Secs, true)
            );
            let update = runner::Entity::update_many()
                .col_expr(runner::Column::Phase, Expr::value(phase::INACTIVE))
                .col_expr(runner::Column::StatusMessage, Expr::value(message))
                .col_expr(runner::Column::InactiveSince, Expr::value(now))
                .col_expr(runner::Column::UpdatedAt, Expr::value(now))
                .filter(runner::Column::Id.eq(runner_id))
                .filter(runner::Column::Phase.is_in(ALIVE))
                .filter(runner::Column::LeaseRenewedAt.lt(cutoff));
            let event = status_event(runner_id, organization_id, operation::UPDATE_STATUS);
            if let Some(announced) = batch
                .change(db, Statement::Update(update), Effect::Announce(event))
                .await?
            {
                changed_here += 1;
                made.push(Expired { runner_id, last_lease });
                pending = pending.and(announced);
            }
        }
        batch.commit().await?;
        pending.committed();
        if !full || changed_here == 0 {
            return Ok(made);
        }
    }
}

/// Where a sweep's conditional statements run. SQLite: in one transaction,
/// one commit for the batch (its one writer cannot deadlock). PostgreSQL: a
/// short transaction each, holding only its one row — no deadlock with
/// another replica's sweep or lease flush — with its announcement (NOTIFY
/// commits with the change, or neither happens).
enum Batch {
    Transaction(sea_orm::DatabaseTransaction),
    EachOnItsOwn,
}

/// One conditional statement of a sweep.
enum Statement {
    Update(sea_orm::UpdateMany<runner::Entity>),
    Delete(sea_orm::DeleteMany<runner::Entity>),
}

impl Statement {
    async fn exec(self, db: &impl ConnectionTrait) -> Result<u64> {
        Ok(match self {
            Statement::Update(update) => update.exec(db).await?.rows_affected,
            Statement::Delete(delete) => delete.exec(db).await?.rows_affected,
        })
    }
}

/// What a transition comes with.
enum Effect {
    /// An event for watchers.
    Announce(Event),
    /// An audit entry (and the event it implies).
    Record(crate::base::capability::Actor, Change),
}

impl Effect {
    async fn apply(self, db: &impl ConnectionTrait) -> Result<Pending> {
        match self {
            Effect::Announce(event) => audit::announce(db, event).await,
            Effect::Record(actor, change) => audit::record(db, &actor, change).await,
        }
    }
}

impl Batch {
    async fn begin(db: &(impl ConnectionTrait + TransactionTrait)) -> Result<Batch> {
        Ok(match db.get_database_backend() {
            DbBackend::Sqlite => Batch::Transaction(db.begin().await?),
            _ => Batch::EachOnItsOwn,
        })
    }

    /// Runs `statement`; when it made its transition, applies `effect` with
    /// it. None when another replica (or a lease) got there first.
    async fn change(
        &self,
        db: &(impl ConnectionTrait + TransactionTrait),
        statement: Statement,
        effect: Effect,
    ) -> Result<Option<Pending>> {
        match self {
            Batch::Transaction(txn) => {
                if statement.exec(txn).await? != 1 {
                    return Ok(None);
                }
                Ok(Some(effect.apply(txn).await?))
            }
            Batch::EachOnItsOwn => {
                let txn = db.begin().await?;
                if statement.exec(&txn).await? != 1 {
                    return Ok(None);
                }
                let pending = effect.apply(&txn).await?;
                txn.commit().await?;
                Ok(Some(pending))
            }
        }
    }

    async fn commit(self) -> Result<()> {
        if let Batch::Transaction(txn) = self {
            txn.commit().await?;
        }
        Ok(())
    }
}

/// Removes runners INACTIVE since before `inactive_cutoff`, and runners left
/// DELETING with no lease since `lease_cutoff`, with everything they own.
/// Returns the ids removed by this call.
pub async fn collect(
    db: &(impl ConnectionTrait + TransactionTrait),
    inactive_cutoff: DateTime<Utc>,
    lease_cutoff: DateTime<Utc>,
) -> Result<Vec<Uuid>> {
    let mut removed = Vec::new();
    loop {
        let mut stale: Vec<(Uuid, Uuid)> = forgotten(inactive_cutoff, lease_cutoff).into_tuple().all(db).await?;
        if stale.is_empty() {
            return Ok(removed);
        }
        let full = stale.len() as u64 == BATCH;
        stale.sort_unstable();
        let batch = Batch::begin(db).await?;
        let mut removed_here = 0;
        let mut pending = Pending::default();
        for (runner_id, organization_id) in stale {
            // tokens, policies, classes and integrations go by ON DELETE CASCADE
            let delete = runner::Entity::delete_many()
                .filter(runner::Column::Id.eq(runner_id))
                .filter(forgettable(inactive_cutoff, lease_cutoff));
            // an entry names the collection (by paddock: the nil actor); the
            // DELETE event comes with it
            let change =
                Change::resource(audit::subject::RUNNER, runner_id, "runner.collect").heard_as(operation::DELETE);
            let effect = Effect::Record(crate::base::capability::Actor::operator(organization_id), change);
            if let Some(announced) = batch.change(db, Statement::Delete(delete), effect).await? {
                removed_here += 1;
                removed.push(runner_id);
                pending = pending.and(announced);
            }
        }
        batch.commit().await?;
        pending.committed();
        if !full || removed_here == 0 {
            return Ok(removed);
        }
    }
}
