//! paddock.v1.FleetService: the organization's fleet at a glance (counts by
//! state, stale and outdated runners) and deleting many runners in one call —
//! by the ids named, each checked and deleted as DeleteRunner would, never
//! "all of them" by omission.

use chrono::Utc;

use crate::api::service;
use crate::auth::{Principal, access};
use crate::error::{Error, Result};
use crate::proto::gitpod::v1 as gitpod;
use crate::proto::paddock::v1 as pb;
use crate::state::AppState;
use crate::store::runners::{self, phase};
use crate::validate::Violations;

service! {
    package paddock::v1;
    FleetApi: crate::proto::paddock::v1::fleet_service_server::FleetService {
        get_fleet_summary(GetFleetSummaryRequest) -> GetFleetSummaryResponse = summary;
        delete_runners(DeleteRunnersRequest) -> DeleteRunnersResponse = delete_runners;
    }
}

/// The most runners one DeleteRunners call names (a console's page).
const MAX_DELETIONS: usize = 100;

async fn summary(
    state: &AppState,
    caller: Principal,
    _req: pb::GetFleetSummaryRequest,
) -> Result<pb::GetFleetSummaryResponse> {
    let organization_id = access::see_fleet(&caller)?;
    let stale_after = chrono::Duration::from_std(state.stale_after).unwrap_or(chrono::Duration::MAX);
    let stale_before = Utc::now()
        .checked_sub_signed(stale_after)
        .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
    // a runner of no channel follows stable (as GetLatestVersion answers it)
    let releases: Vec<(Vec<i32>, &str)> = state
        .runner_releases
        .iter()
        .map(|(channel, release)| {
            let channels = if *channel == gitpod::RunnerReleaseChannel::Stable as i32 {
                vec![gitpod::RunnerReleaseChannel::Unspecified as i32, *channel]
            } else {
                vec![*channel]
            };
            (channels, release.version.as_str())
        })
        .collect();
    let counts = runners::fleet_counts(&state.read_db, organization_id, stale_before, &releases).await?;
    Ok(pb::GetFleetSummaryResponse {
        total: counts.total,
        active: counts.in_phase(phase::ACTIVE),
        inactive: counts.in_phase(phase::INACTIVE),
        degraded: counts.in_phase(phase::DEGRADED),
        deleting: counts.in_phase(phase::DELETING),
        never_connected: counts.in_phase(phase::CREATED),
        stale: counts.stale,
        outdated: counts.outdated,
        stale_after: Some(prost_types::Duration {
            seconds: i64::try_from(state.stale_after.as_secs()).unwrap_or(i64::MAX),
            nanos: 0,
        }),
    })
}

/// `runner_ids`: 1 to 100 distinct UUIDs.
fn requested_ids(ids: &[String]) -> Result<Vec<uuid::Uuid>> {
    let mut v = Violations::new();
    if ids.is_empty() {
        v.add(
            "runner_ids",
            "value must contain at least 1 item(s): name the runners to delete",
        );
    }
    let mut parsed = Vec::new();
    if v.max_items("runner_ids", ids, MAX_DELETIONS) {
        for (i, id) in ids.iter().enumerate() {
            if let Some(id) = v.uuid_if_set(&format!("runner_ids[{i}]"), Some(id)) {
                if parsed.contains(&id) {
                    v.add(format!("runner_ids[{i}]"), "repeated value must contain unique items");
                }
                parsed.push(id);
            }
        }
    }
    v.finish(())?;
    Ok(parsed)
}

/// Each runner named is deleted or refused on its own, in order; the caller
/// must manage each (as for DeleteRunner) — one they may not see is
/// NOT_FOUND for them, as it would be alone.
async fn delete_runners(
    state: &AppState,
    caller: Principal,
    req: pb::DeleteRunnersRequest,
) -> Result<pb::DeleteRunnersResponse> {
    let ids = requested_ids(&req.runner_ids)?;
    if let Principal::Runner { .. } = caller {
        return Err(Error::PermissionDenied("runners do not delete runners".into()));
    }
    let mut deletions = Vec::with_capacity(ids.len());
    for runner_id in ids {
        let outcome = crate::api::runner::delete_one(state, &caller, runner_id, req.force).await;
        let (code, message) = match outcome {
            Ok(()) => (tonic::Code::Ok, String::new()),
            Err(error) => {
                let status = tonic::Status::from(error);
                (status.code(), status.message().to_owned())
            }
        };
        deletions.push(pb::RunnerDeletion {
            runner_id: runner_id.to_string(),
            code: code as i32,
            message,
        });
    }
    Ok(pb::DeleteRunnersResponse { deletions })
}
