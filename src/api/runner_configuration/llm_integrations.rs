//! LLM integrations: Create, Get, List, Update, Delete. API keys are sealed at
//! once and only ever leave sealed.

use super::owned;
use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{convert, require_uuid};
use crate::auth::{Principal, access};
use crate::base::error::Result;
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::llm_integrations::{self as store, LlmIntegrationChanges, RequestHeader};

/// Purpose of sealed API keys (see `Secrets::seal`).
pub(crate) const API_KEY: &str = crate::base::secrets::purpose::LLM_API_KEY;

/// Whose models these are: OpenAI's when all are, Anthropic's otherwise.
fn provider_of(models: &[i32]) -> i32 {
    let openai = |m: &i32| pb::SupportedModel::try_from(*m).is_ok_and(|m| m.as_str_name().contains("_OPENAI_"));
    if !models.is_empty() && models.iter().all(openai) {
        pb::LlmProvider::Openai as i32
    } else {
        pb::LlmProvider::Anthropic as i32
    }
}

fn check_models(v: &mut Violations, models: &[i32]) {
    for (i, model) in models.iter().enumerate() {
        v.defined_enum::<pb::SupportedModel>(&format!("models[{i}]"), *model);
    }
}

fn max_tokens(v: &mut Violations, value: u64) -> i64 {
    i64::try_from(value).unwrap_or_else(|_| {
        v.add("max_tokens", "value is too large");
        0
    })
}

pub(super) async fn create(
    state: &AppState,
    caller: Principal,
    req: pb::CreateLlmIntegrationRequest,
) -> Result<pb::CreateLlmIntegrationResponse> {
    let mut v = Violations::new();
    let runner_id = v.uuid("runner_id", &req.runner_id);
    if req.models.is_empty() {
        v.add("models", "value must contain at least 1 item(s)");
    }
    check_models(&mut v, &req.models);
    v.storable("endpoint", &req.endpoint);
    let max_tokens = max_tokens(&mut v, req.max_tokens);
    let runner_id = v.finish(runner_id)?;
    let runner = access::manage_runner(&state.db, &caller, runner_id).await?;
    let api_key = (!req.api_key.is_empty())
        .then(|| state.secrets.seal(API_KEY, req.api_key.as_bytes()))
        .transpose()?;
    let integration = store::create(
        &state.db,
        &runner,
        store::NewLlmIntegration {
            provider: provider_of(&req.models),
            models: req.models,
            endpoint: req.endpoint,
            api_key_encrypted: api_key,
            max_tokens,
            phase: pb::LlmIntegrationPhase::Available as i32,
        },
    )
    .await?;
    Ok(pb::CreateLlmIntegrationResponse {
        id: integration.id.to_string(),
    })
}

const WHAT: &str = "LLM integration";

pub(super) async fn get(
    state: &AppState,
    caller: Principal,
    req: pb::GetLlmIntegrationRequest,
) -> Result<pb::GetLlmIntegrationResponse> {
    let integration = owned::get(state, &caller, ("id", &req.id), WHAT, |id| store::get(&state.db, id)).await?;
    Ok(pb::GetLlmIntegrationResponse {
        integration: Some(convert::llm_integration(integration)),
    })
}

pub(super) async fn list(
    state: &AppState,
    caller: Principal,
    req: pb::ListLlmIntegrationsRequest,
) -> Result<pb::ListLlmIntegrationsResponse> {
    let filter = req.filter.unwrap_or_default();
    let (rows, pagination) = owned::list(
        state,
        &caller,
        "llm_integrations",
        (req.pagination, &filter.runner_ids),
        |i: &store::LlmIntegration| i.id,
        |scope, page| async move { store::list(&state.db, &scope, page).await },
    )
    .await?;
    #[allow(deprecated)]
    Ok(pb::ListLlmIntegrationsResponse {
        pagination,
        integrations: rows.into_iter().map(convert::llm_integration).collect(),
        llm_managed_by_ona: false,
        ona_intelligence_providers: vec![],
    })
}

pub(super) async fn update(
    state: &AppState,
    caller: Principal,
    req: pb::UpdateLlmIntegrationRequest,
) -> Result<pb::UpdateLlmIntegrationResponse> {
    let mut v = Violations::new();
    let id = v.uuid("id", &req.id);
    check_models(&mut v, &req.models);
    if let Some(endpoint) = &req.endpoint {
        v.storable("endpoint", endpoint);
    }
    if let Some(phase) = req.phase {
        v.defined_enum::<pb::LlmIntegrationPhase>("phase", phase);
    }
    for (i, header) in req.request_headers.iter().enumerate() {
        v.defined_enum::<pb::LlmIntegrationRequestHeaderType>(
            &format!("request_headers[{i}].header_type"),
            header.header_type,
        );
        v.storable(&format!("request_headers[{i}].key"), &header.key);
    }
    let max_tokens = req.max_tokens.map(|m| max_tokens(&mut v, m));
    let id = v.finish(id)?;
    let (runner, _) = access::manage_owned(&state.db, &caller, store::get(&state.db, id).await?, WHAT).await?;
    let changes = LlmIntegrationChanges {
        endpoint: req.endpoint,
        models: (!req.models.is_empty()).then_some(req.models),
        api_key_encrypted: req
            .api_key
            .map(|k| {
                (!k.is_empty())
                    .then(|| state.secrets.seal(API_KEY, k.as_bytes()))
                    .transpose()
            })
            .transpose()?,
        max_tokens,
        phase: req.phase,
        request_headers: (!req.request_headers.is_empty()).then(|| {
            req.request_headers
                .into_iter()
                .map(|h| RequestHeader {
                    key: h.key,
                    value: h.value,
                    header_type: h.header_type,
                })
                .collect()
        }),
    };
    store::update(&state.db, &runner, id, changes).await?;
    Ok(pb::UpdateLlmIntegrationResponse {})
}

pub(super) async fn delete(
    state: &AppState,
    caller: Principal,
    req: pb::DeleteLlmIntegrationRequest,
) -> Result<pb::DeleteLlmIntegrationResponse> {
    let id = require_uuid("id", &req.id)?;
    let (runner, _) = access::manage_owned(&state.db, &caller, store::get(&state.db, id).await?, WHAT).await?;
    store::delete(&state.db, &runner, id).await?;
    Ok(pb::DeleteLlmIntegrationResponse {})
}
