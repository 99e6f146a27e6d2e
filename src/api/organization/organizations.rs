//! GetOrganization.

use crate::api::state::AppState;
use crate::api::{convert, require_uuid};
use crate::auth::{Principal, access};
use crate::base::error::Result;
use crate::protocol::proto::gitpod::v1 as pb;

pub(super) async fn get_organization(
    state: &AppState,
    caller: Principal,
    req: pb::GetOrganizationRequest,
) -> Result<pb::GetOrganizationResponse> {
    let id = require_uuid("organization_id", &req.organization_id)?;
    access::see_organization(&caller, id)?;
    let organization = crate::store::organizations::find(&state.read_db, id)
        .await?
        .ok_or_else(|| crate::base::error::Error::NotFound("organization not found".into()))?;
    Ok(pb::GetOrganizationResponse {
        organization: Some(convert::organization(organization)),
    })
}
