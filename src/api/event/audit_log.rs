//! The audit log: ListAuditLogs and GetAuditLog.

use crate::api::validate::Violations;
use crate::api::{check_page_size, convert, keyset_page};
use crate::auth::{Principal, access};
use crate::base::error::{Error, Result};
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::audit::{self, AuditEntry, AuditFilter};
use chrono::{DateTime, Utc};

/// Sort fields ListAuditLogs accepts (all mean time; ids are UUIDv7).
pub(super) const SORT_FIELDS: &[&str] = &["", "created_at", "createdAt", "id"];

/// The last second a google.protobuf.Timestamp may name (9999-12-31T23:59:59Z).
pub(super) const MAX_TIMESTAMP_SECONDS: i64 = 253_402_300_799;

pub(super) fn time(field: &str, v: &mut Violations, t: &Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let t = t.as_ref()?;
    let at = DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32);
    if at.is_none() || !(0..1_000_000_000).contains(&t.nanos) || !(0..=MAX_TIMESTAMP_SECONDS).contains(&t.seconds) {
        v.add(field, "value must be a valid timestamp");
    }
    at
}

pub(super) async fn list_audit_logs(
    state: &crate::api::state::AppState,
    caller: Principal,
    req: pb::ListAuditLogsRequest,
) -> Result<pb::ListAuditLogsResponse> {
    let mut v = Violations::new();
    check_page_size(&mut v, req.pagination.as_ref());
    let f = req.filter.unwrap_or_default();
    let actor_ids = v.id_filter("filter.actor_ids", &f.actor_ids);
    let subject_ids = v.id_filter("filter.subject_ids", &f.subject_ids);
    v.defined_enums::<pb::Principal>("filter.actor_principals", &f.actor_principals, 25);
    v.defined_enums::<pb::ResourceType>("filter.subject_types", &f.subject_types, 25);
    let from = time("filter.from", &mut v, &f.from);
    let to = time("filter.to", &mut v, &f.to);
    let sort = req.sort.unwrap_or_default();
    if !SORT_FIELDS.contains(&sort.field.as_str()) {
        v.add("sort.field", "value must be created_at");
    }
    v.defined_enum::<pb::SortOrder>("sort.order", sort.order);
    v.finish(())?;
    let organization_id = access::read_audit_log(&state.db, &caller).await?;

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
        entries: rows.into_iter().map(convert::audit_log_entry).collect(),
        pagination,
    })
}

pub(super) async fn get_audit_log(
    state: &crate::api::state::AppState,
    caller: Principal,
    req: pb::GetAuditLogRequest,
) -> Result<pb::GetAuditLogResponse> {
    let id = crate::api::require_uuid("audit_log_entry_id", &req.audit_log_entry_id)?;
    let organization_id = access::read_audit_log(&state.db, &caller).await?;
    let found = audit::get(&state.read_db, id)
        .await?
        .filter(|e| e.organization_id == organization_id)
        .ok_or_else(|| Error::NotFound("audit log entry not found".into()))?;
    Ok(pb::GetAuditLogResponse {
        entry: Some(convert::audit_log_entry(found)),
        details: None,
    })
}
