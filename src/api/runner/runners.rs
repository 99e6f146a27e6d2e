//! Runners: create, read, list, update, delete, and their exchange tokens.

use chrono::{Duration, Utc};

use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{convert, keyset_page, require_uuid};
use crate::auth::{Principal, access, tokens};
use crate::base::error::{Error, Result};
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::runners;

/// How long an exchange token may wait to be traded (per the reference).
const EXCHANGE_TOKEN_TTL: Duration = Duration::hours(24);

/// Column-level purposes of sealed values (see `Secrets::seal`).
use crate::base::secrets::purpose::{
    RUNNER_HONEYCOMB_KEY as HONEYCOMB_KEY, RUNNER_METRICS_PASSWORD as METRICS_PASSWORD,
};

/// A secret sealed for its column; an empty one is no secret.
fn seal(state: &AppState, purpose: &str, secret: &str) -> Result<Option<Vec<u8>>> {
    if secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(state.secrets.seal(purpose, secret.as_bytes())?))
}

fn mint_exchange_token() -> Result<(tokens::NewToken, chrono::DateTime<Utc>)> {
    Ok((
        tokens::generate(tokens::TokenKind::RunnerExchange)?,
        Utc::now() + EXCHANGE_TOKEN_TTL,
    ))
}

/// A runner's kind follows from its provider when the caller leaves it unset.
fn kind_for(provider: pb::RunnerProvider) -> pb::RunnerKind {
    use pb::RunnerProvider as P;
    match provider {
        P::AwsEc2 | P::Gcp | P::Managed => pb::RunnerKind::Remote,
        P::LinuxHost | P::DesktopMac | P::DevAgent => pb::RunnerKind::Local,
        P::Unspecified => pb::RunnerKind::Unspecified,
    }
}

pub(super) fn require_not_deleting(runner: &runners::Runner) -> Result<()> {
    if runner.phase == runners::phase::DELETING {
        return Err(Error::FailedPrecondition("the runner is being deleted".into()));
    }
    Ok(())
}

/// Hours of a day (UTC) bound an update window: 0 to 23.
fn check_update_window(v: &mut Violations, window: Option<&pb::UpdateWindow>) -> Option<runners::UpdateWindow> {
    let window = window?;
    let mut hour = |field: &str, value: Option<u32>| {
        let value = value?;
        v.range(&format!("spec.configuration.update_window.{field}"), value, 0, 23);
        i32::try_from(value).ok()
    };
    Some(runners::UpdateWindow {
        start_hour: hour("start_hour", window.start_hour),
        end_hour: hour("end_hour", window.end_hour),
    })
}

pub(super) async fn create(
    state: &AppState,
    caller: Principal,
    req: pb::CreateRunnerRequest,
) -> Result<pb::CreateRunnerResponse> {
    let spec = req.spec.unwrap_or_default();
    let c = spec.configuration.unwrap_or_default();
    let metrics = c.metrics.unwrap_or_default();
    let mut v = Violations::new();
    v.length("name", &req.name, 3, 127);
    v.defined_enum::<pb::RunnerKind>("kind", req.kind);
    v.defined_enum::<pb::RunnerProvider>("provider", req.provider);
    let runner_manager_id = v.optional_uuid("runner_manager_id", &req.runner_manager_id);
    v.storable("name", &req.name);
    v.storable("spec.configuration.region", &c.region);
    v.storable("spec.configuration.metrics.url", &metrics.url);
    v.storable("spec.configuration.metrics.username", &metrics.username);
    let update_window = check_update_window(&mut v, c.update_window.as_ref()).unwrap_or_default();
    v.finish(())?;
    let owner = access::create_runner(&caller)?;

    let provider = pb::RunnerProvider::try_from(req.provider).unwrap_or_default();
    let kind = if req.kind == pb::RunnerKind::Unspecified as i32 {
        kind_for(provider) as i32
    } else {
        req.kind
    };
    let configuration = runners::Configuration {
        region: c.region,
        release_channel: c.release_channel,
        auto_update: c.auto_update,
        metrics: runners::Metrics {
            enabled: metrics.enabled,
            url: metrics.url,
            username: metrics.username,
            password_encrypted: seal(state, METRICS_PASSWORD, &metrics.password)?,
            managed_enabled: metrics.managed_metrics_enabled,
            include_verbose: metrics.include_verbose_metrics,
        },
        log_level: c.log_level,
        devcontainer_image_cache_enabled: c.devcontainer_image_cache_enabled,
        update_window,
        // Only the server can seal a key; a ciphertext sent by a client is
        // meaningless here. The key is set through UpdateRunner.
        honeycomb_api_key_encrypted: None,
        continuous_profiling: c.continuous_profiling,
    };
    let new = runners::NewRunner {
        name: req.name,
        kind,
        provider: req.provider,
        runner_manager_id,
        desired_phase: spec.desired_phase,
        variant: spec.variant,
        configuration,
    };
    let (exchange, expires_at) = mint_exchange_token()?;
    let runner = runners::create(&state.db, &owner, new, exchange.hash, expires_at).await?;
    Ok(pb::CreateRunnerResponse {
        runner: Some(convert::runner(runner)),
        exchange_token: exchange.plaintext,
        // the deprecated access_token stays empty: runners exchange instead
        ..Default::default()
    })
}

pub(super) async fn get(
    state: &AppState,
    caller: Principal,
    req: pb::GetRunnerRequest,
) -> Result<pb::GetRunnerResponse> {
    let runner_id = require_uuid("runner_id", &req.runner_id)?;
    let runner = access::see_runner(&state.read_db, &caller, runner_id).await?;
    Ok(pb::GetRunnerResponse {
        runner: Some(convert::runner(runner.into_inner())),
    })
}

pub(super) async fn list(
    state: &AppState,
    caller: Principal,
    req: pb::ListRunnersRequest,
) -> Result<pb::ListRunnersResponse> {
    let filter = req.filter.unwrap_or_default();
    let mut v = Violations::new();
    v.page_size(
        "pagination.page_size",
        req.pagination.as_ref().map_or(0, |p| p.page_size),
    );
    let creator_ids = v.id_filter("filter.creator_ids", &filter.creator_ids);
    v.defined_enums::<pb::RunnerKind>("filter.kinds", &filter.kinds, 25);
    v.defined_enums::<pb::RunnerProvider>("filter.providers", &filter.providers, 25);
    v.finish(())?;

    let mut store_filter = runners::RunnerFilter {
        organization_id: caller.organization_id(),
        only: caller.own_runner(),
        creator_ids,
        kinds: filter.kinds,
        providers: filter.providers,
    };
    // Canonical filter order: a token continues the same listing however
    // the client ordered its filter values.
    store_filter.creator_ids.dedup();
    store_filter.kinds.sort_unstable();
    store_filter.kinds.dedup();
    store_filter.providers.sort_unstable();
    store_filter.providers.dedup();
    let (rows, pagination) = keyset_page(
        &state.secrets,
        "runners",
        &store_filter,
        req.pagination,
        |r: &runners::Runner| r.id,
        |page| runners::list(&state.read_db, &store_filter, page),
    )
    .await?;
    Ok(pb::ListRunnersResponse {
        pagination,
        runners: rows.into_iter().map(convert::runner).collect(),
    })
}

pub(super) async fn update(
    state: &AppState,
    caller: Principal,
    req: pb::UpdateRunnerRequest,
) -> Result<pb::UpdateRunnerResponse> {
    let configuration = req.spec.as_ref().and_then(|s| s.configuration.as_ref());
    let mut v = Violations::new();
    let runner_id = v.uuid("runner_id", &req.runner_id);
    if let Some(name) = &req.name {
        v.length("name", name, 3, 127);
        v.storable("name", name);
    }
    if let Some(m) = configuration.and_then(|c| c.metrics.as_ref()) {
        v.storable("spec.configuration.metrics.url", m.url.as_deref().unwrap_or_default());
        v.storable(
            "spec.configuration.metrics.username",
            m.username.as_deref().unwrap_or_default(),
        );
    }
    let update_window = check_update_window(&mut v, configuration.and_then(|c| c.update_window.as_ref()));
    let runner_id = v.finish(runner_id)?;
    let runner = access::manage_runner(&state.db, &caller, runner_id).await?;
    require_not_deleting(runner.get())?;

    let mut changes = runners::RunnerChanges {
        name: req.name,
        update_window,
        ..Default::default()
    };
    if let Some(spec) = req.spec {
        changes.desired_phase = spec.desired_phase;
        if let Some(c) = spec.configuration {
            changes.release_channel = c.release_channel;
            changes.auto_update = c.auto_update;
            changes.log_level = c.log_level;
            changes.devcontainer_image_cache_enabled = c.devcontainer_image_cache_enabled;
            changes.continuous_profiling = c.continuous_profiling;
            if let Some(key) = c.honeycomb_api_key {
                changes.honeycomb_api_key_encrypted = Some(seal(state, HONEYCOMB_KEY, &key)?);
            }
            if let Some(m) = c.metrics {
                changes.metrics_enabled = m.enabled;
                changes.metrics_url = m.url;
                changes.metrics_username = m.username;
                changes.metrics_managed_enabled = m.managed_metrics_enabled;
                changes.metrics_include_verbose = m.include_verbose_metrics;
                if let Some(password) = m.password {
                    changes.metrics_password_encrypted = Some(seal(state, METRICS_PASSWORD, &password)?);
                }
            }
        }
    }
    runners::update(&state.db, &runner, changes).await?;
    Ok(pb::UpdateRunnerResponse {})
}

pub(super) async fn delete(
    state: &AppState,
    caller: Principal,
    req: pb::DeleteRunnerRequest,
) -> Result<pb::DeleteRunnerResponse> {
    let runner_id = require_uuid("runner_id", &req.runner_id)?;
    delete_one(state, &caller, runner_id, req.force).await?;
    Ok(pb::DeleteRunnerResponse {})
}

/// Deletes a runner the caller manages (DeleteRunner, and each runner of
/// paddock.v1.FleetService.DeleteRunners).
pub(crate) async fn delete_one(state: &AppState, caller: &Principal, runner_id: uuid::Uuid, force: bool) -> Result<()> {
    let runner = access::manage_runner(&state.db, caller, runner_id).await?;
    if runners::delete(&state.db, runner, force).await? == runners::Deletion::Removed {
        // its tokens stop working here at once (other replicas: within the cache's TTL)
        state.token_cache.forget_runner(runner_id);
    }
    Ok(())
}

pub(super) async fn create_token(
    state: &AppState,
    caller: Principal,
    req: pb::CreateRunnerTokenRequest,
) -> Result<pb::CreateRunnerTokenResponse> {
    let runner_id = require_uuid("runner_id", &req.runner_id)?;
    let runner = access::manage_runner(&state.db, &caller, runner_id).await?;
    require_not_deleting(runner.get())?;
    let (exchange, expires_at) = mint_exchange_token()?;
    runners::add_exchange_token(&state.db, &runner, exchange.hash, expires_at).await?;
    Ok(pb::CreateRunnerTokenResponse {
        exchange_token: exchange.plaintext,
        ..Default::default()
    })
}

/// A token valid one hour whose only use is reading the runner's logs: a
/// JWT with the runner as its audience, which the runner's log endpoint
/// verifies offline against paddock's JWKS. For those who manage the runner.
pub(super) async fn create_logs_token(
    state: &AppState,
    caller: Principal,
    req: pb::CreateRunnerLogsTokenRequest,
) -> Result<pb::CreateRunnerLogsTokenResponse> {
    let runner_id = require_uuid("runner_id", &req.runner_id)?;
    let runner = access::manage_runner(&state.db, &caller, runner_id).await?;
    let access_token = state.signing.logs_token(
        &crate::api::identity::subject(&caller),
        runner.get().organization_id,
        runner_id,
    )?;
    runners::record_logs_token(&state.db, &runner).await?;
    Ok(pb::CreateRunnerLogsTokenResponse { access_token })
}
