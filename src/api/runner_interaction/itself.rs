//! The runner about itself: sign-up, its lease, its status, the release it
//! should run, its configuration schema.

use crate::api::RunnerCaller;
use crate::api::state::AppState;
use crate::api::validate::{CheckedValues, Violations};
use crate::auth::access;
use crate::base::capability::Managed;
use crate::base::error::{Error, Result};
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::environment_classes::NewEnvironmentClass;
use crate::store::interaction::{self, StatusReport};
use crate::store::runners::{GatewayInfo, Itself, phase};
use chrono::{Timelike, Utc};
use prost::Message;

/// The runner's own id in the request (`runner_id`, checked with the rest of
/// the request's rules in `v`), as a capability.
pub(super) async fn itself(
    state: &AppState,
    caller: &RunnerCaller,
    v: Violations,
    runner_id: &str,
) -> Result<Managed<Itself>> {
    Ok(itself_and(state, caller, v, runner_id, ()).await?.0)
}

/// `itself`, also handing back the request's other checked values.
pub(super) async fn itself_and<C: CheckedValues>(
    state: &AppState,
    caller: &RunnerCaller,
    mut v: Violations,
    runner_id: &str,
    checked: C,
) -> Result<(Managed<Itself>, C::Values)> {
    let id = v.uuid("runner_id", runner_id);
    let (id, values) = v.finish((id, checked))?;
    // the read pool: a lease never queues behind SQLite's one writer
    let known = caller.known.as_ref().map(|k| k.0.as_ref());
    Ok((
        access::runner_itself(&state.read_db, &caller.principal, id, known).await?,
        values,
    ))
}

/// The runner's public key, for sealing; FAILED_PRECONDITION before Signup.
pub(super) fn public_key(runner: &Managed<Itself>) -> Result<&[u8]> {
    runner
        .get()
        .0
        .public_key
        .as_deref()
        .ok_or_else(|| Error::FailedPrecondition("the runner has not signed up (Signup) with a public key".into()))
}

pub(super) fn require_signed_up(runner: &Managed<Itself>) -> Result<()> {
    public_key(runner).map(|_| ())
}

pub(super) async fn signup(
    state: &AppState,
    caller: RunnerCaller,
    req: pb::SignupRequest,
) -> Result<pb::SignupResponse> {
    let mut v = Violations::new();
    if req.public_key.len() != 32 {
        v.add("public_key", "value must be a 32-byte X25519 public key");
    }
    v.max_items("environment_classes", &req.environment_classes, 100);
    for (i, class) in req.environment_classes.iter().enumerate() {
        let field = |name: &str| format!("environment_classes[{i}].{name}");
        v.length(&field("display_name"), &class.display_name, 3, 127);
        v.length(&field("description"), &class.description, 3, 200);
        v.storable(&field("display_name"), &class.display_name);
        v.storable(&field("description"), &class.description);
        for entry in &class.configuration {
            v.storable(&field("configuration"), &entry.key);
            v.storable(&field("configuration"), &entry.value);
        }
    }
    // a runner signs up as itself: its id comes from its token
    let Some(own_id) = caller.principal.own_runner().map(|id| id.to_string()) else {
        v.finish(())?;
        return Err(Error::PermissionDenied(
            "only a runner's own access token may sign up".into(),
        ));
    };
    let runner = itself(state, &caller, v, &own_id).await?;
    let classes = req
        .environment_classes
        .into_iter()
        .map(|c| NewEnvironmentClass {
            display_name: c.display_name,
            description: c.description,
            configuration: c.configuration.into_iter().map(|f| (f.key, f.value)).collect(),
        })
        .collect();
    interaction::signup(&state.db, &runner, &req.public_key, classes).await?;
    Ok(pb::SignupResponse { runner_id: own_id })
}

pub(super) async fn mark_runner_active(
    state: &AppState,
    caller: RunnerCaller,
    req: pb::MarkRunnerActiveRequest,
) -> Result<pb::MarkRunnerActiveResponse> {
    let runner = itself(state, &caller, Violations::new(), &req.runner_id).await?;
    require_signed_up(&runner)?;
    let now = Utc::now();
    let me = &runner.get().0;
    let mut current_phase = me.phase;
    if me.phase == phase::INACTIVE {
        // back from the dead: say so at once, on every replica
        interaction::renew_lease(&state.db, &runner, now).await?;
        current_phase = phase::ACTIVE;
    } else {
        state.leases.record(me.id, now);
    }
    if let Some(metrics) = crate::base::metrics::get() {
        metrics.heartbeats.inc();
    }
    Ok(pb::MarkRunnerActiveResponse {
        desired_phase: me.desired_phase,
        deleting: me.phase == phase::DELETING,
        phase: current_phase,
        lease_duration: Some(prost_types::Duration {
            seconds: state.runner_lease.as_secs() as i64,
            nanos: state.runner_lease.subsec_nanos() as i32,
        }),
    })
}

pub(super) async fn update_runner_status(
    state: &AppState,
    caller: RunnerCaller,
    req: pb::UpdateRunnerStatusRequest,
) -> Result<pb::UpdateRunnerStatusResponse> {
    let mut v = Violations::new();
    for (field, value) in [
        ("version", &req.version),
        ("system_details", &req.system_details),
        ("region", &req.region),
        ("log_url", &req.log_url),
        ("message", &req.message),
    ] {
        if let Some(value) = value {
            v.storable(field, value);
        }
    }
    for (i, capability) in req.capabilities.iter().enumerate() {
        v.defined_enum::<pb::RunnerCapability>(&format!("capabilities[{i}]"), *capability);
    }
    for (i, info) in req.additional_info.iter().enumerate() {
        v.storable(&format!("additional_info[{i}].key"), &info.key);
        v.storable(&format!("additional_info[{i}].value"), &info.value);
    }
    // a runner reports how it is, or that it is gone; the rest is paddock's to say
    let deleted = req.phase == Some(phase::DELETED);
    if let Some(reported) = req.phase
        && ![phase::ACTIVE, phase::DEGRADED, phase::DELETED].contains(&reported)
    {
        v.add(
            "phase",
            "a runner reports RUNNER_PHASE_ACTIVE, RUNNER_PHASE_DEGRADED or RUNNER_PHASE_DELETED",
        );
    }
    let runner = itself(state, &caller, v, &req.runner_id).await?;
    // a runner being deleted may confirm it even without a key (e.g. after
    // trading a new token it never signed up with)
    if !deleted {
        require_signed_up(&runner)?;
    }
    if deleted {
        let runner_id = runner.get().0.id;
        interaction::confirm_deleted(&state.db, runner).await?;
        state.token_cache.forget_runner(runner_id);
        return Ok(pb::UpdateRunnerStatusResponse {});
    }
    let gateway_info = req.gateway_info.map(|g| {
        let gateway = g.gateway.unwrap_or_default();
        GatewayInfo {
            name: gateway.name,
            url: gateway.url,
            region: gateway.region,
            latency_ms: g.latency.map(|d| d.seconds * 1000 + i64::from(d.nanos) / 1_000_000),
        }
    });
    let report = StatusReport {
        version: req.version,
        system_details: req.system_details,
        region: req.region,
        log_url: req.log_url,
        message: req.message,
        capabilities: (!req.capabilities.is_empty()).then_some(req.capabilities),
        additional_info: (!req.additional_info.is_empty())
            .then(|| req.additional_info.into_iter().map(|f| (f.key, f.value)).collect()),
        gateway_info,
        phase: req.phase,
    };
    interaction::report_status(&state.db, &runner, report).await?;
    Ok(pb::UpdateRunnerStatusResponse {})
}

/// Whether `hour` (UTC) lies in the window [start, end), which may wrap
/// midnight; no window is always.
pub(super) fn in_update_window(hour: i32, start: Option<i32>, end: Option<i32>) -> bool {
    match (start, end) {
        (Some(start), Some(end)) if start < end => (start..end).contains(&hour),
        (Some(start), Some(end)) if start > end => hour >= start || hour < end,
        _ => true,
    }
}

pub(super) async fn get_latest_version(
    state: &AppState,
    caller: RunnerCaller,
    req: pb::GetLatestVersionRequest,
) -> Result<pb::GetLatestVersionResponse> {
    let mut v = Violations::new();
    v.storable("current_version", &req.current_version);
    v.storable("infrastructure_version", &req.infrastructure_version);
    let runner = itself(state, &caller, v, &req.runner_id).await?;
    let me = &runner.get().0;
    // an unspecified channel follows stable
    let channel = if me.release_channel == pb::RunnerReleaseChannel::Unspecified as i32 {
        pb::RunnerReleaseChannel::Stable as i32
    } else {
        me.release_channel
    };
    let Some(release) = state.runner_releases.get(&channel) else {
        return Ok(pb::GetLatestVersionResponse {
            release_channel: channel,
            ..Default::default()
        });
    };
    let hour = Utc::now().hour() as i32;
    let auto_update = me.auto_update
        && release.version != req.current_version
        && in_update_window(hour, me.update_window_start_hour, me.update_window_end_hour);
    Ok(pb::GetLatestVersionResponse {
        version: release.version.clone(),
        auto_update,
        runner_image: release.image.clone(),
        release_channel: channel,
    })
}

pub(super) async fn update_runner_configuration_schema(
    state: &AppState,
    caller: RunnerCaller,
    req: pb::UpdateRunnerConfigurationSchemaRequest,
) -> Result<pb::UpdateRunnerConfigurationSchemaResponse> {
    let mut v = Violations::new();
    if req.config_schema.is_none() {
        v.add("config_schema", "value is required");
    }
    let runner = itself(state, &caller, v, &req.runner_id).await?;
    let schema = req.config_schema.unwrap_or_default();
    interaction::publish_schema(&state.db, &runner, schema.encode_to_vec()).await?;
    Ok(pb::UpdateRunnerConfigurationSchemaResponse {})
}

#[cfg(test)]
mod tests {
    use super::in_update_window;

    #[test]
    fn update_windows_may_wrap_midnight() {
        assert!(in_update_window(3, Some(2), Some(5)));
        assert!(!in_update_window(5, Some(2), Some(5)));
        assert!(in_update_window(23, Some(22), Some(4)));
        assert!(in_update_window(1, Some(22), Some(4)));
        assert!(!in_update_window(12, Some(22), Some(4)));
        assert!(in_update_window(12, None, None));
        assert!(in_update_window(12, Some(7), Some(7)));
    }
}
