//! Changes as they happen, for WatchEvents. A change is announced once per
//! replica: on PostgreSQL by NOTIFY in the change's own transaction (so it
//! is delivered exactly when, and only if, the change commits, to every
//! replica's listener); on SQLite (one process) straight to this process's
//! broadcast after the commit. Watch streams subscribe to the broadcast: an
//! idle stream costs nothing, and one event is sent once, not per stream.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

/// gitpod.v1.ResourceOperation numbers.
pub mod operation {
    pub const CREATE: i32 = 1;
    pub const UPDATE: i32 = 2;
    pub const DELETE: i32 = 3;
    pub const UPDATE_STATUS: i32 = 4;
}

/// The PostgreSQL channel events travel on.
pub const CHANNEL: &str = "paddock_events";

/// How many events a watcher may fall behind before its stream ends
/// (RESOURCE_EXHAUSTED; it re-lists and watches again). Bounds memory
/// whatever the consumers do.
pub const BACKLOG: usize = 1024;

/// One change, with what deciding who may see it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// gitpod.v1.ResourceOperation
    pub operation: i32,
    /// gitpod.v1.ResourceType
    pub resource_type: i32,
    pub resource_id: Uuid,
    pub organization_id: Uuid,
    /// The runner the resource is or belongs to.
    pub runner_id: Option<Uuid>,
    /// The user a host token belongs to.
    pub holder_id: Option<Uuid>,
    /// Who made the change (nil for paddock itself, e.g. a lease running out).
    pub actor_id: Uuid,
}

/// What watchers are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A committed change.
    Change(Event),
    /// Changes may have been missed (this replica's LISTEN connection was
    /// lost for a moment): its watchers must list again. Names the replica
    /// (`AppState::replica`), as a process may hold several (tests do).
    Gap(Uuid),
}

fn sender() -> &'static broadcast::Sender<Notice> {
    static LOCAL: OnceLock<broadcast::Sender<Notice>> = OnceLock::new();
    LOCAL.get_or_init(|| broadcast::channel(BACKLOG).0)
}

/// Hands a committed change to this process's watchers.
pub fn publish(event: Event) {
    // no receiver (nobody watching) is not an error
    let _ = sender().send(Notice::Change(event));
}

/// Tells the replica's watchers that changes may have been missed.
pub fn gap(replica: Uuid) {
    let _ = sender().send(Notice::Gap(replica));
}

/// A new watcher's view of what is published from now on.
pub fn subscribe() -> broadcast::Receiver<Notice> {
    sender().subscribe()
}

/// PostgreSQL: LISTENs on `CHANNEL` and publishes every notification here,
/// until `stop` resolves. When the connection drops, notifications sent
/// meanwhile are lost: watchers are told (`Notice::Gap`) and the listener
/// reconnects.
pub async fn run_listener(database_url: String, replica: Uuid, stop: impl std::future::Future<Output = ()>) {
    use sea_orm::sqlx::postgres::PgListener;
    tokio::pin!(stop);
    let mut listener = loop {
        match PgListener::connect(&database_url).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => break listener,
                Err(e) => tracing::warn!(error = %e, "cannot LISTEN for events; retrying"),
            },
            Err(e) => tracing::warn!(error = %e, "cannot connect to listen for events; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = &mut stop => return,
        }
    };
    loop {
        tokio::select! {
            // try_recv (unlike recv) says when the connection was lost:
            // it reconnects on the next call, notifications in between are gone
            received = listener.try_recv() => match received {
                Ok(Some(notification)) => match serde_json::from_str::<Event>(notification.payload()) {
                    Ok(event) => publish(event),
                    Err(e) => tracing::warn!(error = %e, "an event notification that is not an event"),
                },
                Ok(None) => {
                    tracing::warn!("the event listener lost its connection; watchers list again");
                    gap(replica);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the event listener cannot reconnect yet; watchers list again");
                    gap(replica);
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
            },
            _ = &mut stop => return,
        }
    }
}
