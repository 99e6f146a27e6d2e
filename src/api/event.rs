//! gitpod.v1.EventService: the audit log (ListAuditLogs, GetAuditLog), for
//! organization admins. WatchEvents answers UNIMPLEMENTED for now.

use chrono::{DateTime, Utc};

use crate::api::{convert, keyset_page, service};
use crate::auth::{Principal, access};
use crate::error::{Error, Result};
use crate::proto::gitpod::v1 as pb;
use crate::store::audit::{self, AuditEntry, AuditFilter};
use crate::validate::Violations;

service! {
    EventApi: crate::proto::gitpod::v1::event_service_server::EventService {
        list_audit_logs(ListAuditLogsRequest) -> ListAuditLogsResponse = list_audit_logs;
        get_audit_log(GetAuditLogRequest) -> GetAuditLogResponse = get_audit_log;
    }
}

/// Sort fields ListAuditLogs accepts (all mean time; ids are UUIDv7).
const SORT_FIELDS: &[&str] = &["", "created_at", "createdAt", "id"];

fn time(field: &str, v: &mut Violations, t: &Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let t = t.as_ref()?;
    let at = DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32);
    if at.is_none() || t.nanos < 0 {
        v.add(field, "value must be a valid timestamp");
    }
    at
}

async fn list_audit_logs(
    state: &crate::state::AppState,
    caller: Principal,
    req: pb::ListAuditLogsRequest,
) -> Result<pb::ListAuditLogsResponse> {
    let mut v = Violations::new();
    v.page_size(
        "pagination.page_size",
        req.pagination.as_ref().map_or(0, |p| p.page_size),
    );
    let f = req.filter.unwrap_or_default();
    let actor_ids = v.id_filter("filter.actor_ids", &f.actor_ids);
    let subject_ids = v.id_filter("filter.subject_ids", &f.subject_ids);
    if v.max_items("filter.actor_principals", &f.actor_principals, 25) {
        for (i, p) in f.actor_principals.iter().enumerate() {
            v.defined_enum::<pb::Principal>(&format!("filter.actor_principals[{i}]"), *p);
        }
    }
    if v.max_items("filter.subject_types", &f.subject_types, 25) {
        for (i, t) in f.subject_types.iter().enumerate() {
            v.defined_enum::<pb::ResourceType>(&format!("filter.subject_types[{i}]"), *t);
        }
    }
    let from = time("filter.from", &mut v, &f.from);
    let to = time("filter.to", &mut v, &f.to);
    let sort = req.sort.unwrap_or_default();
    if !SORT_FIELDS.contains(&sort.field.as_str()) {
        v.add("sort.field", "value must be created_at");
    }
    v.defined_enum::<pb::SortOrder>("sort.order", sort.order);
    v.finish(())?;
    let organization_id = access::read_audit_log(&caller)?;

    let filter = AuditFilter {
        organization_id,
        actor_ids,
        actor_principals: f.actor_principals,
        subject_ids,
        subject_types: f.subject_types,
        from,
        to,
        newest_first: sort.order != pb::SortOrder::Asc as i32,
    };
    let (rows, pagination) = keyset_page(
        &state.secrets,
        "audit_logs",
        &filter,
        req.pagination,
        |e: &AuditEntry| e.id,
        |page| audit::list(&state.read_db, &filter, page),
    )
    .await?;
    Ok(pb::ListAuditLogsResponse {
        entries: rows.into_iter().map(entry).collect(),
        pagination,
    })
}

async fn get_audit_log(
    state: &crate::state::AppState,
    caller: Principal,
    req: pb::GetAuditLogRequest,
) -> Result<pb::GetAuditLogResponse> {
    let id = crate::api::require_uuid("audit_log_entry_id", &req.audit_log_entry_id)?;
    let organization_id = access::read_audit_log(&caller)?;
    let found = audit::get(&state.read_db, id)
        .await?
        .filter(|e| e.organization_id == organization_id)
        .ok_or_else(|| Error::NotFound("audit log entry not found".into()))?;
    Ok(pb::GetAuditLogResponse {
        entry: Some(entry(found)),
        details: None,
    })
}

fn entry(e: AuditEntry) -> pb::list_audit_logs_response::AuditLogEntry {
    pb::list_audit_logs_response::AuditLogEntry {
        id: e.id.to_string(),
        actor_id: e.actor_id.to_string(),
        actor_principal: e.actor_principal,
        subject_id: e.subject_id.to_string(),
        subject_type: e.subject_type,
        action: e.action,
        created_at: Some(convert::timestamp(e.created_at)),
        kind: e.kind,
    }
}
