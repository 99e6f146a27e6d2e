//! Users: the caller, or another member of the organization.

use crate::api::state::AppState;
use crate::api::{convert, require_uuid};
use crate::auth::{Principal, access};
use crate::base::error::{Error, Result};
use crate::protocol::proto::gitpod::v1 as pb;

pub(super) async fn get_authenticated_user(
    state: &AppState,
    caller: Principal,
    _req: pb::GetAuthenticatedUserRequest,
) -> Result<pb::GetAuthenticatedUserResponse> {
    if let Principal::Runner { .. } = caller {
        return Err(Error::PermissionDenied(
            "a runner is not a user: GetAuthenticatedIdentity says who it is".into(),
        ));
    }
    let user = access::see_user(&state.read_db, &caller, caller.id()).await?;
    Ok(pb::GetAuthenticatedUserResponse {
        user: Some(convert::user(user.into_inner())),
    })
}

pub(super) async fn get_user(
    state: &AppState,
    caller: Principal,
    req: pb::GetUserRequest,
) -> Result<pb::GetUserResponse> {
    let id = require_uuid("user_id", &req.user_id)?;
    let user = access::see_user(&state.read_db, &caller, id).await?;
    Ok(pb::GetUserResponse {
        user: Some(convert::user(user.into_inner())),
    })
}
