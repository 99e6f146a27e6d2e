//! What a runner reads of its own configuration: environment classes, SCM
//! integrations, host tokens (sealed to its key).

use super::itself::{itself, itself_and, public_key};
use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{RunnerCaller, check_page_size, convert, keyset_page};
use crate::base::capability::Managed;
use crate::base::error::{Error, Result};
use crate::base::secrets::{purpose, seal_to};
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::environment_classes::{self, EnvironmentClassFilter};
use crate::store::interaction;
use crate::store::query::RunnerScope;
use crate::store::runners::Itself;
use crate::store::{host_tokens, scm_integrations};
use chrono::Utc;

/// The scope of the runner's own lists.
pub(super) fn own_scope(runner: &Managed<Itself>) -> RunnerScope {
    let me = &runner.get().0;
    RunnerScope {
        organization_id: me.organization_id,
        only_runner: Some(me.id),
        runner_ids: Vec::new(),
    }
}

pub(super) async fn list_environment_classes(
    state: &AppState,
    caller: RunnerCaller,
    req: pb::ListRunnerEnvironmentClassesRequest,
) -> Result<pb::ListRunnerEnvironmentClassesResponse> {
    let mut v = Violations::new();
    check_page_size(&mut v, req.pagination.as_ref());
    let runner = itself(state, &caller, v, &req.runner_id).await?;
    let filter = EnvironmentClassFilter {
        scope: own_scope(&runner),
        ..Default::default()
    };
    let (rows, pagination) = keyset_page(
        &state.secrets,
        "runner_environment_classes",
        &filter,
        req.pagination,
        |c: &environment_classes::EnvironmentClass| c.id,
        |page| environment_classes::list(&state.read_db, &filter, page),
    )
    .await?;
    Ok(pb::ListRunnerEnvironmentClassesResponse {
        pagination,
        environment_classes: rows.into_iter().map(convert::environment_class).collect(),
    })
}

pub(super) async fn list_scm_integrations(
    state: &AppState,
    caller: RunnerCaller,
    req: pb::ListRunnerScmIntegrationsRequest,
) -> Result<pb::ListRunnerScmIntegrationsResponse> {
    let mut v = Violations::new();
    check_page_size(&mut v, req.pagination.as_ref());
    let runner = itself(state, &caller, v, &req.runner_id).await?;
    let key = public_key(&runner)?;
    let scope = own_scope(&runner);
    let (rows, pagination) = keyset_page(
        &state.secrets,
        "runner_scm_integrations",
        &scope,
        req.pagination,
        |i: &scm_integrations::ScmIntegration| i.id,
        |page| scm_integrations::list(&state.read_db, &scope, page),
    )
    .await?;
    let mut integrations = Vec::with_capacity(rows.len());
    for row in rows {
        // the client secret leaves sealed to the runner, never to paddock's key
        let secret = row
            .oauth_client_secret_encrypted
            .as_deref()
            .map(|sealed| state.secrets.open(purpose::SCM_CLIENT_SECRET, sealed))
            .transpose()?
            .map(|plain| seal_to(key, &plain))
            .transpose()?;
        let mut integration = convert::scm_integration(row);
        if let Some(oauth) = integration.oauth.as_mut() {
            oauth.encrypted_client_secret = secret.unwrap_or_default();
        }
        integrations.push(integration);
    }
    Ok(pb::ListRunnerScmIntegrationsResponse {
        pagination,
        integrations,
    })
}

pub(super) async fn get_host_authentication_token_value(
    state: &AppState,
    caller: RunnerCaller,
    req: pb::GetHostAuthenticationTokenValueRequest,
) -> Result<pb::GetHostAuthenticationTokenValueResponse> {
    let mut v = Violations::new();
    let principal_id = v.uuid("principal_id", &req.principal_id);
    v.length("host", &req.host, 1, 253);
    v.storable("host", &req.host);
    let (runner, principal_id) = itself_and(state, &caller, v, &req.runner_id, principal_id).await?;
    let key = public_key(&runner)?;
    let host = req.host.trim().to_ascii_lowercase();
    let token = host_tokens::live_for(&state.db, runner.get().0.id, principal_id, &host, Utc::now())
        .await?
        .ok_or_else(|| Error::NotFound("no live host authentication token for this principal and host".into()))?;
    let value = state.secrets.open(purpose::HOST_TOKEN, &token.token_encrypted)?;
    let refresh = token
        .refresh_token_encrypted
        .as_deref()
        .map(|sealed| state.secrets.open(purpose::HOST_TOKEN_REFRESH, sealed))
        .transpose()?;
    let value = seal_to(key, &value)?;
    let refresh_token = refresh.map(|r| seal_to(key, &r)).transpose()?.unwrap_or_default();
    // sealed and ready: only now is the value handed out
    interaction::record_token_handout(&state.db, &runner, token.id).await?;
    Ok(pb::GetHostAuthenticationTokenValueResponse {
        token_id: token.id.to_string(),
        value,
        refresh_token,
        expires_at: token.expires_at.map(convert::timestamp),
        source: token.source,
    })
}
