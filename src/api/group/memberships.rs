//! Who is in a group: users only (paddock has no service accounts).

use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{check_page_size, convert, keyset_page, require_uuid};
use crate::auth::{Principal, access};
use crate::base::error::{Error, Result};
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::groups::{self, Member};

/// A membership's subject: only users are members (paddock has no service
/// accounts). INVALID_ARGUMENT otherwise, naming the field.
pub(super) fn user_subject(v: &mut Violations, subject: &Option<pb::Subject>) -> Option<uuid::Uuid> {
    let Some(subject) = subject else {
        v.add("subject", "value is required");
        return None;
    };
    if subject.principal != pb::Principal::User as i32 {
        v.add(
            "subject.principal",
            "value must be PRINCIPAL_USER: only users are members of groups",
        );
    }
    let id = v.optional_uuid("subject.id", &subject.id);
    if subject.id.is_empty() {
        v.add("subject.id", "value must be a valid UUID");
    }
    id
}

pub(super) async fn create_membership(
    state: &AppState,
    caller: Principal,
    req: pb::CreateMembershipRequest,
) -> Result<pb::CreateMembershipResponse> {
    let mut v = Violations::new();
    let group_id = v.uuid("group_id", &req.group_id);
    let user_id = user_subject(&mut v, &req.subject);
    let group_id = v.finish(group_id)?;
    let user_id = user_id.ok_or_else(|| Error::NotFound("user not found".into()))?;
    let managed = access::manage_groups(&caller)?;
    let member = groups::add_member(&state.db, &managed, group_id, user_id).await?;
    Ok(pb::CreateMembershipResponse {
        member: Some(convert::group_membership(member)),
    })
}

pub(super) async fn delete_membership(
    state: &AppState,
    caller: Principal,
    req: pb::DeleteMembershipRequest,
) -> Result<pb::DeleteMembershipResponse> {
    let id = require_uuid("membership_id", &req.membership_id)?;
    let managed = access::manage_groups(&caller)?;
    groups::remove_member(&state.db, &managed, id).await?;
    Ok(pb::DeleteMembershipResponse {})
}

pub(super) async fn get_membership(
    state: &AppState,
    caller: Principal,
    req: pb::GetMembershipRequest,
) -> Result<pb::GetMembershipResponse> {
    let mut v = Violations::new();
    let group_id = v.uuid("group_id", &req.group_id);
    let user_id = user_subject(&mut v, &req.subject);
    let group_id = v.finish(group_id)?;
    let visible = access::see_groups(&caller)?;
    let found = match user_id {
        Some(user_id) => groups::member(&state.read_db, &visible, group_id, user_id).await?,
        None => None,
    };
    let member = found.ok_or_else(|| Error::NotFound("membership not found".into()))?;
    Ok(pb::GetMembershipResponse {
        member: Some(convert::group_membership(member)),
    })
}

pub(super) async fn list_memberships(
    state: &AppState,
    caller: Principal,
    req: pb::ListMembershipsRequest,
) -> Result<pb::ListMembershipsResponse> {
    let mut v = Violations::new();
    check_page_size(&mut v, req.pagination.as_ref());
    let group_id = v.uuid("group_id", &req.group_id);
    let search = req.filter.map(|f| f.search).unwrap_or_default();
    v.length("filter.search", &search, 0, 256);
    let group_id = v.finish(group_id)?;
    let visible = access::see_groups(&caller)?;
    groups::get(&state.read_db, &visible, group_id)
        .await?
        .ok_or_else(|| Error::NotFound("group not found".into()))?;
    let (rows, pagination) = keyset_page(
        &state.secrets,
        "memberships",
        &(group_id, &search),
        req.pagination,
        |m: &Member| m.membership.id,
        |page| groups::members(&state.read_db, group_id, &search, page),
    )
    .await?;
    Ok(pb::ListMembershipsResponse {
        pagination,
        members: rows.into_iter().map(convert::group_membership).collect(),
    })
}
