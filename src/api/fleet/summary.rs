//! GetFleetSummary: the organization's runners counted by state, staleness
//! and drift.

use crate::api::convert;
use crate::api::state::AppState;
use crate::auth::{Principal, access};
use crate::base::error::Result;
use crate::protocol::proto::gitpod::v1 as gitpod;
use crate::protocol::proto::paddock::v1 as pb;
use crate::store::fleet::{self, FleetView};
use chrono::Utc;

/// The organization seen with this server's --stale-after and releases.
pub(super) fn view(state: &AppState, organization_id: uuid::Uuid) -> FleetView {
    let stale_after = chrono::Duration::from_std(state.stale_after).unwrap_or(chrono::Duration::MAX);
    let stale_before = Utc::now()
        .checked_sub_signed(stale_after)
        .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
    // a runner of no channel follows stable (as GetLatestVersion answers it)
    let releases = state
        .runner_releases
        .iter()
        .map(|(channel, release)| fleet::Release {
            channels: if *channel == gitpod::RunnerReleaseChannel::Stable as i32 {
                vec![gitpod::RunnerReleaseChannel::Unspecified as i32, *channel]
            } else {
                vec![*channel]
            },
            version: release.version.clone(),
        })
        .collect();
    FleetView {
        organization_id,
        stale_before,
        releases,
    }
}

pub(super) async fn summary(
    state: &AppState,
    caller: Principal,
    _req: pb::GetFleetSummaryRequest,
) -> Result<pb::GetFleetSummaryResponse> {
    let organization_id = access::see_fleet(&caller)?;
    let view = view(state, organization_id);
    let counts = fleet::counts(&state.read_db, &view).await?;
    let regions = fleet::regions(&state.read_db, organization_id).await?;
    Ok(convert::fleet_summary(&counts, regions, state.stale_after))
}
