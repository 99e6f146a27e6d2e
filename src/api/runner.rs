//! gitpod.v1.RunnerService: runners, their tokens and their policies.
//! Each handler: validate → authorize → store → map.

use chrono::{Duration, Utc};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{convert, principal, require_uuid};
use crate::auth::{Principal, access, tokens};
use crate::error::{Error, Result};
use crate::pagination::PageTokens;
use crate::proto::gitpod::v1::{self as pb, runner_service_server::RunnerService};
use crate::state::AppState;
use crate::store::{self, runners};
use crate::validate::Violations;

/// How long an exchange token may wait to be traded (per the reference).
const EXCHANGE_TOKEN_TTL: Duration = Duration::hours(24);

/// Column-level purposes of sealed values (see `Secrets::seal`).
const HONEYCOMB_KEY: &str = "runner.honeycomb_api_key";
const METRICS_PASSWORD: &str = "runner.metrics.password";

pub struct RunnerApi {
    state: AppState,
}

impl RunnerApi {
    pub fn new(state: AppState) -> Self {
        RunnerApi { state }
    }

    fn seal(&self, purpose: &str, secret: &str) -> Result<Option<Vec<u8>>> {
        if secret.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.state.secrets.seal(purpose, secret.as_bytes())?))
    }

    fn mint_exchange_token(&self) -> Result<(tokens::NewToken, chrono::DateTime<Utc>)> {
        Ok((
            tokens::generate(tokens::TokenKind::RunnerExchange)?,
            Utc::now() + EXCHANGE_TOKEN_TTL,
        ))
    }
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

fn require_not_deleting(runner: &runners::Runner) -> Result<()> {
    if runner.phase == runners::phase::DELETING {
        return Err(Error::FailedPrecondition("the runner is being deleted".into()));
    }
    Ok(())
}

/// Checks a policy request's runner, group and role.
fn policy_request(runner_id: &str, group_id: &str, role: Option<i32>) -> Result<(Uuid, Uuid)> {
    let mut v = Violations::new();
    let runner = v.uuid("runner_id", runner_id);
    let group = v.uuid("group_id", group_id);
    if let Some(role) = role {
        // Not a buf.validate rule, but a policy without a role grants nothing
        // and could never be told apart from a mistake.
        match pb::RunnerRole::try_from(role) {
            Ok(pb::RunnerRole::Admin | pb::RunnerRole::User) => {}
            _ => v.add("role", "value must be RUNNER_ROLE_ADMIN or RUNNER_ROLE_USER"),
        }
    }
    v.finish()?;
    match (runner, group) {
        (Some(r), Some(g)) => Ok((r, g)),
        _ => Err(Error::invalid("runner_id", "value must be a valid UUID")),
    }
}

impl RunnerApi {
    async fn create(&self, caller: Principal, req: pb::CreateRunnerRequest) -> Result<pb::CreateRunnerResponse> {
        let mut v = Violations::new();
        v.length("name", &req.name, 3, 127);
        v.defined_enum::<pb::RunnerKind>("kind", req.kind);
        v.defined_enum::<pb::RunnerProvider>("provider", req.provider);
        let runner_manager_id = v.optional_uuid("runner_manager_id", &req.runner_manager_id);
        v.storable("name", &req.name);
        if let Some(c) = req.spec.as_ref().and_then(|s| s.configuration.as_ref()) {
            v.storable("spec.configuration.region", &c.region);
            if let Some(m) = &c.metrics {
                v.storable("spec.configuration.metrics.url", &m.url);
                v.storable("spec.configuration.metrics.username", &m.username);
            }
        }
        v.finish()?;
        access::create_runner(&caller)?;

        let provider = pb::RunnerProvider::try_from(req.provider).unwrap_or_default();
        let kind = if req.kind == pb::RunnerKind::Unspecified as i32 {
            kind_for(provider) as i32
        } else {
            req.kind
        };
        let spec = req.spec.unwrap_or_default();
        let c = spec.configuration.unwrap_or_default();
        let metrics = c.metrics.unwrap_or_default();
        let window = c.update_window.unwrap_or_default();
        let configuration = runners::Configuration {
            region: c.region,
            release_channel: c.release_channel,
            auto_update: c.auto_update,
            metrics: runners::Metrics {
                enabled: metrics.enabled,
                url: metrics.url,
                username: metrics.username,
                password_encrypted: self.seal(METRICS_PASSWORD, &metrics.password)?,
                managed_enabled: metrics.managed_metrics_enabled,
                include_verbose: metrics.include_verbose_metrics,
            },
            log_level: c.log_level,
            devcontainer_image_cache_enabled: c.devcontainer_image_cache_enabled,
            update_window: runners::UpdateWindow {
                start_hour: window.start_hour.map(|h| h as i32),
                end_hour: window.end_hour.map(|h| h as i32),
            },
            // Only the server can seal a key; a ciphertext sent by a client is
            // meaningless here. The key is set through UpdateRunner.
            honeycomb_api_key_encrypted: None,
            continuous_profiling: c.continuous_profiling,
        };
        let new = runners::NewRunner {
            organization_id: caller.organization_id(),
            name: req.name,
            kind,
            provider: req.provider,
            runner_manager_id,
            creator_id: caller.id(),
            creator_principal: caller.kind(),
            desired_phase: spec.desired_phase,
            variant: spec.variant,
            configuration,
        };
        let (exchange, expires_at) = self.mint_exchange_token()?;
        let runner = runners::create(&self.state.db, new, exchange.hash, expires_at).await?;
        Ok(pb::CreateRunnerResponse {
            runner: Some(convert::runner(runner)),
            exchange_token: exchange.plaintext,
            // the deprecated access_token stays empty: runners exchange instead
            ..Default::default()
        })
    }

    async fn list(&self, caller: Principal, req: pb::ListRunnersRequest) -> Result<pb::ListRunnersResponse> {
        let pagination = req.pagination.unwrap_or_default();
        let filter = req.filter.unwrap_or_default();
        let mut v = Violations::new();
        v.page_size("pagination.page_size", pagination.page_size);
        let creator_ids = v.id_filter("filter.creator_ids", &filter.creator_ids);
        if v.max_items("filter.kinds", &filter.kinds, 25) {
            for (i, kind) in filter.kinds.iter().enumerate() {
                v.defined_enum::<pb::RunnerKind>(&format!("filter.kinds[{i}]"), *kind);
            }
        }
        if v.max_items("filter.providers", &filter.providers, 25) {
            for (i, provider) in filter.providers.iter().enumerate() {
                v.defined_enum::<pb::RunnerProvider>(&format!("filter.providers[{i}]"), *provider);
            }
        }
        v.finish()?;

        let mut store_filter = runners::RunnerFilter {
            organization_id: caller.organization_id(),
            only: caller.own_runner(),
            creator_ids,
            kinds: filter.kinds,
            providers: filter.providers,
        };
        // Canonical filter order: a token continues the same listing however
        // the client ordered its filter values.
        store_filter.creator_ids.sort();
        store_filter.creator_ids.dedup();
        store_filter.kinds.sort_unstable();
        store_filter.kinds.dedup();
        store_filter.providers.sort_unstable();
        store_filter.providers.dedup();
        let fingerprint = format!(
            "{:?}|{:?}|{:?}|{:?}",
            store_filter.only, store_filter.creator_ids, store_filter.kinds, store_filter.providers
        );
        let page_tokens = PageTokens::new(&self.state.secrets, "runners", fingerprint);
        let page = page_tokens.page(pagination.page_size, &pagination.token)?;
        let mut rows = runners::list(&self.state.read_db, &store_filter, page).await?;
        let next_token = page_tokens.next_token(&mut rows, page, |r| r.id);
        Ok(pb::ListRunnersResponse {
            pagination: Some(pb::PaginationResponse { next_token }),
            runners: rows.into_iter().map(convert::runner).collect(),
        })
    }

    async fn update(&self, caller: Principal, req: pb::UpdateRunnerRequest) -> Result<()> {
        let mut v = Violations::new();
        let runner_id = v.uuid("runner_id", &req.runner_id);
        if let Some(name) = &req.name {
            v.length("name", name, 3, 127);
            v.storable("name", name);
        }
        if let Some(m) = req
            .spec
            .as_ref()
            .and_then(|s| s.configuration.as_ref())
            .and_then(|c| c.metrics.as_ref())
        {
            v.storable("spec.configuration.metrics.url", m.url.as_deref().unwrap_or_default());
            v.storable(
                "spec.configuration.metrics.username",
                m.username.as_deref().unwrap_or_default(),
            );
        }
        v.finish()?;
        let runner_id = runner_id.ok_or_else(|| Error::invalid("runner_id", "value must be a valid UUID"))?;
        let managed = access::manage_runner(&self.state.db, &caller, runner_id).await?;
        require_not_deleting(managed.runner())?;

        let mut changes = runners::RunnerChanges {
            name: req.name,
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
                changes.update_window = c.update_window.map(|w| runners::UpdateWindow {
                    start_hour: w.start_hour.map(|h| h as i32),
                    end_hour: w.end_hour.map(|h| h as i32),
                });
                if let Some(key) = c.honeycomb_api_key {
                    changes.honeycomb_api_key_encrypted = Some(self.seal(HONEYCOMB_KEY, &key)?);
                }
                if let Some(m) = c.metrics {
                    changes.metrics_enabled = m.enabled;
                    changes.metrics_url = m.url;
                    changes.metrics_username = m.username;
                    changes.metrics_managed_enabled = m.managed_metrics_enabled;
                    changes.metrics_include_verbose = m.include_verbose_metrics;
                    if let Some(password) = m.password {
                        changes.metrics_password_encrypted = Some(self.seal(METRICS_PASSWORD, &password)?);
                    }
                }
            }
        }
        runners::update(&self.state.db, runner_id, changes).await?;
        Ok(())
    }

    async fn create_policy(&self, caller: Principal, req: pb::CreateRunnerPolicyRequest) -> Result<pb::RunnerPolicy> {
        let (runner_id, group_id) = policy_request(&req.runner_id, &req.group_id, Some(req.role))?;
        let managed = access::manage_runner(&self.state.db, &caller, runner_id).await?;
        require_not_deleting(managed.runner())?;
        let group = store::organizations::find_group(&self.state.db, group_id)
            .await?
            .filter(|g| g.organization_id == managed.runner().organization_id)
            .ok_or_else(|| Error::NotFound("group not found".into()))?;
        let policy = store::policies::create(&self.state.db, runner_id, group.id, req.role).await?;
        Ok(convert::policy(policy))
    }
}

#[tonic::async_trait]
impl RunnerService for RunnerApi {
    async fn create_runner(
        &self,
        request: Request<pb::CreateRunnerRequest>,
    ) -> Result<Response<pb::CreateRunnerResponse>, Status> {
        let caller = principal(&request)?;
        Ok(Response::new(self.create(caller, request.into_inner()).await?))
    }

    async fn get_runner(
        &self,
        request: Request<pb::GetRunnerRequest>,
    ) -> Result<Response<pb::GetRunnerResponse>, Status> {
        let caller = principal(&request)?;
        let runner_id = require_uuid("runner_id", &request.get_ref().runner_id)?;
        let visible = access::see_runner(&self.state.read_db, &caller, runner_id).await?;
        Ok(Response::new(pb::GetRunnerResponse {
            runner: Some(convert::runner(visible.into_runner())),
        }))
    }

    async fn list_runners(
        &self,
        request: Request<pb::ListRunnersRequest>,
    ) -> Result<Response<pb::ListRunnersResponse>, Status> {
        let caller = principal(&request)?;
        Ok(Response::new(self.list(caller, request.into_inner()).await?))
    }

    async fn update_runner(
        &self,
        request: Request<pb::UpdateRunnerRequest>,
    ) -> Result<Response<pb::UpdateRunnerResponse>, Status> {
        let caller = principal(&request)?;
        self.update(caller, request.into_inner()).await?;
        Ok(Response::new(pb::UpdateRunnerResponse {}))
    }

    async fn delete_runner(
        &self,
        request: Request<pb::DeleteRunnerRequest>,
    ) -> Result<Response<pb::DeleteRunnerResponse>, Status> {
        let caller = principal(&request)?;
        let req = request.into_inner();
        let runner_id = require_uuid("runner_id", &req.runner_id)?;
        access::manage_runner(&self.state.db, &caller, runner_id).await?;
        runners::delete(&self.state.db, runner_id, req.force).await?;
        // its tokens stop working here at once (other replicas: within the cache's TTL)
        self.state.token_cache.forget_runner(runner_id);
        Ok(Response::new(pb::DeleteRunnerResponse {}))
    }

    async fn create_runner_token(
        &self,
        request: Request<pb::CreateRunnerTokenRequest>,
    ) -> Result<Response<pb::CreateRunnerTokenResponse>, Status> {
        let caller = principal(&request)?;
        let runner_id = require_uuid("runner_id", &request.get_ref().runner_id)?;
        let managed = access::manage_runner(&self.state.db, &caller, runner_id).await?;
        require_not_deleting(managed.runner())?;
        let (exchange, expires_at) = self.mint_exchange_token()?;
        runners::add_exchange_token(&self.state.db, managed.runner(), exchange.hash, expires_at).await?;
        Ok(Response::new(pb::CreateRunnerTokenResponse {
            exchange_token: exchange.plaintext,
            ..Default::default()
        }))
    }

    async fn parse_context_url(
        &self,
        request: Request<pb::ParseContextUrlRequest>,
    ) -> Result<Response<pb::ParseContextUrlResponse>, Status> {
        let caller = principal(&request)?;
        let response = super::context::parse_context_url(&self.state, caller, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn check_authentication_for_host(
        &self,
        request: Request<pb::CheckAuthenticationForHostRequest>,
    ) -> Result<Response<pb::CheckAuthenticationForHostResponse>, Status> {
        let caller = principal(&request)?;
        let response = super::context::check_authentication_for_host(&self.state, caller, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn search_repositories(
        &self,
        request: Request<pb::SearchRepositoriesRequest>,
    ) -> Result<Response<pb::SearchRepositoriesResponse>, Status> {
        let caller = principal(&request)?;
        let response = super::context::search_repositories(&self.state, caller, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn list_scm_organizations(
        &self,
        request: Request<pb::ListScmOrganizationsRequest>,
    ) -> Result<Response<pb::ListScmOrganizationsResponse>, Status> {
        let caller = principal(&request)?;
        let response = super::context::list_scm_organizations(&self.state, caller, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn check_repository_access(
        &self,
        request: Request<pb::CheckRepositoryAccessRequest>,
    ) -> Result<Response<pb::CheckRepositoryAccessResponse>, Status> {
        let caller = principal(&request)?;
        let response = super::context::check_repository_access(&self.state, caller, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    async fn list_runner_policies(
        &self,
        request: Request<pb::ListRunnerPoliciesRequest>,
    ) -> Result<Response<pb::ListRunnerPoliciesResponse>, Status> {
        let caller = principal(&request)?;
        let req = request.into_inner();
        let pagination = req.pagination.unwrap_or_default();
        let mut v = Violations::new();
        v.page_size("pagination.page_size", pagination.page_size);
        let runner_id = v.uuid("runner_id", &req.runner_id);
        v.finish()?;
        let runner_id = runner_id.ok_or_else(|| Error::invalid("runner_id", "value must be a valid UUID"))?;
        let visible = access::see_runner(&self.state.read_db, &caller, runner_id).await?;
        let scope = visible.runner().id.to_string();
        let page_tokens = PageTokens::new(&self.state.secrets, "runner_policies", scope);
        let page = page_tokens.page(pagination.page_size, &pagination.token)?;
        let mut rows = store::policies::list(&self.state.read_db, runner_id, page).await?;
        let next_token = page_tokens.next_token(&mut rows, page, |p| p.group_id);
        Ok(Response::new(pb::ListRunnerPoliciesResponse {
            pagination: Some(pb::PaginationResponse { next_token }),
            policies: rows.into_iter().map(convert::policy).collect(),
        }))
    }

    async fn create_runner_policy(
        &self,
        request: Request<pb::CreateRunnerPolicyRequest>,
    ) -> Result<Response<pb::CreateRunnerPolicyResponse>, Status> {
        let caller = principal(&request)?;
        let policy = self.create_policy(caller, request.into_inner()).await?;
        Ok(Response::new(pb::CreateRunnerPolicyResponse { policy: Some(policy) }))
    }

    async fn update_runner_policy(
        &self,
        request: Request<pb::UpdateRunnerPolicyRequest>,
    ) -> Result<Response<pb::UpdateRunnerPolicyResponse>, Status> {
        let caller = principal(&request)?;
        let req = request.into_inner();
        let (runner_id, group_id) = policy_request(&req.runner_id, &req.group_id, Some(req.role))?;
        access::manage_runner(&self.state.db, &caller, runner_id).await?;
        let policy = store::policies::update(&self.state.db, runner_id, group_id, req.role).await?;
        Ok(Response::new(pb::UpdateRunnerPolicyResponse {
            policy: Some(convert::policy(policy)),
        }))
    }

    async fn delete_runner_policy(
        &self,
        request: Request<pb::DeleteRunnerPolicyRequest>,
    ) -> Result<Response<pb::DeleteRunnerPolicyResponse>, Status> {
        let caller = principal(&request)?;
        let req = request.into_inner();
        let (runner_id, group_id) = policy_request(&req.runner_id, &req.group_id, None)?;
        access::manage_runner(&self.state.db, &caller, runner_id).await?;
        store::policies::delete(&self.state.db, runner_id, group_id).await?;
        Ok(Response::new(pb::DeleteRunnerPolicyResponse {}))
    }
}
