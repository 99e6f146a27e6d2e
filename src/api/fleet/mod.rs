//! paddock.v1.FleetService: the organization's fleet at a glance (counts by
//! state, stale and outdated runners) and deleting many runners in one call —
//! by the ids named, each checked and deleted as DeleteRunner would, never
//! "all of them" by omission.

use chrono::Utc;

use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{convert, keyset_page, service};
use crate::auth::{Principal, access};
use crate::base::error::{Error, Result};
use crate::protocol::proto::gitpod::v1 as gitpod;
use crate::protocol::proto::paddock::v1 as pb;
use crate::store::fleet::{self, Drift, FleetFilter, FleetView, Search, State};
use crate::store::runners::{self, phase};

service! {
    package paddock::v1;
    FleetApi: crate::protocol::proto::paddock::v1::fleet_service_server::FleetService {
        get_fleet_summary(GetFleetSummaryRequest) -> GetFleetSummaryResponse = summary;
        delete_runners(DeleteRunnersRequest) -> DeleteRunnersResponse = delete_runners;
        revoke_runner_credentials(RevokeRunnerCredentialsRequest) -> RevokeRunnerCredentialsResponse = revoke_credentials;
        list_fleet_runners(ListFleetRunnersRequest) -> ListFleetRunnersResponse = list;
    }
}

/// The most runners one DeleteRunners or RevokeRunnerCredentials call names
/// (a console's page).
const MAX_DELETIONS: usize = 100;

/// The organization seen with this server's --stale-after and releases.
fn view(state: &AppState, organization_id: uuid::Uuid) -> FleetView {
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

async fn summary(
    state: &AppState,
    caller: Principal,
    _req: pb::GetFleetSummaryRequest,
) -> Result<pb::GetFleetSummaryResponse> {
    let organization_id = access::see_fleet(&caller)?;
    let view = view(state, organization_id);
    let counts = fleet::counts(&state.read_db, &view).await?;
    let regions = fleet::regions(&state.read_db, organization_id).await?;
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
        regions,
    })
}

const MAX_FILTER_VALUES: usize = 25;
const MAX_SEARCH: usize = 128;

fn state_from(s: pb::FleetState) -> Option<State> {
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

fn state_to(s: State) -> pb::FleetState {
    match s {
        State::NeverConnected => pb::FleetState::NeverConnected,
        State::Active => pb::FleetState::Active,
        State::Degraded => pb::FleetState::Degraded,
        State::Inactive => pb::FleetState::Inactive,
        State::Stale => pb::FleetState::Stale,
        State::Deleting => pb::FleetState::Deleting,
    }
}

fn drift_to(d: Drift) -> pb::VersionDrift {
    match d {
        Drift::UpToDate => pb::VersionDrift::UpToDate,
        Drift::Outdated => pb::VersionDrift::Outdated,
        Drift::Unknown => pb::VersionDrift::Unknown,
    }
}

/// The request's filter, checked field by field.
fn fleet_filter(filter: pb::FleetFilter, v: &mut Violations) -> FleetFilter {
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

async fn list(
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
            pb::FleetRunner {
                state: state_to(view.state_of(&r)) as i32,
                last_lease_at: last_lease.map(convert::timestamp),
                inactive_since: r.inactive_since.map(convert::timestamp),
                drift: drift_to(view.drift_of(&r)) as i32,
                release_version: view.release_of(&r).unwrap_or_default().to_owned(),
                region: fleet::region_of(&r).to_owned(),
                runner: Some(convert::runner(r)),
            }
        })
        .collect();
    Ok(pb::ListFleetRunnersResponse { pagination, runners })
}

/// `runner_ids`: 1 to 100 distinct UUIDs.
fn requested_ids(ids: &[String], what: &str) -> Result<Vec<uuid::Uuid>> {
    let mut v = Violations::new();
    if ids.is_empty() {
        v.add(
            "runner_ids",
            format!("value must contain at least 1 item(s): name the runners to {what}"),
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

/// Runs `act` on each runner named, one after another and each on its own:
/// what became of each, as a google.rpc code number and message, in order.
/// Runners act on no runner.
async fn each_runner<T: Default, Fut: std::future::Future<Output = Result<T>>>(
    caller: &Principal,
    ids: Vec<uuid::Uuid>,
    act: impl Fn(uuid::Uuid) -> Fut,
) -> Result<Vec<(uuid::Uuid, i32, String, T)>> {
    if let Principal::Runner { .. } = caller {
        return Err(Error::PermissionDenied("runners do not act on other runners".into()));
    }
    let mut outcomes = Vec::with_capacity(ids.len());
    for runner_id in ids {
        outcomes.push(match act(runner_id).await {
            Ok(done) => (runner_id, tonic::Code::Ok as i32, String::new(), done),
            Err(error) => {
                let status = tonic::Status::from(error);
                (
                    runner_id,
                    status.code() as i32,
                    status.message().to_owned(),
                    T::default(),
                )
            }
        });
    }
    Ok(outcomes)
}

/// Each runner named is deleted or refused on its own, in order; the caller
/// must manage each (as for DeleteRunner) — one they may not see is
/// NOT_FOUND for them, as it would be alone.
async fn delete_runners(
    state: &AppState,
    caller: Principal,
    req: pb::DeleteRunnersRequest,
) -> Result<pb::DeleteRunnersResponse> {
    let ids = requested_ids(&req.runner_ids, "delete")?;
    let caller = &caller;
    let outcomes = each_runner(caller, ids, |runner_id| async move {
        crate::api::runner::delete_one(state, caller, runner_id, req.force).await
    })
    .await?;
    Ok(pb::DeleteRunnersResponse {
        deletions: outcomes
            .into_iter()
            .map(|(runner_id, code, message, ())| pb::RunnerDeletion {
                runner_id: runner_id.to_string(),
                code,
                message,
            })
            .collect(),
    })
}

/// Each runner's working credentials revoked, runner by runner, as
/// RevokeRunnerToken would each (the caller must manage the runner).
async fn revoke_credentials(
    state: &AppState,
    caller: Principal,
    req: pb::RevokeRunnerCredentialsRequest,
) -> Result<pb::RevokeRunnerCredentialsResponse> {
    let ids = requested_ids(&req.runner_ids, "revoke the credentials of")?;
    let caller = &caller;
    let outcomes = each_runner(caller, ids, |runner_id| async move {
        let runner = access::manage_runner(&state.db, caller, runner_id).await?;
        let revoked = crate::store::runner_tokens::revoke_all(&state.db, &runner).await?;
        // they stop working here at once (other replicas: within the cache's TTL)
        state.token_cache.forget_runner(runner_id);
        Ok(i32::try_from(revoked).unwrap_or(i32::MAX))
    })
    .await?;
    Ok(pb::RevokeRunnerCredentialsResponse {
        revocations: outcomes
            .into_iter()
            .map(|(runner_id, code, message, revoked)| pb::RunnerRevocation {
                runner_id: runner_id.to_string(),
                code,
                message,
                revoked,
            })
            .collect(),
    })
}
