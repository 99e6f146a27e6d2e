//! An organization's members and their roles.

use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{check_page_size, convert};
use crate::auth::{Principal, access};
use crate::base::error::Result;
use crate::base::pagination::PageTokens;
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::members::{self, Member, MemberFilter, Sort, SortBy};

pub(super) async fn list_members(
    state: &AppState,
    caller: Principal,
    req: pb::ListMembersRequest,
) -> Result<pb::ListMembersResponse> {
    let mut v = Violations::new();
    check_page_size(&mut v, req.pagination.as_ref());
    let organization_id = v.uuid("organization_id", &req.organization_id);
    let f = req.filter.unwrap_or_default();
    v.length("filter.search", &f.search, 0, 256);
    // (statuses, roles and the sort carry no `defined_only` rule: values this
    // server does not know match nobody, or sort the default way)
    let user_ids = v.id_filter("filter.user_ids", &f.user_ids);
    let exclude_group_ids = v.id_filter("filter.exclude_group_ids", &f.exclude_group_ids);
    v.length("filter.email", &f.email, 0, 320);
    v.defined_enum::<pb::LoginProviderKind>("filter.login_provider", f.login_provider);
    let sort = req.sort.unwrap_or_default();
    let organization_id = v.finish(organization_id)?;
    let organization = access::see_members(&caller, organization_id)?;

    let admin = pb::OrganizationRole::Admin as i32;
    let member_role = pb::OrganizationRole::Member as i32;
    let admins = match (f.roles.contains(&admin), f.roles.contains(&member_role)) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    };
    // paddock's users are all active, have no e-mail address and sign in
    // with tokens: filters asking for anything else match nobody
    let matches_nobody = (!f.statuses.is_empty() && !f.statuses.contains(&(pb::UserStatus::Active as i32)))
        || !f.email.is_empty()
        || f.login_provider != 0
        || (!f.roles.is_empty() && admins.is_none() && !f.roles.iter().any(|r| *r == admin || *r == member_role));
    let filter = MemberFilter {
        organization_id: organization.get().organization_id,
        search: f.search,
        admins,
        user_ids,
        exclude_group_ids,
        exclude_members_in_any_group: f.exclude_members_in_any_team,
    };
    let sort = Sort {
        by: if sort.field == pb::list_members_request::SortField::Name as i32 {
            SortBy::Name
        } else {
            SortBy::Joined
        },
        descending: sort.order == pb::SortOrder::Desc as i32,
    };
    let pagination = req.pagination.unwrap_or_default();
    let tokens = PageTokens::new(
        &state.secrets,
        "members",
        format!("{filter:?} {sort:?} {matches_nobody}"),
    );
    let page = tokens.page(pagination.page_size, &pagination.token)?;
    let mut rows = if matches_nobody {
        vec![]
    } else {
        members::list(&state.read_db, &filter, sort, page).await?
    };
    let next_token = tokens.next_token(&mut rows, page, |m: &Member| m.id);
    let count = match req.count {
        Some(c) if c.include => Some(pb::CountResponse {
            value: if matches_nobody {
                0
            } else {
                i32::try_from(members::count(&state.read_db, &filter).await?).unwrap_or(i32::MAX)
            },
            relation: pb::CountResponseRelation::Eq as i32,
        }),
        _ => None,
    };
    Ok(pb::ListMembersResponse {
        pagination: Some(pb::PaginationResponse { next_token }),
        members: rows.into_iter().map(convert::organization_member).collect(),
        count,
    })
}

pub(super) async fn set_role(
    state: &AppState,
    caller: Principal,
    req: pb::SetRoleRequest,
) -> Result<pb::SetRoleResponse> {
    let mut v = Violations::new();
    let organization_id = v.uuid("organization_id", &req.organization_id);
    let user_id = v.uuid("user_id", &req.user_id);
    let admin = if req.role == pb::OrganizationRole::Admin as i32 {
        true
    } else if req.role == pb::OrganizationRole::Member as i32 {
        false
    } else {
        v.add("role", "must be ORGANIZATION_ROLE_ADMIN or ORGANIZATION_ROLE_MEMBER");
        false
    };
    let (organization_id, user_id) = v.finish((organization_id, user_id))?;
    let members = access::manage_members(&caller, organization_id)?;
    members::set_admin(&state.db, &members, user_id, admin).await?;
    Ok(pb::SetRoleResponse {})
}
