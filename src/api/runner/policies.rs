//! Runner policies: which group holds which role on a runner.

use uuid::Uuid;

use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{convert, keyset_page};
use crate::auth::{Principal, access};
use crate::base::error::Result;
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::policies as store;

/// Checks a policy request's runner, group and (when it has one) role.
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
    v.finish((runner, group))
}

pub(super) async fn list(
    state: &AppState,
    caller: Principal,
    req: pb::ListRunnerPoliciesRequest,
) -> Result<pb::ListRunnerPoliciesResponse> {
    let mut v = Violations::new();
    v.page_size(
        "pagination.page_size",
        req.pagination.as_ref().map_or(0, |p| p.page_size),
    );
    let runner_id = v.uuid("runner_id", &req.runner_id);
    let runner_id = v.finish(runner_id)?;
    let runner = access::see_runner(&state.read_db, &caller, runner_id).await?;
    let runner_id = runner.get().id;
    let (rows, pagination) = keyset_page(
        &state.secrets,
        "runner_policies",
        &runner_id,
        req.pagination,
        |p: &store::Policy| p.group_id,
        |page| store::list(&state.read_db, runner_id, page),
    )
    .await?;
    Ok(pb::ListRunnerPoliciesResponse {
        pagination,
        policies: rows.into_iter().map(convert::policy).collect(),
    })
}

pub(super) async fn create(
    state: &AppState,
    caller: Principal,
    req: pb::CreateRunnerPolicyRequest,
) -> Result<pb::CreateRunnerPolicyResponse> {
    let (runner_id, group_id) = policy_request(&req.runner_id, &req.group_id, Some(req.role))?;
    let runner = access::manage_runner(&state.db, &caller, runner_id).await?;
    super::runners::require_not_deleting(runner.get())?;
    let group = access::see_group(&state.db, &caller, group_id).await?;
    let policy = store::create(&state.db, &runner, &group, req.role).await?;
    Ok(pb::CreateRunnerPolicyResponse {
        policy: Some(convert::policy(policy)),
    })
}

pub(super) async fn update(
    state: &AppState,
    caller: Principal,
    req: pb::UpdateRunnerPolicyRequest,
) -> Result<pb::UpdateRunnerPolicyResponse> {
    let (runner_id, group_id) = policy_request(&req.runner_id, &req.group_id, Some(req.role))?;
    let runner = access::manage_runner(&state.db, &caller, runner_id).await?;
    let policy = store::update(&state.db, &runner, group_id, req.role).await?;
    Ok(pb::UpdateRunnerPolicyResponse {
        policy: Some(convert::policy(policy)),
    })
}

pub(super) async fn delete(
    state: &AppState,
    caller: Principal,
    req: pb::DeleteRunnerPolicyRequest,
) -> Result<pb::DeleteRunnerPolicyResponse> {
    let (runner_id, group_id) = policy_request(&req.runner_id, &req.group_id, None)?;
    let runner = access::manage_runner(&state.db, &caller, runner_id).await?;
    store::delete(&state.db, &runner, group_id).await?;
    Ok(pb::DeleteRunnerPolicyResponse {})
}
