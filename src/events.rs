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

fn sender() -> &'static broadcast::Sender<Event> {
    static LOCAL: OnceLock<broadcast::Sender<Event>> = OnceLock::new();
    LOCAL.get_or_init(|| broadcast::channel(BACKLOG).0)
}

/// Hands a committed change to this process's watchers.
pub fn publish(event: Event) {
    // no receiver (nobody watching) is not an error
    let _ = sender().send(event);
}

/// A new watcher's view of what is published from now on.
pub fn subscribe() -> broadcast::Receiver<Event> {
    sender().subscribe()
}

/// PostgreSQL: LISTENs on `CHANNEL` and publishes every notification here,
/// until `stop` resolves. Reconnects when the connection drops (events sent
/// meanwhile are missed; watchers re-list after a reconnect of their own).
pub async fn run_listener(database_url: String, stop: impl std::future::Future<Output = ()>) {
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
            received = listener.recv() => match received {
                Ok(notification) => match serde_json::from_str::<Event>(notification.payload()) {
                    Ok(event) => publish(event),
                    Err(e) => tracing::warn!(error = %e, "an event notification that is not an event"),
                },
                // PgListener reconnects on the next recv
                Err(e) => {
                    tracing::warn!(error = %e, "the event listener lost its connection; reconnecting");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            },
            _ = &mut stop => return,
        }
    }
}
