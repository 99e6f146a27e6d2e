//! WatchEvents: changes as they happen, to the watchers that may see them.

use crate::api::ServerStream;
use crate::api::validate::Violations;
use crate::auth::Principal;
use crate::auth::layer::Credential;
use crate::auth::limits::WatchSlot;
use crate::base::error::{Error, Result};
use crate::base::events::{Event, Notice};
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::audit::subject;

/// What a watcher asked to hear of, and may see.
pub(super) struct Watch {
    caller: Principal,
    /// The replica serving the stream: its gaps end the stream.
    replica: uuid::Uuid,
    /// Empty: everything the caller may see.
    filters: Vec<Filter>,
    /// Counted in `/metrics` while the stream is open.
    _open: crate::base::metrics::OpenStream,
    /// Its place among the token's open streams, given back when it ends.
    _slot: WatchSlot,
}

/// When a token over its watch streams is told to try again.
pub(super) const WATCH_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

pub(super) struct Filter {
    resource_type: i32,
    resource_ids: Vec<uuid::Uuid>,
    creator_ids: Vec<uuid::Uuid>,
}

impl Watch {
    /// The visibility rules of each resource's Get and List RPCs: members
    /// of the organization see its runners and what belongs to them; host
    /// tokens only their holder and organization admins; a runner only
    /// itself and what belongs to it.
    fn may_see(&self, event: &Event) -> bool {
        if event.organization_id != self.caller.organization_id() {
            return false;
        }
        match &self.caller {
            // a runner reads its host tokens' values, never the tokens themselves
            Principal::Runner { id, .. } => {
                event.runner_id == Some(*id) && event.resource_type != subject::HOST_AUTHENTICATION_TOKEN
            }
            Principal::User { id, org_admin, .. } => {
                event.resource_type != subject::HOST_AUTHENTICATION_TOKEN || *org_admin || event.holder_id == Some(*id)
            }
        }
    }

    fn wants(&self, event: &Event) -> bool {
        self.filters.is_empty()
            || self.filters.iter().any(|f| {
                f.resource_type == event.resource_type
                    && (f.resource_ids.is_empty() || f.resource_ids.contains(&event.resource_id))
                    && (f.creator_ids.is_empty() || f.creator_ids.contains(&event.actor_id))
            })
    }
}

pub(super) async fn watch_events(
    state: &crate::api::state::AppState,
    caller: Principal,
    credential: Credential,
    req: pb::WatchEventsRequest,
) -> Result<ServerStream<pb::WatchEventsResponse>> {
    use pb::watch_events_request::Scope;
    let mut v = Violations::new();
    match req.scope {
        Some(Scope::Organization(true)) => {}
        Some(Scope::Organization(false)) => v.add("organization", "value must be true to watch the organization"),
        Some(Scope::EnvironmentId(_)) => v.add("environment_id", "paddock has no environments: watch the organization"),
        None => v.add("scope", "exactly one field is required in oneof"),
    }
    let mut filters = Vec::new();
    if v.max_items("resource_type_filters", &req.resource_type_filters, 50) {
        for (i, f) in req.resource_type_filters.iter().enumerate() {
            let field = |name: &str| format!("resource_type_filters[{i}].{name}");
            v.defined_enum::<pb::ResourceType>(&field("resource_type"), f.resource_type);
            if f.resource_type == 0 {
                v.add(field("resource_type"), "value must not be in list [0]");
            }
            filters.push(Filter {
                resource_type: f.resource_type,
                resource_ids: v.id_filter(&field("resource_ids"), &f.resource_ids),
                creator_ids: v.id_filter(&field("creator_ids"), &f.creator_ids),
            });
        }
    }
    v.finish(())?;
    let max = state.limits.settings.watches_per_token;
    let slot = state.limits.watches.open(credential.0, max).ok_or_else(|| {
        Error::ResourceExhausted(
            format!("this token holds {max} watch streams open already: close one, or watch with one stream"),
            WATCH_RETRY,
        )
    })?;
    // subscribed before answering: nothing committed after this is missed
    let events = crate::base::events::subscribe();
    let stopping = state.stopping.subscribe();
    let watch = Watch {
        caller,
        filters,
        replica: state.replica,
        _open: crate::base::metrics::OpenStream::open(),
        _slot: slot,
    };
    Ok(Box::pin(futures_util::stream::unfold(
        Some((events, stopping, watch)),
        next_event,
    )))
}

pub(super) type WatchState = (
    tokio::sync::broadcast::Receiver<Notice>,
    tokio::sync::watch::Receiver<bool>,
    Watch,
);

/// The next event the watcher may see and wants; the stream's end when the
/// server stops; RESOURCE_EXHAUSTED (then the end) when the watcher fell
/// more than `events::BACKLOG` events behind.
pub(super) async fn next_event(
    state: Option<WatchState>,
) -> Option<(
    std::result::Result<pb::WatchEventsResponse, tonic::Status>,
    Option<WatchState>,
)> {
    use tokio::sync::broadcast::error::RecvError;
    let (mut events, mut stopping, watch) = state?;
    loop {
        let received = tokio::select! {
            received = events.recv() => received,
            _ = stopping.wait_for(|stopping| *stopping) => return None,
        };
        match received {
            Ok(Notice::Change(event)) if watch.may_see(&event) && watch.wants(&event) => {
                let response = pb::WatchEventsResponse {
                    operation: event.operation,
                    resource_type: event.resource_type,
                    resource_id: event.resource_id.to_string(),
                };
                return Some((Ok(response), Some((events, stopping, watch))));
            }
            Ok(Notice::Gap(replica)) if replica == watch.replica => {
                let status = tonic::Status::unavailable(
                    "paddock may have missed changes (its database connection dropped): list again and watch anew",
                );
                return Some((Err(status), None));
            }
            // what this watcher may not see, or another replica's gap
            Ok(Notice::Change(_) | Notice::Gap(_)) => {}
            Err(RecvError::Lagged(missed)) => {
                let status = tonic::Status::resource_exhausted(format!(
                    "the watcher fell {missed} events behind: list again and watch anew"
                ));
                return Some((Err(status), None));
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::events;

    fn unlimited_slot() -> WatchSlot {
        std::sync::Arc::new(crate::auth::limits::WatchCounter::default())
            .open([0; 32], 0)
            .expect("no limit")
    }

    /// An organization admin's watch of everything in `organization_id`,
    /// subscribed now.
    fn watching(organization_id: uuid::Uuid, stopping: tokio::sync::watch::Receiver<bool>) -> Option<WatchState> {
        let caller = Principal::User {
            id: uuid::Uuid::now_v7(),
            organization_id,
            org_admin: true,
            read_only: false,
        };
        Some((
            events::subscribe(),
            stopping,
            Watch {
                caller,
                filters: vec![],
                replica: uuid::Uuid::nil(),
                _open: crate::base::metrics::OpenStream::open(),
                _slot: unlimited_slot(),
            },
        ))
    }

    /// The event broadcast is the process's: these tests take turns, or one
    /// would make the other fall behind.
    static BROADCAST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    fn event(organization_id: uuid::Uuid) -> Event {
        Event {
            operation: events::operation::UPDATE,
            resource_type: subject::RUNNER,
            resource_id: uuid::Uuid::now_v7(),
            organization_id,
            runner_id: None,
            holder_id: None,
            actor_id: uuid::Uuid::nil(),
        }
    }

    /// A watcher that does not keep up ends with RESOURCE_EXHAUSTED instead
    /// of making the server hold everything it has not read.
    #[tokio::test]
    async fn a_watcher_that_falls_behind_is_told_to_list_again() {
        let _turn = BROADCAST.lock().await;
        let org = uuid::Uuid::now_v7();
        let (_stop, stopping) = tokio::sync::watch::channel(false);
        let state = watching(org, stopping);
        for _ in 0..events::BACKLOG + 10 {
            events::publish(event(org));
        }
        let (first, rest) = next_event(state).await.expect("an answer");
        let status = first.expect_err("fell behind");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(rest.is_none(), "then the stream ends");
    }

    /// When the replica may have missed changes, its watchers are told to
    /// list again.
    #[tokio::test]
    async fn a_gap_ends_the_stream_with_unavailable() {
        let _turn = BROADCAST.lock().await;
        let (_stop, stopping) = tokio::sync::watch::channel(false);
        let state = watching(uuid::Uuid::now_v7(), stopping);
        events::gap(uuid::Uuid::now_v7());
        // another replica's gap is not this stream's
        events::gap(uuid::Uuid::nil());
        let (first, rest) = next_event(state).await.expect("an answer");
        assert_eq!(first.expect_err("a gap").code(), tonic::Code::Unavailable);
        assert!(rest.is_none());
    }

    #[tokio::test]
    async fn a_keeping_up_watcher_gets_its_events_in_order() {
        let _turn = BROADCAST.lock().await;
        let org = uuid::Uuid::now_v7();
        let caller = Principal::User {
            id: uuid::Uuid::now_v7(),
            organization_id: org,
            org_admin: false,
            read_only: false,
        };
        let (_stop, stopping) = tokio::sync::watch::channel(false);
        let mut state = Some((
            events::subscribe(),
            stopping,
            Watch {
                caller,
                filters: vec![],
                replica: uuid::Uuid::nil(),
                _open: crate::base::metrics::OpenStream::open(),
                _slot: unlimited_slot(),
            },
        ));
        let sent: Vec<Event> = (0..3).map(|_| event(org)).collect();
        events::publish(event(uuid::Uuid::now_v7()));
        for e in &sent {
            events::publish(e.clone());
        }
        for e in &sent {
            let (got, rest) = next_event(state).await.expect("an event");
            assert_eq!(got.expect("ok").resource_id, e.resource_id.to_string());
            state = rest;
        }
    }
}
