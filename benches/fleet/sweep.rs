//! What the liveness sweep costs per tick over the seeded fleet: ticks in
//! which 1 % of the runners' leases ran out (each makes that many
//! transitions), and idle ticks in which none did (the cost every replica
//! pays every tick). Measured on the database alone, before any server runs.

use std::time::{Duration, Instant};

use chrono::Utc;
use paddock::store::{self, entities::runner, runners::phase};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::seed::Member;

pub struct SweepCost {
    pub changing: usize,
    /// One tick in which `changing` runners became INACTIVE.
    pub with_changes: Vec<Duration>,
    /// One tick in which no lease ran out.
    pub idle: Vec<Duration>,
}

pub async fn measure(database_url: &str, fleet: &[Member], ticks: usize) -> anyhow::Result<SweepCost> {
    let db = store::connect(database_url).await?;
    let changing = (fleet.len() / 100).max(1);
    let lease_and_grace = chrono::Duration::seconds(45);
    let mut with_changes = Vec::new();
    let mut idle = Vec::new();
    for tick in 0..ticks {
        // a different 1 % each tick, silent for longer than lease + grace
        let ids: Vec<Uuid> = fleet
            .iter()
            .skip((tick * changing) % fleet.len())
            .take(changing)
            .map(|m| Uuid::parse_str(&m.runner_id))
            .collect::<Result<_, _>>()?;
        let now = Utc::now();
        set_lease(&db, &ids, now - chrono::Duration::seconds(60), None).await?;

        let started = Instant::now();
        let expired = store::leases::expire(&db, now - lease_and_grace, now).await?;
        with_changes.push(started.elapsed());
        anyhow::ensure!(
            expired.len() == ids.len(),
            "the sweep made {} transitions, not {}",
            expired.len(),
            ids.len()
        );

        let started = Instant::now();
        let none = store::leases::expire(&db, now - lease_and_grace, now).await?;
        idle.push(started.elapsed());
        anyhow::ensure!(none.is_empty(), "an idle tick made transitions");

        // back to how the load expects them: ACTIVE with a fresh lease
        set_lease(&db, &ids, Utc::now(), Some(phase::ACTIVE)).await?;
    }
    db.close().await?;
    Ok(SweepCost {
        changing,
        with_changes,
        idle,
    })
}

async fn set_lease(db: &store::Db, ids: &[Uuid], at: chrono::DateTime<Utc>, phase: Option<i32>) -> anyhow::Result<()> {
    for chunk in ids.chunks(500) {
        let mut update = runner::Entity::update_many()
            .col_expr(runner::Column::LeaseRenewedAt, Expr::value(at))
            .filter(runner::Column::Id.is_in(chunk.iter().copied()));
        if let Some(phase) = phase {
            update = update.col_expr(runner::Column::Phase, Expr::value(phase));
        }
        update.exec(db).await?;
    }
    Ok(())
}
