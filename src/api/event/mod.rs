//! gitpod.v1.EventService: WatchEvents (changes as they happen, to whoever
//! may see them) and the audit log (ListAuditLogs, GetAuditLog), for
//! organization admins.

mod audit_log;
mod watch;

use crate::api::service;

service! {
    EventApi: crate::protocol::proto::gitpod::v1::event_service_server::EventService {
        list_audit_logs(ListAuditLogsRequest) -> ListAuditLogsResponse = audit_log::list_audit_logs;
        get_audit_log(GetAuditLogRequest) -> GetAuditLogResponse = audit_log::get_audit_log;
        @stream watch_events(WatchEventsRequest) -> WatchEventsResponse = watch::watch_events;
    }
}
