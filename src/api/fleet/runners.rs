//! ListFleetRunners: the organization's runners as a console lists them.

use super::summary::view;
use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{convert, keyset_page};
use crate::auth::{Principal, access};
use crate::base::error::Result;
use crate::protocol::proto::gitpod::v1 as gitpod;
use crate::protocol::proto::paddock::v1 as pb;
use crate::store::fleet::{self, Drift, FleetFilter, Search, State};
use crate::store::runners;

pub(super) const MAX_FILTER_VALUES: usize = 25;
pub(super) const MAX_SEARCH: usize = 128;

pub(super) fn state_from(s: pb::FleetState) -> Option<State> {
    Some(match s {
        pb::FleetState::Unspecified => return None,
        pb::FleetState::NeverConnected => State::NeverConnected,
        pb::FleetState::Active => State::Active,
        pb::FleetState::Degraded => State::Degraded,
        pb::FleetState::Inactive => State::Inactive,
        pb::FleetState::Stale => State::Stale,
        pb::FleetState::Deleting => State::Deleting,
    })
}

/// The request's filter, checked field by field.
pub(super) fn fleet_filter(filter: pb::FleetFilter, v: &mut Violations) -> FleetFilter {
    let mut out = FleetFilter::default();
    if v.max_items("filter.states", &filter.states, 6) {
        for (i, s) in filter.states.iter().enumerate() {
            match pb::FleetState::try_from(*s).ok().and_then(state_from) {
                Some(state) => out.states.push(state),
                None => v.add(
                    format!("filter.states[{i}]"),
                    "value must be one of the defined enum values, not FLEET_STATE_UNSPECIFIED",
                ),
            }
        }
    }
    v.defined_enums::<gitpod::RunnerProvider>("filter.providers", &filter.providers, MAX_FILTER_VALUES);
    out.providers = filter.providers;
    if v.max_items("filter.regions", &filter.regions, MAX_FILTER_VALUES) {
        for (i, region) in filter.regions.iter().enumerate() {
            v.length(&format!("filter.regions[{i}]"), region, 1, 64);
        }
        out.regions = filter.regions;
    }
    out.drift = match pb::VersionDrift::try_from(filter.drift) {
        Ok(pb::VersionDrift::Unspecified) => None,
        Ok(pb::VersionDrift::UpToDate) => Some(Drift::UpToDate),
        Ok(pb::VersionDrift::Outdated) => Some(Drift::Outdated),
        Ok(pb::VersionDrift::Unknown) => Some(Drift::Unknown),
        Err(_) => {
            v.add("filter.drift", "value must be one of the defined enum values");
            None
        }
    };
    let search = filter.search.trim();
    v.length("filter.search", &filter.search, 0, MAX_SEARCH);
    v.storable("filter.search", &filter.search);
    if !search.is_empty() {
        out.search = Some(match uuid::Uuid::try_parse(search) {
            Ok(id) => Search::Id(id),
            Err(_) => Search::NameContains(search.to_owned()),
        });
    }
    out.canonical()
}

pub(super) async fn list(
    state: &AppState,
    caller: Principal,
    req: pb::ListFleetRunnersRequest,
) -> Result<pb::ListFleetRunnersResponse> {
    let mut v = Violations::new();
    crate::api::check_page_size(&mut v, req.pagination.as_ref());
    let filter = fleet_filter(req.filter.unwrap_or_default(), &mut v);
    v.finish(())?;
    let organization_id = access::see_fleet(&caller)?;
    let view = view(state, organization_id);
    let (rows, pagination) = keyset_page(
        &state.secrets,
        "fleet-runners",
        &filter,
        req.pagination,
        |r: &runners::Runner| r.id,
        |page| fleet::list(&state.read_db, &view, &filter, page),
    )
    .await?;
    let runners = rows
        .into_iter()
        .map(|r| {
            // this replica's newer lease, not yet written, is the latest
            let last_lease = match (r.lease_renewed_at, state.leases.pending(r.id)) {
                (Some(written), Some(held)) => Some(written.max(held)),
                (written, held) => written.or(held),
            };
            convert::fleet_runner(r, &view, last_lease)
        })
        .collect();
    Ok(pb::ListFleetRunnersResponse { pagination, runners })
}
