//! Groups: created, renamed and deleted by organization admins, read by members.

use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{check_page_size, convert, keyset_page, require_uuid};
use crate::auth::{Principal, access};
use crate::base::error::{Error, Result};
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::groups::{self, Group, GroupChanges, GroupFilter};

/// `name` and `description` of CreateGroup and UpdateGroup.
pub(super) fn check_text(v: &mut Violations, name: &str, description: &str) {
    v.length("name", name, 3, 80);
    v.storable("name", name);
    v.length("description", description, 0, 255);
    v.storable("description", description);
}

pub(super) async fn create_group(
    state: &AppState,
    caller: Principal,
    req: pb::CreateGroupRequest,
) -> Result<pb::CreateGroupResponse> {
    let mut v = Violations::new();
    let organization_id = v.uuid("organization_id", &req.organization_id);
    check_text(&mut v, &req.name, &req.description);
    let organization_id = v.finish(organization_id)?;
    if organization_id != caller.organization_id() {
        return Err(Error::NotFound("organization not found".into()));
    }
    let managed = access::manage_groups(&caller)?;
    let group = groups::create(&state.db, &managed, &req.name, &req.description).await?;
    Ok(pb::CreateGroupResponse {
        group: Some(convert::group(group, 0)),
    })
}

// the deprecated `group_id` is still honoured
#[allow(deprecated)]
pub(super) async fn get_group(
    state: &AppState,
    caller: Principal,
    req: pb::GetGroupRequest,
) -> Result<pb::GetGroupResponse> {
    use pb::get_group_request::Group as By;
    let mut v = Violations::new();
    // the deprecated `group_id` still names a group when the oneof is unset
    let by = match req.group {
        Some(by) => Some(by),
        None if !req.group_id.is_empty() => Some(By::Id(req.group_id.clone())),
        None => None,
    };
    let id = match &by {
        Some(By::Id(id)) => v.optional_uuid("id", id).or_else(|| {
            if id.is_empty() {
                v.add("id", "value must be a valid UUID");
            }
            None
        }),
        Some(By::Name(name)) => {
            v.length("name", name, 3, 80);
            None
        }
        None => {
            v.add("group", "exactly one field is required in oneof");
            None
        }
    };
    v.finish(())?;
    let visible = access::see_groups(&caller)?;
    let found = match (&by, id) {
        (_, Some(id)) => groups::get(&state.read_db, &visible, id).await?,
        (Some(By::Name(name)), _) => groups::by_name(&state.read_db, &visible, name).await?,
        _ => None,
    };
    let group = found.ok_or_else(|| Error::NotFound("group not found".into()))?;
    let counts = groups::member_counts(&state.read_db, &[group.id]).await?;
    let members = counts.get(&group.id).copied().unwrap_or(0);
    Ok(pb::GetGroupResponse {
        group: Some(convert::group(group, members)),
    })
}

pub(super) async fn list_groups(
    state: &AppState,
    caller: Principal,
    req: pb::ListGroupsRequest,
) -> Result<pb::ListGroupsResponse> {
    let mut v = Violations::new();
    check_page_size(&mut v, req.pagination.as_ref());
    let f = req.filter.unwrap_or_default();
    v.length("filter.search", &f.search, 0, 256);
    let group_ids = v.id_filter("filter.group_ids", &f.group_ids);
    if let Some(exclude) = &f.exclude_assigned_to_resource {
        v.defined_enum::<pb::ResourceType>(
            "filter.exclude_assigned_to_resource.resource_type",
            exclude.resource_type,
        );
        if exclude.resource_type == 0 {
            v.add(
                "filter.exclude_assigned_to_resource.resource_type",
                "value must not be in list [0]",
            );
        }
        let _ = v.uuid("filter.exclude_assigned_to_resource.resource_id", &exclude.resource_id);
    }
    v.finish(())?;
    let visible = access::see_groups(&caller)?;
    // paddock's groups are all made by people: none is system managed or a direct share
    if f.system_managed == Some(true) || f.direct_share == Some(true) {
        return Ok(pb::ListGroupsResponse {
            pagination: Some(pb::PaginationResponse::default()),
            groups: vec![],
        });
    }
    // the only role assignments paddock keeps are runner policies: for any
    // other resource type no group holds one, and none is left out
    let without_policy_on = f
        .exclude_assigned_to_resource
        .filter(|e| e.resource_type == pb::ResourceType::Runner as i32)
        .and_then(|e| uuid::Uuid::parse_str(&e.resource_id).ok());
    let filter = GroupFilter {
        organization_id: visible.get().organization_id,
        search: f.search,
        group_ids,
        without_policy_on,
    };
    let (rows, pagination) = keyset_page(
        &state.secrets,
        "groups",
        &filter,
        req.pagination,
        |g: &Group| g.id,
        |page| groups::list(&state.read_db, &filter, page),
    )
    .await?;
    let ids: Vec<_> = rows.iter().map(|g| g.id).collect();
    let counts = groups::member_counts(&state.read_db, &ids).await?;
    Ok(pb::ListGroupsResponse {
        pagination,
        groups: rows
            .into_iter()
            .map(|g| {
                let members = counts.get(&g.id).copied().unwrap_or(0);
                convert::group(g, members)
            })
            .collect(),
    })
}

pub(super) async fn update_group(
    state: &AppState,
    caller: Principal,
    req: pb::UpdateGroupRequest,
) -> Result<pb::UpdateGroupResponse> {
    let mut v = Violations::new();
    let id = v.uuid("group_id", &req.group_id);
    check_text(&mut v, &req.name, &req.description);
    let id = v.finish(id)?;
    let managed = access::manage_groups(&caller)?;
    let changes = GroupChanges {
        name: Some(req.name),
        description: Some(req.description),
    };
    groups::update(&state.db, &managed, id, changes).await?;
    let visible = access::see_groups(&caller)?;
    let group = groups::get(&state.db, &visible, id)
        .await?
        .ok_or_else(|| Error::NotFound("group not found".into()))?;
    let counts = groups::member_counts(&state.db, &[id]).await?;
    let members = counts.get(&id).copied().unwrap_or(0);
    Ok(pb::UpdateGroupResponse {
        group: Some(convert::group(group, members)),
    })
}

pub(super) async fn delete_group(
    state: &AppState,
    caller: Principal,
    req: pb::DeleteGroupRequest,
) -> Result<pb::DeleteGroupResponse> {
    let id = require_uuid("group_id", &req.group_id)?;
    let managed = access::manage_groups(&caller)?;
    groups::delete(&state.db, &managed, id).await?;
    Ok(pb::DeleteGroupResponse {})
}
