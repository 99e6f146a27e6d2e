//! SCM integrations: Create, Get, List, Update, Delete. OAuth client secrets
//! are sealed before they are stored and only ever leave sealed.

use super::owned;
use super::schema::of_runner;
use crate::api::runner_configuration::schemas::{self, ScmIntegrationDraft, ScmProblems};
use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{convert, require_uuid};
use crate::auth::{Principal, access};
use crate::base::error::{Error, FieldViolation, Result};
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::scm_integrations::{self as store, ScmIntegrationChanges};

use crate::base::secrets::purpose::SCM_CLIENT_SECRET as CLIENT_SECRET;

fn into_violations(problems: ScmProblems, oauth_field: &str) -> Result<()> {
    let mut violations = Vec::new();
    for (field, problem) in [
        ("scm_id", problems.scm_id),
        ("host", problems.host),
        (oauth_field, problems.oauth),
        ("pat", problems.pat),
    ] {
        if let Some(description) = problem {
            violations.push(FieldViolation {
                field: field.into(),
                description,
            });
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidArgument(violations))
    }
}

fn nonempty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

pub(super) async fn create(
    state: &AppState,
    caller: Principal,
    req: pb::CreateScmIntegrationRequest,
) -> Result<pb::CreateScmIntegrationResponse> {
    let mut v = Violations::new();
    let runner_id = v.uuid("runner_id", &req.runner_id);
    for (field, value) in [
        ("host", Some(&req.host)),
        ("oauth_client_id", req.oauth_client_id.as_ref()),
        ("issuer_url", req.issuer_url.as_ref()),
        ("virtual_directory", req.virtual_directory.as_ref()),
    ] {
        v.storable(field, value.map(String::as_str).unwrap_or_default());
    }
    let runner_id = v.finish(runner_id)?;
    let runner = access::manage_runner(&state.db, &caller, runner_id).await?;
    let schema = of_runner(state, runner.get()).await?;
    let host = req.host.trim().to_ascii_lowercase();
    let secret = nonempty(req.oauth_plaintext_client_secret);
    let problems = schemas::check_scm_integration(
        &schema,
        &ScmIntegrationDraft {
            scm_id: &req.scm_id,
            host: &host,
            oauth_client_id: req.oauth_client_id.as_deref(),
            has_client_secret: secret.is_some(),
            issuer_url: req.issuer_url.as_deref(),
            pat: req.pat,
        },
    );
    into_violations(problems, "oauth_client_id")?;
    let sealed = secret
        .map(|s| state.secrets.seal(CLIENT_SECRET, s.as_bytes()))
        .transpose()?;
    let integration = store::create(
        &state.db,
        &runner,
        store::NewScmIntegration {
            scm_id: req.scm_id,
            host,
            oauth_client_id: nonempty(req.oauth_client_id),
            oauth_client_secret_encrypted: sealed,
            issuer_url: nonempty(req.issuer_url),
            pat: req.pat,
            virtual_directory: nonempty(req.virtual_directory),
        },
    )
    .await?;
    Ok(pb::CreateScmIntegrationResponse {
        id: integration.id.to_string(),
    })
}

const WHAT: &str = "SCM integration";

pub(super) async fn get(
    state: &AppState,
    caller: Principal,
    req: pb::GetScmIntegrationRequest,
) -> Result<pb::GetScmIntegrationResponse> {
    let integration = owned::get(state, &caller, ("id", &req.id), WHAT, |id| store::get(&state.db, id)).await?;
    Ok(pb::GetScmIntegrationResponse {
        integration: Some(convert::scm_integration(integration)),
    })
}

pub(super) async fn list(
    state: &AppState,
    caller: Principal,
    req: pb::ListScmIntegrationsRequest,
) -> Result<pb::ListScmIntegrationsResponse> {
    let filter = req.filter.unwrap_or_default();
    let (rows, pagination) = owned::list(
        state,
        &caller,
        "scm_integrations",
        (req.pagination, &filter.runner_ids),
        |i: &store::ScmIntegration| i.id,
        |scope, page| async move { store::list(&state.db, &scope, page).await },
    )
    .await?;
    Ok(pb::ListScmIntegrationsResponse {
        pagination,
        integrations: rows.into_iter().map(convert::scm_integration).collect(),
    })
}

pub(super) async fn update(
    state: &AppState,
    caller: Principal,
    req: pb::UpdateScmIntegrationRequest,
) -> Result<pb::UpdateScmIntegrationResponse> {
    let mut v = Violations::new();
    let id = v.uuid("id", &req.id);
    for (field, value) in [
        ("oauth_client_id", req.oauth_client_id.as_ref()),
        ("issuer_url", req.issuer_url.as_ref()),
        ("virtual_directory", req.virtual_directory.as_ref()),
    ] {
        v.storable(field, value.map(String::as_str).unwrap_or_default());
    }
    let id = v.finish(id)?;
    let (runner, current) = access::manage_owned(&state.db, &caller, store::get(&state.db, id).await?, WHAT).await?;

    // what the integration would become, checked like a new one
    let removes_oauth = req.oauth_client_id.as_deref() == Some("");
    let client_id = match &req.oauth_client_id {
        Some(id) => nonempty(Some(id.clone())),
        None => current.oauth_client_id.clone(),
    };
    let new_secret = nonempty(req.oauth_plaintext_client_secret.clone());
    let has_secret = !removes_oauth && (new_secret.is_some() || current.oauth_client_secret_encrypted.is_some());
    let issuer_url = match &req.issuer_url {
        Some(url) => nonempty(Some(url.clone())),
        None => current.issuer_url.clone(),
    };
    let schema = of_runner(state, runner.get()).await?;
    let problems = schemas::check_scm_integration(
        &schema,
        &ScmIntegrationDraft {
            scm_id: &current.scm_id,
            host: &current.host,
            oauth_client_id: client_id.as_deref(),
            has_client_secret: has_secret,
            issuer_url: issuer_url.as_deref(),
            pat: req.pat.unwrap_or(current.pat),
        },
    );
    into_violations(problems, "oauth_client_id")?;

    let mut changes = ScmIntegrationChanges {
        pat: req.pat,
        issuer_url: req.issuer_url.map(|u| nonempty(Some(u))),
        virtual_directory: req.virtual_directory.map(|d| nonempty(Some(d))),
        ..Default::default()
    };
    if removes_oauth {
        // an empty client id removes the OAuth setup altogether
        changes.oauth_client_id = Some(None);
        changes.oauth_client_secret_encrypted = Some(None);
        changes.issuer_url = Some(None);
    } else {
        changes.oauth_client_id = req.oauth_client_id.map(Some);
        if let Some(secret) = new_secret {
            changes.oauth_client_secret_encrypted = Some(Some(state.secrets.seal(CLIENT_SECRET, secret.as_bytes())?));
        }
    }
    store::update(&state.db, &runner, id, changes).await?;
    Ok(pb::UpdateScmIntegrationResponse {})
}

pub(super) async fn delete(
    state: &AppState,
    caller: Principal,
    req: pb::DeleteScmIntegrationRequest,
) -> Result<pb::DeleteScmIntegrationResponse> {
    let id = require_uuid("id", &req.id)?;
    let (runner, _) = access::manage_owned(&state.db, &caller, store::get(&state.db, id).await?, WHAT).await?;
    store::delete(&state.db, &runner, id).await?;
    Ok(pb::DeleteScmIntegrationResponse {})
}
