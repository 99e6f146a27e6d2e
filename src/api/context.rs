//! RunnerService's source-host RPCs: ParseContextURL and
//! CheckAuthenticationForHost.

use chrono::Utc;

use super::require_uuid;
use crate::auth::{Principal, access};
use crate::error::{Error, Result};
use crate::proto::gitpod::v1 as pb;
use crate::scm::context_url::{self, Context};
use crate::scm::{self, ScmHost};
use crate::state::AppState;
use crate::store;
use crate::validate::Violations;

/// The hosts a caller's context URLs may name: the vendors' clouds, and the
/// hosts of the SCM integrations of the runner (or, without one, of every
/// runner of the organization).
async fn known_hosts(state: &AppState, caller: &Principal, runner: Option<uuid::Uuid>) -> Result<Vec<ScmHost>> {
    let mut hosts = scm::well_known_hosts();
    let integrations = store::scm_integrations::for_runners(&state.db, caller.organization_id(), runner).await?;
    for integration in integrations {
        if let Some(host) = ScmHost::self_hosted(
            &integration.host,
            &integration.scm_id,
            integration.virtual_directory.clone(),
        ) && !hosts.iter().any(|h| h.host == host.host)
        {
            hosts.push(host);
        }
    }
    Ok(hosts)
}

fn response(original: String, c: Context) -> pb::ParseContextUrlResponse {
    let repository = pb::pull_request::Repository {
        clone_url: c.clone_url.clone(),
        host: c.host.clone(),
        owner: c.owner.clone(),
        name: c.repo.clone(),
    };
    let pull_request = c.pull_request.as_ref().map(|pr| pb::PullRequest {
        id: pr.id.clone(),
        url: pr.url.clone(),
        repository: Some(repository),
        ..Default::default()
    });
    #[allow(deprecated)]
    let pr = c
        .pull_request
        .as_ref()
        .map(|p| pb::parse_context_url_response::PullRequest {
            id: p.id.clone(),
            ..Default::default()
        });
    #[allow(deprecated)]
    pb::ParseContextUrlResponse {
        original_context_url: original,
        git: Some(pb::parse_context_url_response::GitContext {
            clone_url: c.clone_url,
            branch: c.branch,
            commit: c.commit,
            host: c.host,
            owner: c.owner,
            repo: c.repo,
            upstream_remote_url: String::new(),
            tag: c.tag,
        }),
        pr,
        issue: c.issue.map(|id| pb::parse_context_url_response::Issue {
            id,
            title: String::new(),
        }),
        pull_request,
        project_ids: vec![],
        scm_id: c.scm_id,
        recommended_environment_classes: vec![],
    }
}

pub(super) async fn parse_context_url(
    state: &AppState,
    caller: Principal,
    req: pb::ParseContextUrlRequest,
) -> Result<pb::ParseContextUrlResponse> {
    let mut v = Violations::new();
    let runner_id = v.optional_uuid("runner_id", &req.runner_id);
    if url::Url::parse(&req.context_url).is_err() {
        v.add("context_url", "value must be a valid URI");
    }
    v.finish()?;
    if let Some(id) = runner_id {
        access::see_runner(&state.db, &caller, id).await?;
    }
    let hosts = known_hosts(state, &caller, runner_id).await?;
    let context =
        context_url::parse(&req.context_url, &hosts).map_err(|e| Error::invalid("context_url", e.to_string()))?;
    Ok(response(req.context_url, context))
}

pub(super) async fn check_authentication_for_host(
    state: &AppState,
    caller: Principal,
    req: pb::CheckAuthenticationForHostRequest,
) -> Result<pb::CheckAuthenticationForHostResponse> {
    let runner_id = require_uuid("runner_id", &req.runner_id)?;
    let runner = access::see_runner(&state.db, &caller, runner_id).await?;
    let host = req.host.trim().trim_end_matches('/').to_ascii_lowercase();
    let host = host.strip_prefix("https://").unwrap_or(&host).to_owned();
    let integrations =
        store::scm_integrations::for_runners(&state.db, caller.organization_id(), Some(runner_id)).await?;
    let integration = integrations.iter().find(|i| i.host == host);
    let cloud = scm::well_known_hosts().into_iter().find(|h| h.host == host);
    let scm_id = integration
        .map(|i| i.scm_id.as_str())
        .or(cloud.as_ref().map(|h| h.scm_id));
    let Some(info) = scm_id.and_then(scm::known_scm) else {
        return Ok(pb::CheckAuthenticationForHostResponse::default());
    };
    let authenticated = store::host_tokens::live_for(&state.db, runner.runner().id, caller.id(), &host, Utc::now())
        .await?
        .is_some();

    use pb::check_authentication_for_host_response::{
        AuthenticationMethodOAuth2, AuthenticationMethodPersonalAccessToken,
    };
    let supports_oauth2 = integration
        .filter(|i| i.oauth_client_id.is_some())
        .map(|i| AuthenticationMethodOAuth2 {
            auth_url: format!(
                "{}/auth/oauth2/authorize?integration_id={}&host={host}",
                state.public_url, i.id
            ),
            docs_url: info.oauth_docs_url.to_owned(),
        });
    // PATs work on the vendors' clouds unless an integration says otherwise
    let pat = integration.map_or(cloud.is_some(), |i| i.pat);
    let supports_pat = pat.then(|| AuthenticationMethodPersonalAccessToken {
        create_url: info.pat_create_url.replace("{host}", &host),
        docs_url: info.pat_docs_url.to_owned(),
        example: info.pat_example.to_owned(),
        required_scopes: info.pat_scopes.iter().map(|s| (*s).to_owned()).collect(),
    });
    let authentication_url = supports_oauth2
        .as_ref()
        .map(|o| o.auth_url.clone())
        .or_else(|| supports_pat.as_ref().map(|p| p.create_url.clone()))
        .unwrap_or_default();
    #[allow(deprecated)]
    Ok(pb::CheckAuthenticationForHostResponse {
        authenticated,
        authentication_url,
        pat_supported: supports_pat.is_some(),
        scm_id: info.id.to_owned(),
        scm_name: info.name.to_owned(),
        supports_oauth2,
        supports_pat,
    })
}
