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
pub const BACKLOG: usize = 8192;

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
/// until `stop` resolves. Whenever LISTEN is (re)established — at start,
/// after the connection dropped — notifications may have been missed
/// meanwhile, so the replica's watchers are told (`Notice::Gap`) then, once
/// the listener is back, and list again.
pub async fn run_listener(
    database_url: String,
    replica: Uuid,
    first: Option<Listener>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    // LISTEN made before serving: no watcher can have missed anything yet
    let mut ready = first;
    loop {
        if let Some(listener) = ready.take() {
            if !relay(listener, replica, stop.as_mut()).await {
                return;
            }
            continue;
        }
        let listening = async {
            loop {
                match listen(&database_url).await {
                    Ok(listener) => return listener,
                    Err(e) => tracing::warn!(error = %e, "cannot LISTEN for events; retrying"),
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        };
        let listener = tokio::select! {
            listener = listening => listener,
            _ = &mut stop => return,
        };
        // back: what was announced while it was away is lost to this replica
        gap(replica);
        ready = Some(listener);
    }
}

pub type Listener = sea_orm::sqlx::postgres::PgListener;

/// A connection LISTENing on `CHANNEL`.
pub async fn listen(database_url: &str) -> Result<Listener, sea_orm::sqlx::Error> {
    let mut listener = Listener::connect(database_url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Publishes notifications until the connection drops (false: `stop` resolved).
async fn relay<S: std::future::Future<Output = ()>>(
    mut listener: Listener,
    replica: Uuid,
    mut stop: std::pin::Pin<&mut S>,
) -> bool {
    loop {
        tokio::select! {
            // try_recv (unlike recv) says when the connection was lost
            received = listener.try_recv() => match received {
                Ok(Some(notification)) => match serde_json::from_str::<Event>(notification.payload()) {
                    Ok(event) => publish(event),
                    Err(e) => tracing::warn!(error = %e, "an event notification that is not an event"),
                },
                Ok(None) | Err(_) => {
                    tracing::warn!("the event listener lost its connection; reconnecting");
                    gap(replica);
                    return true;
                }
            },
            _ = stop.as_mut() => return false,
        }
    }
}
