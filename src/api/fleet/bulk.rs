//! DeleteRunners and RevokeRunnerCredentials: 1 to 100 runners named one by
//! one, each acted on (or refused) as its single RPC would.

use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::auth::{Principal, access};
use crate::base::error::{Error, Result};
use crate::protocol::proto::paddock::v1 as pb;

/// The most runners one DeleteRunners or RevokeRunnerCredentials call names
/// (a console's page).
pub(super) const MAX_DELETIONS: usize = 100;

/// `runner_ids`: 1 to 100 distinct UUIDs.
pub(super) fn requested_ids(ids: &[String], what: &str) -> Result<Vec<uuid::Uuid>> {
    let mut v = Violations::new();
    if ids.is_empty() {
        v.add(
            "runner_ids",
            format!("value must contain at least 1 item(s): name the runners to {what}"),
        );
    }
    let mut parsed = Vec::new();
    if v.max_items("runner_ids", ids, MAX_DELETIONS) {
        for (i, id) in ids.iter().enumerate() {
            if let Some(id) = v.uuid_if_set(&format!("runner_ids[{i}]"), Some(id)) {
                if parsed.contains(&id) {
                    v.add(format!("runner_ids[{i}]"), "repeated value must contain unique items");
                }
                parsed.push(id);
            }
        }
    }
    v.finish(())?;
    Ok(parsed)
}

/// Runs `act` on each runner named, one after another and each on its own:
/// what became of each, as a google.rpc code number and message, in order.
/// Runners act on no runner.
pub(super) async fn each_runner<T: Default, Fut: std::future::Future<Output = Result<T>>>(
    caller: &Principal,
    ids: Vec<uuid::Uuid>,
    act: impl Fn(uuid::Uuid) -> Fut,
) -> Result<Vec<(uuid::Uuid, i32, String, T)>> {
    if let Principal::Runner { .. } = caller {
        return Err(Error::PermissionDenied("runners do not act on other runners".into()));
    }
    let mut outcomes = Vec::with_capacity(ids.len());
    for runner_id in ids {
        outcomes.push(match act(runner_id).await {
            Ok(done) => (runner_id, tonic::Code::Ok as i32, String::new(), done),
            Err(error) => {
                let status = tonic::Status::from(error);
                (
                    runner_id,
                    status.code() as i32,
                    status.message().to_owned(),
                    T::default(),
                )
            }
        });
    }
    Ok(outcomes)
}

/// Each runner named is deleted or refused on its own, in order; the caller
/// must manage each (as for DeleteRunner) — one they may not see is
/// NOT_FOUND for them, as it would be alone.
pub(super) async fn delete_runners(
    state: &AppState,
    caller: Principal,
    req: pb::DeleteRunnersRequest,
) -> Result<pb::DeleteRunnersResponse> {
    let ids = requested_ids(&req.runner_ids, "delete")?;
    let caller = &caller;
    let outcomes = each_runner(caller, ids, |runner_id| async move {
        crate::api::runner::delete_one(state, caller, runner_id, req.force).await
    })
    .await?;
    Ok(pb::DeleteRunnersResponse {
        deletions: outcomes
            .into_iter()
            .map(|(runner_id, code, message, ())| pb::RunnerDeletion {
                runner_id: runner_id.to_string(),
                code,
                message,
            })
            .collect(),
    })
}

/// Each runner's working credentials revoked, runner by runner, as
/// RevokeRunnerToken would each (the caller must manage the runner).
pub(super) async fn revoke_credentials(
    state: &AppState,
    caller: Principal,
    req: pb::RevokeRunnerCredentialsRequest,
) -> Result<pb::RevokeRunnerCredentialsResponse> {
    let ids = requested_ids(&req.runner_ids, "revoke the credentials of")?;
    let caller = &caller;
    let outcomes = each_runner(caller, ids, |runner_id| async move {
        let runner = access::manage_runner(&state.db, caller, runner_id).await?;
        let revoked = crate::store::runner_tokens::revoke_all(&state.db, &runner).await?;
        // they stop working here at once (other replicas: within the cache's TTL)
        state.token_cache.forget_runner(runner_id);
        Ok(i32::try_from(revoked).unwrap_or(i32::MAX))
    })
    .await?;
    Ok(pb::RevokeRunnerCredentialsResponse {
        revocations: outcomes
            .into_iter()
            .map(|(runner_id, code, message, revoked)| pb::RunnerRevocation {
                runner_id: runner_id.to_string(),
                code,
                message,
                revoked,
            })
            .collect(),
    })
}
