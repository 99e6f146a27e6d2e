//! RunnerService's source-host RPCs: ParseContextURL and
//! CheckAuthenticationForHost.

use chrono::Utc;

use crate::api::require_uuid;
use crate::api::runner::scm::context_url::{self, Context};
use crate::api::runner::scm::{self, ScmHost};
use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::auth::{Principal, access};
use crate::base::error::{Error, Result};
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store;

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

pub(super) fn response(original: String, c: Context) -> pb::ParseContextUrlResponse {
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

/// A URL (the request's `field`) parsed against the hosts the caller's
/// runner — when one is named, a runner they see — or organization knows.
async fn parse_on_runner(
    state: &AppState,
    caller: &Principal,
    runner_id: Option<uuid::Uuid>,
    (field, url): (&str, &str),
) -> Result<Context> {
    if let Some(id) = runner_id {
        access::see_runner(&state.db, caller, id).await?;
    }
    let hosts = known_hosts(state, caller, runner_id).await?;
    context_url::parse(url, &hosts).map_err(|e| Error::invalid(field, e.to_string()))
}

pub async fn parse_context_url(
    state: &AppState,
    caller: Principal,
    req: pb::ParseContextUrlRequest,
) -> Result<pb::ParseContextUrlResponse> {
    let mut v = Violations::new();
    let runner_id = v.optional_uuid("runner_id", &req.runner_id);
    v.uri("context_url", &req.context_url);
    v.finish(())?;
    let mut context = parse_on_runner(state, &caller, runner_id, ("context_url", &req.context_url)).await?;
    let mut parsed = response(req.context_url, context.clone());
    enrich_with_scm(state, &caller, runner_id, &mut parsed, &mut context).await?;
    Ok(parsed)
}

pub async fn check_authentication_for_host(
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
    let authenticated = store::host_tokens::live_for(&state.db, runner.get().id, caller.id(), &host, Utc::now())
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

// ---- with the SCM's API ----------------------------------------------------

use crate::api::runner::scm::api::{self as scm_api, ScmApi, ScmError};

/// Where a user (re)authenticates to `host`: the OAuth start of an
/// integration, else the SCM's page for making a token.
async fn authentication_url(
    state: &AppState,
    caller: &Principal,
    runner: Option<uuid::Uuid>,
    scm_id: &str,
    host: &str,
) -> String {
    let integrations = store::scm_integrations::for_runners(&state.db, caller.organization_id(), runner)
        .await
        .unwrap_or_default();
    if let Some(i) = integrations
        .iter()
        .find(|i| i.host == host && i.oauth_client_id.is_some())
    {
        return format!(
            "{}/auth/oauth2/authorize?integration_id={}&host={host}",
            state.public_url, i.id
        );
    }
    scm::known_scm(scm_id)
        .map(|s| s.pat_create_url.replace("{host}", host))
        .unwrap_or_default()
}

/// The SCM error as the caller should see it; a refused token is
/// FAILED_PRECONDITION with where to sign in again.
async fn scm_failure(
    state: &AppState,
    caller: &Principal,
    runner: Option<uuid::Uuid>,
    scm_id: &str,
    host: &str,
    e: ScmError,
) -> Error {
    match e {
        ScmError::Unauthorized => {
            use prost::Message;
            let details = pb::ParseContextUrlPreconditionFailureDetails {
                authentication_required_url: authentication_url(state, caller, runner, scm_id, host).await,
                scm_id: scm_id.to_owned(),
                runner_ids: runner.map(|r| vec![r.to_string()]).unwrap_or_default(),
            };
            Error::FailedPreconditionWithDetail(
                format!("authentication required: {host} did not accept your token; sign in again"),
                "gitpod.v1.ParseContextURLPreconditionFailureDetails",
                details.encode_to_vec(),
            )
        }
        ScmError::Forbidden => Error::PermissionDenied(format!("your {host} token may not read this repository")),
        ScmError::NotFound => Error::NotFound(format!("not found on {host}")),
        ScmError::Timeout => Error::DeadlineExceeded(e.to_string()),
        ScmError::Unavailable(_) => Error::Unavailable(format!("{host}: {e}")),
    }
}

/// The caller's API client for `host`, when they hold a live token for it
/// (and paddock speaks that SCM's API).
async fn api_for(
    state: &AppState,
    caller: &Principal,
    runner: Option<uuid::Uuid>,
    scm_id: &str,
    host: &str,
) -> Result<Option<Box<dyn ScmApi>>> {
    let Principal::User { .. } = caller else {
        return Ok(None);
    };
    let Some(token) = store::host_tokens::live_for_host(
        &state.db,
        caller.organization_id(),
        caller.id(),
        host,
        runner,
        Utc::now(),
    )
    .await?
    else {
        return Ok(None);
    };
    let value = state
        .secrets
        .open(crate::base::secrets::purpose::HOST_TOKEN, &token.token_encrypted)?;
    let value = String::from_utf8(value).map_err(|e| Error::Internal(e.into()))?;
    Ok(scm_api::client(
        scm_id,
        host,
        &value,
        state.scm_api_urls.get(host).map(String::as_str),
    ))
}

/// What the SCM knows beyond the URL: the default branch and its head, the
/// split of a branch name with slashes, pull request and issue details.
pub(super) struct Enriched {
    pub pull_request: Option<scm_api::PullRequestInfo>,
    pub issue_title: Option<String>,
}

async fn enrich(api: &dyn ScmApi, c: &mut Context) -> Result<Enriched, ScmError> {
    let repository = api.repository(&c.owner, &c.repo).await?;
    let mut enriched = Enriched {
        pull_request: None,
        issue_title: None,
    };
    if let Some(pr) = &c.pull_request {
        let info = api.pull_request(&c.owner, &c.repo, &pr.id).await?;
        c.branch = info.from_branch.clone();
        c.commit = info.head_sha.clone();
        enriched.pull_request = Some(info);
    } else if !c.branch.is_empty() && c.commit.is_empty() {
        // "tree/feature/x/src": the longest prefix that is a branch is the branch
        let parts: Vec<String> = c.branch.split('/').map(str::to_owned).collect();
        let mut found = None;
        for n in (1..=parts.len()).rev() {
            let candidate = parts[..n].join("/");
            if let Some(head) = api.branch_head(&c.owner, &c.repo, &candidate).await? {
                found = Some((candidate, head, parts[n..].join("/")));
                break;
            }
        }
        let (branch, head, rest) = found.ok_or(ScmError::NotFound)?;
        c.branch = branch;
        c.commit = head;
        if !rest.is_empty() {
            c.path = if c.path.is_empty() {
                rest
            } else {
                format!("{rest}/{}", c.path)
            };
        }
    } else if c.branch.is_empty() && c.commit.is_empty() && c.tag.is_empty() {
        c.branch = repository.default_branch.clone();
        if !c.branch.is_empty() {
            c.commit = api.branch_head(&c.owner, &c.repo, &c.branch).await?.unwrap_or_default();
        }
    }
    if let Some(issue) = &c.issue {
        enriched.issue_title = Some(api.issue_title(&c.owner, &c.repo, issue).await?);
    }
    Ok(enriched)
}

/// ParseContextURL's SCM step: only with a token of the caller's for the host.
pub(super) async fn enrich_with_scm(
    state: &AppState,
    caller: &Principal,
    runner: Option<uuid::Uuid>,
    response: &mut pb::ParseContextUrlResponse,
    context: &mut Context,
) -> Result<()> {
    let Some(api) = api_for(state, caller, runner, &context.scm_id, &context.host).await? else {
        return Ok(());
    };
    let enriched = match enrich(api.as_ref(), context).await {
        Ok(e) => e,
        Err(e) => return Err(scm_failure(state, caller, runner, &context.scm_id, &context.host, e).await),
    };
    *response = self::response(response.original_context_url.clone(), context.clone());
    if let (Some(info), Some(pr)) = (enriched.pull_request, response.pull_request.as_mut()) {
        if !info.from_clone_url.is_empty()
            && let Some(git) = response.git.as_mut()
            && info.from_clone_url != git.clone_url
        {
            // a pull request from a fork: clone the fork, keep the base as upstream
            git.upstream_remote_url = std::mem::replace(&mut git.clone_url, info.from_clone_url.clone());
        }
        pr.title = info.title.clone();
        pr.from_branch = info.from_branch.clone();
        pr.to_branch = info.to_branch.clone();
        pr.author = info.author.clone();
        pr.head_sha = info.head_sha.clone();
        pr.draft = info.draft;
        pr.state = match info.state.as_str() {
            "open" => pb::pull_request::State::Open,
            "closed" => pb::pull_request::State::Closed,
            "merged" => pb::pull_request::State::Merged,
            _ => pb::pull_request::State::Unspecified,
        } as i32;
        #[allow(deprecated)]
        if let Some(old) = response.pr.as_mut() {
            old.title = info.title;
            old.from_branch = info.from_branch;
            old.to_branch = info.to_branch;
        }
    }
    if let (Some(title), Some(issue)) = (enriched.issue_title, response.issue.as_mut()) {
        issue.title = title;
    }
    Ok(())
}

/// Page numbers in opaque tokens (an SCM's pages are numbered).
fn page_number(token: &str) -> Result<u32> {
    use base64::Engine;
    if token.is_empty() {
        return Ok(1);
    }
    let bad = || Error::invalid("pagination.token", "not a page token of this list");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    text.strip_prefix("page:")
        .and_then(|n| n.parse().ok())
        .filter(|n| *n >= 1 && *n <= 10_000)
        .ok_or_else(bad)
}

/// The token of the page after `page`, when the SCM said there is one.
fn next_page(page: u32, more: bool) -> Option<pb::PaginationResponse> {
    use base64::Engine;
    let next_token = if more {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("page:{}", page + 1))
    } else {
        String::new()
    };
    Some(pb::PaginationResponse { next_token })
}

fn page_size(v: &mut Violations, pagination: &Option<pb::PaginationRequest>) -> u32 {
    let size = pagination.as_ref().map_or(0, |p| p.page_size);
    crate::api::check_page_size(v, pagination.as_ref());
    if size <= 0 {
        crate::base::pagination::DEFAULT_PAGE_SIZE as u32
    } else {
        size.min(100) as u32
    }
}

/// The caller's client for a host of the runner, or FAILED_PRECONDITION
/// saying where to authenticate.
async fn require_api(
    state: &AppState,
    caller: &Principal,
    runner_id: uuid::Uuid,
    host: &str,
) -> Result<(String, Box<dyn ScmApi>)> {
    let hosts = known_hosts(state, caller, Some(runner_id)).await?;
    let scm_id = hosts.iter().find(|h| h.host == host).map(|h| h.scm_id).ok_or_else(|| {
        Error::invalid(
            "scm_host",
            format!("{host} is not a known SCM host: add an SCM integration for it to the runner"),
        )
    })?;
    match api_for(state, caller, Some(runner_id), scm_id, host).await? {
        Some(api) => Ok((scm_id.to_owned(), api)),
        None if scm_api::client(scm_id, host, "", None).is_none() => Err(Error::FailedPrecondition(format!(
            "paddock does not speak the API of {scm_id} yet"
        ))),
        None => Err(scm_failure(state, caller, Some(runner_id), scm_id, host, ScmError::Unauthorized).await),
    }
}

/// The caller's SCM client for `host` of a runner they see, and the page
/// the request asks for.
async fn runner_scm(
    state: &AppState,
    caller: &Principal,
    runner_id: uuid::Uuid,
    host: &str,
    pagination: &Option<pb::PaginationRequest>,
) -> Result<(String, Box<dyn ScmApi>, u32)> {
    access::see_runner(&state.db, caller, runner_id).await?;
    let page = page_number(pagination.as_ref().map_or("", |p| p.token.as_str()))?;
    let (scm_id, api) = require_api(state, caller, runner_id, host).await?;
    Ok((scm_id, api, page))
}

pub async fn search_repositories(
    state: &AppState,
    caller: Principal,
    req: pb::SearchRepositoriesRequest,
) -> Result<pb::SearchRepositoriesResponse> {
    let mut v = Violations::new();
    let runner_id = v.uuid("runner_id", &req.runner_id);
    #[allow(deprecated)]
    let limit = req.limit;
    if limit != 0 && !(1..=100).contains(&limit) {
        v.add(
            "limit",
            "value must be greater than or equal to 1 and less than or equal to 100",
        );
    }
    v.defined_enum::<pb::SearchMode>("search_mode", req.search_mode);
    let mut per_page = page_size(&mut v, &req.pagination);
    let runner_id = v.finish(runner_id)?;
    if limit != 0 && req.pagination.as_ref().is_none_or(|p| p.page_size == 0) {
        per_page = limit as u32;
    }
    let host = if req.scm_host.is_empty() {
        "github.com".to_owned()
    } else {
        req.scm_host.trim().to_ascii_lowercase()
    };
    let (scm_id, api, page) = runner_scm(state, &caller, runner_id, &host, &req.pagination).await?;
    // keyword search looks at names; native passes the SCM's own query syntax through
    let query = match (pb::SearchMode::try_from(req.search_mode), scm_id.as_str()) {
        (Ok(pb::SearchMode::Native), _) | (_, scm::GITLAB) => req.search_string.clone(),
        _ if req.search_string.is_empty() => String::new(),
        _ => format!("{} in:name", req.search_string),
    };
    let result = match api.search_repositories(&query, page, per_page).await {
        Ok(r) => r,
        Err(e) => return Err(scm_failure(state, &caller, Some(runner_id), &scm_id, &host, e).await),
    };
    #[allow(deprecated)]
    Ok(pb::SearchRepositoriesResponse {
        repositories: result
            .items
            .into_iter()
            .map(|r| pb::search_repositories_response::Repository {
                name: r.name,
                url: r.url,
            })
            .collect(),
        pagination: next_page(page, result.more),
        last_page: 0,
    })
}

pub async fn list_scm_organizations(
    state: &AppState,
    caller: Principal,
    req: pb::ListScmOrganizationsRequest,
) -> Result<pb::ListScmOrganizationsResponse> {
    let mut v = Violations::new();
    let runner_id = v.uuid("runner_id", &req.runner_id);
    v.length("scm_host", &req.scm_host, 1, usize::MAX);
    let per_page = page_size(&mut v, &req.pagination);
    let runner_id = v.finish(runner_id)?;
    let host = req.scm_host.trim().to_ascii_lowercase();
    let (scm_id, api, page) = runner_scm(state, &caller, runner_id, &host, &req.pagination).await?;
    let result = match api.organizations(page, per_page).await {
        Ok(r) => r,
        Err(e) => return Err(scm_failure(state, &caller, Some(runner_id), &scm_id, &host, e).await),
    };
    let query = req.query.to_ascii_lowercase();
    #[allow(deprecated)]
    Ok(pb::ListScmOrganizationsResponse {
        organizations: result
            .items
            .into_iter()
            .filter(|o| query.is_empty() || o.name.to_ascii_lowercase().contains(&query))
            .map(|o| pb::list_scm_organizations_response::ScmOrganization {
                name: o.name,
                url: o.url,
                is_admin: false,
            })
            .collect(),
        pagination: next_page(page, result.more),
    })
}

pub async fn check_repository_access(
    state: &AppState,
    caller: Principal,
    req: pb::CheckRepositoryAccessRequest,
) -> Result<pb::CheckRepositoryAccessResponse> {
    let mut v = Violations::new();
    let runner_id = v.uuid("runner_id", &req.runner_id);
    v.uri("repository_url", &req.repository_url);
    let runner_id = v.finish(runner_id)?;
    let context = parse_on_runner(state, &caller, Some(runner_id), ("repository_url", &req.repository_url)).await?;
    let (scm_id, api) = require_api(state, &caller, runner_id, &context.host).await?;
    match api.repository(&context.owner, &context.repo).await {
        Ok(_) => Ok(pb::CheckRepositoryAccessResponse {
            has_access: true,
            error_message: String::new(),
        }),
        Err(ScmError::Forbidden) => Ok(pb::CheckRepositoryAccessResponse {
            has_access: false,
            error_message: format!(
                "your {} token may not read {}/{}",
                context.host, context.owner, context.repo
            ),
        }),
        Err(ScmError::NotFound) => Ok(pb::CheckRepositoryAccessResponse {
            has_access: false,
            error_message: format!(
                "{}/{} does not exist on {}, or your token cannot see it",
                context.owner, context.repo, context.host
            ),
        }),
        Err(e) => Err(scm_failure(state, &caller, Some(runner_id), &scm_id, &context.host, e).await),
    }
}
