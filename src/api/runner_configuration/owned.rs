//! What Get and List of runner-owned resources (environment classes, SCM and
//! LLM integrations) share: who may see them follows from their runner.

use std::future::Future;

use uuid::Uuid;

use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{keyset_page, require_uuid};
use crate::auth::{Principal, access};
use crate::base::error::Result;
use crate::base::pagination::Page;
use crate::protocol::proto::gitpod::v1::{PaginationRequest, PaginationResponse};
use crate::store::RunnerOwned;
use crate::store::query::RunnerScope;

/// The row whose id the request's `field` holds, when the caller may see its
/// runner: INVALID_ARGUMENT for an id that is no UUID, NOT_FOUND naming
/// `what` for one that is not there or not theirs to see.
pub(super) async fn get<R, Fut>(
    state: &AppState,
    caller: &Principal,
    (field, id): (&str, &str),
    what: &str,
    fetch: impl FnOnce(Uuid) -> Fut,
) -> Result<R>
where
    R: RunnerOwned,
    Fut: Future<Output = Result<Option<R>>>,
{
    let id = require_uuid(field, id)?;
    let row = access::see_owned(&state.db, caller, fetch(id).await?, what).await?;
    Ok(row.into_inner())
}

/// The scope of a List request: its page size and `filter.runner_ids`
/// checked, within the caller's organization (a runner: itself).
pub(super) fn scope(
    v: &mut Violations,
    caller: &Principal,
    pagination: Option<&PaginationRequest>,
    runner_ids: &[String],
) -> RunnerScope {
    crate::api::check_page_size(v, pagination);
    RunnerScope {
        organization_id: caller.organization_id(),
        only_runner: caller.own_runner(),
        runner_ids: v.id_filter("filter.runner_ids", runner_ids),
    }
}

/// One page of a list whose only filter is the runners (`list` names it in
/// its page tokens).
pub(super) async fn list<T, Fut>(
    state: &AppState,
    caller: &Principal,
    list: &str,
    (pagination, runner_ids): (Option<PaginationRequest>, &[String]),
    key: impl Fn(&T) -> Uuid,
    fetch: impl FnOnce(RunnerScope, Page) -> Fut,
) -> Result<(Vec<T>, Option<PaginationResponse>)>
where
    Fut: Future<Output = Result<Vec<T>>>,
{
    let mut v = Violations::new();
    let scope = scope(&mut v, caller, pagination.as_ref(), runner_ids);
    v.finish(())?;
    let fetch_scope = scope.clone();
    keyset_page(&state.secrets, list, &scope, pagination, key, |page| {
        fetch(fetch_scope, page)
    })
    .await
}
