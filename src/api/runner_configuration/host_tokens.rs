//! Host authentication tokens: Create, Get, List, Update, Delete. Everyone
//! manages their own; organization admins manage everyone's. The token and
//! refresh token are sealed at once and never returned.

use chrono::{DateTime, Utc};

use crate::api::runner_configuration::schemas::is_valid_host;
use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{convert, keyset_page, require_uuid};
use crate::auth::{Principal, access};
use crate::base::error::{Error, Result};
use crate::base::principal::PRINCIPAL_USER;
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::host_tokens::{self as store, HostTokenChanges, HostTokenFilter};
use crate::store::scm_integrations;

use crate::base::secrets::purpose::{HOST_TOKEN as TOKEN, HOST_TOKEN_REFRESH as REFRESH_TOKEN};

fn timestamp(field: &str, t: &prost_types::Timestamp, v: &mut Violations) -> Option<DateTime<Utc>> {
    let parsed = u32::try_from(t.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos));
    if parsed.is_none() {
        v.add(field, "value must be a valid timestamp");
    }
    parsed
}

pub(super) async fn create(
    state: &AppState,
    caller: Principal,
    req: pb::CreateHostAuthenticationTokenRequest,
) -> Result<pb::CreateHostAuthenticationTokenResponse> {
    #[allow(deprecated)]
    let user_id = req.user_id.clone();
    let mut v = Violations::new();
    let runner_id = v.uuid("runner_id", &req.runner_id);
    let user_id = v.optional_uuid("user_id", &user_id);
    let host = req.host.trim().to_ascii_lowercase();
    if req.host.is_empty() {
        v.add("host", "value length must be at least 1 characters");
    } else if !is_valid_host(&host) {
        v.add(
            "host",
            "value must be a host name, like github.com or git.example.com:8443",
        );
    }
    v.length("token", &req.token, 1, usize::MAX);
    v.defined_enum::<pb::HostAuthenticationTokenSource>("source", req.source);
    let integration_id = v.optional_uuid("integration_id", &req.integration_id);
    v.max_items("scopes", &req.scopes, 101);
    let mut subject_id = None;
    if let Some(subject) = req.subject.as_ref().filter(|s| !s.id.is_empty() || s.principal != 0) {
        subject_id = v.optional_uuid("subject.id", &subject.id);
        v.defined_enum::<pb::Principal>("subject.principal", subject.principal);
        if subject.principal != 0 && subject.principal != PRINCIPAL_USER {
            v.add("subject.principal", "host tokens belong to users");
        }
    }
    let expires_at = req.expires_at.as_ref().and_then(|t| timestamp("expires_at", t, &mut v));
    for scope in &req.scopes {
        v.storable("scopes", scope);
    }
    let runner_id = v.finish(runner_id)?;
    if subject_id.is_some() && user_id.is_some() && subject_id != user_id {
        return Err(Error::invalid("user_id", "names another subject than subject.id"));
    }

    // for whom: the caller, or — for organization admins — anyone of theirs
    let holder = access::hold_host_token(&state.db, &caller, runner_id, subject_id.or(user_id)).await?;
    if let Some(integration) = integration_id {
        scm_integrations::get(&state.db, integration)
            .await?
            .filter(|i| i.runner_id == runner_id)
            .ok_or_else(|| Error::NotFound("SCM integration not found on this runner".into()))?;
    }
    let refresh = Some(req.refresh_token.as_str()).filter(|r| !r.is_empty());
    let token = store::create(
        &state.db,
        &holder,
        store::NewHostToken {
            host,
            token_encrypted: state.secrets.seal(TOKEN, req.token.as_bytes())?,
            refresh_token_encrypted: refresh
                .map(|r| state.secrets.seal(REFRESH_TOKEN, r.as_bytes()))
                .transpose()?,
            source: req.source,
            expires_at,
            integration_id,
            scopes: req.scopes,
        },
    )
    .await?;
    Ok(pb::CreateHostAuthenticationTokenResponse {
        token: Some(convert::host_token(token)),
    })
}

pub(super) async fn get(
    state: &AppState,
    caller: Principal,
    req: pb::GetHostAuthenticationTokenRequest,
) -> Result<pb::GetHostAuthenticationTokenResponse> {
    let id = require_uuid("id", &req.id)?;
    let token = access::host_token(&state.db, &caller, id).await?;
    Ok(pb::GetHostAuthenticationTokenResponse {
        token: Some(convert::host_token(token.into_inner())),
    })
}

pub(super) async fn list(
    state: &AppState,
    caller: Principal,
    req: pb::ListHostAuthenticationTokensRequest,
) -> Result<pb::ListHostAuthenticationTokensResponse> {
    let filter = req.filter.unwrap_or_default();
    #[allow(deprecated)]
    let user_id = filter.user_id.clone();
    let mut v = Violations::new();
    v.page_size(
        "pagination.page_size",
        req.pagination.as_ref().map_or(0, |p| p.page_size),
    );
    let runner_id = v.uuid_if_set("filter.runner_id", filter.runner_id.as_deref());
    let user_id = v.uuid_if_set("filter.user_id", user_id.as_deref());
    let subject_id = v.uuid_if_set("filter.subject_id", filter.subject_id.as_deref());
    v.finish(())?;
    let empty = || pb::ListHostAuthenticationTokensResponse {
        pagination: Some(pb::PaginationResponse::default()),
        tokens: vec![],
    };
    // user_id is the deprecated name of subject_id: both given must agree
    if user_id.is_some() && subject_id.is_some() && user_id != subject_id {
        return Ok(empty());
    }
    let store_filter = HostTokenFilter {
        organization_id: caller.organization_id(),
        runner_id,
        subject_id: subject_id.or(user_id),
        only_subject: access::host_token_subjects(&caller),
    };
    let (rows, pagination) = keyset_page(
        &state.secrets,
        "host_tokens",
        &store_filter,
        req.pagination,
        |t: &store::HostToken| t.id,
        |page| store::list(&state.db, &store_filter, page),
    )
    .await?;
    Ok(pb::ListHostAuthenticationTokensResponse {
        pagination,
        tokens: rows.into_iter().map(convert::host_token).collect(),
    })
}

pub(super) async fn update(
    state: &AppState,
    caller: Principal,
    req: pb::UpdateHostAuthenticationTokenRequest,
) -> Result<pb::UpdateHostAuthenticationTokenResponse> {
    let mut v = Violations::new();
    let id = v.uuid("id", &req.id);
    if let Some(token) = &req.token {
        v.length("token", token, 1, usize::MAX);
    }
    let expires_at = req.expires_at.as_ref().map(|t| timestamp("expires_at", t, &mut v));
    for scope in &req.scopes {
        v.storable("scopes", scope);
    }
    let id = v.finish(id)?;
    let token = access::host_token(&state.db, &caller, id).await?;
    let changes = HostTokenChanges {
        token_encrypted: req.token.map(|t| state.secrets.seal(TOKEN, t.as_bytes())).transpose()?,
        expires_at,
        refresh_token_encrypted: req
            .refresh_token
            .map(|r| {
                (!r.is_empty())
                    .then(|| state.secrets.seal(REFRESH_TOKEN, r.as_bytes()))
                    .transpose()
            })
            .transpose()?,
        // a repeated field has no presence: an empty list leaves the scopes as they are
        scopes: (!req.scopes.is_empty()).then_some(req.scopes),
    };
    store::update(&state.db, &token, changes).await?;
    Ok(pb::UpdateHostAuthenticationTokenResponse {})
}

pub(super) async fn delete(
    state: &AppState,
    caller: Principal,
    req: pb::DeleteHostAuthenticationTokenRequest,
) -> Result<pb::DeleteHostAuthenticationTokenResponse> {
    let id = require_uuid("id", &req.id)?;
    let token = access::host_token(&state.db, &caller, id).await?;
    store::delete(&state.db, token).await?;
    Ok(pb::DeleteHostAuthenticationTokenResponse {})
}
