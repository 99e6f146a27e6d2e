//! gitpod.v1.GroupService: an organization's groups. Members read them;
//! organization admins create, rename and delete them (deleting a group
//! removes its memberships and runner policies with it), who is in them, and
//! the roles they hold: a role assignment on a runner is that runner's
//! policy for the group, seen from the group's side (one record, two views).

use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{check_page_size, convert, keyset_page, require_uuid, service};
use crate::auth::{Principal, access};
use crate::base::error::{Error, Result};
use crate::protocol::proto::gitpod::v1 as pb;
use crate::store::groups::{self, Group, GroupChanges, GroupFilter, Member};

service! {
    GroupApi: crate::protocol::proto::gitpod::v1::group_service_server::GroupService {
        create_group(CreateGroupRequest) -> CreateGroupResponse = create_group;
        get_group(GetGroupRequest) -> GetGroupResponse = get_group;
        list_groups(ListGroupsRequest) -> ListGroupsResponse = list_groups;
        update_group(UpdateGroupRequest) -> UpdateGroupResponse = update_group;
        delete_group(DeleteGroupRequest) -> DeleteGroupResponse = delete_group;
        create_membership(CreateMembershipRequest) -> CreateMembershipResponse = create_membership;
        delete_membership(DeleteMembershipRequest) -> DeleteMembershipResponse = delete_membership;
        get_membership(GetMembershipRequest) -> GetMembershipResponse = get_membership;
        list_memberships(ListMembershipsRequest) -> ListMembershipsResponse = list_memberships;
        create_role_assignment(CreateRoleAssignmentRequest) -> CreateRoleAssignmentResponse = create_role_assignment;
        list_role_assignments(ListRoleAssignmentsRequest) -> ListRoleAssignmentsResponse = list_role_assignments;
        delete_role_assignment(DeleteRoleAssignmentRequest) -> DeleteRoleAssignmentResponse = delete_role_assignment;
    }
}

/// `name` and `description` of CreateGroup and UpdateGroup.
fn check_text(v: &mut Violations, name: &str, description: &str) {
    v.length("name", name, 3, 80);
    v.storable("name", name);
    v.length("description", description, 0, 255);
    v.storable("description", description);
}

async fn create_group(
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
        group: Some(to_proto(group, 0)),
    })
}

// the deprecated `group_id` is still honoured
#[allow(deprecated)]
async fn get_group(state: &AppState, caller: Principal, req: pb::GetGroupRequest) -> Result<pb::GetGroupResponse> {
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
        group: Some(to_proto(group, members)),
    })
}

async fn list_groups(
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
                to_proto(g, members)
            })
            .collect(),
    })
}

async fn update_group(
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
        group: Some(to_proto(group, members)),
    })
}

async fn delete_group(
    state: &AppState,
    caller: Principal,
    req: pb::DeleteGroupRequest,
) -> Result<pb::DeleteGroupResponse> {
    let id = require_uuid("group_id", &req.group_id)?;
    let managed = access::manage_groups(&caller)?;
    groups::delete(&state.db, &managed, id).await?;
    Ok(pb::DeleteGroupResponse {})
}

fn to_proto(g: Group, members: i64) -> pb::Group {
    pb::Group {
        id: g.id.to_string(),
        organization_id: g.organization_id.to_string(),
        name: g.name,
        system_managed: false,
        created_at: Some(convert::timestamp(g.created_at)),
        updated_at: Some(convert::timestamp(g.updated_at.unwrap_or(g.created_at))),
        description: g.description,
        member_count: members.clamp(0, i32::MAX as i64) as i32,
        direct_share: false,
    }
}

/// A membership's subject: only users are members (paddock has no service
/// accounts). INVALID_ARGUMENT otherwise, naming the field.
fn user_subject(v: &mut Violations, subject: &Option<pb::Subject>) -> Option<uuid::Uuid> {
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

async fn create_membership(
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
        member: Some(membership(member)),
    })
}

async fn delete_membership(
    state: &AppState,
    caller: Principal,
    req: pb::DeleteMembershipRequest,
) -> Result<pb::DeleteMembershipResponse> {
    let id = require_uuid("membership_id", &req.membership_id)?;
    let managed = access::manage_groups(&caller)?;
    groups::remove_member(&state.db, &managed, id).await?;
    Ok(pb::DeleteMembershipResponse {})
}

async fn get_membership(
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
        member: Some(membership(member)),
    })
}

async fn list_memberships(
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
        members: rows.into_iter().map(membership).collect(),
    })
}

fn membership(m: Member) -> pb::GroupMembership {
    pb::GroupMembership {
        id: m.membership.id.to_string(),
        subject: Some(pb::Subject {
            id: m.membership.user_id.to_string(),
            principal: pb::Principal::User as i32,
        }),
        group_id: m.membership.group_id.to_string(),
        name: m.name,
        avatar_url: String::new(),
    }
}

/// gitpod.v1.RunnerRole ⇄ gitpod.v1.ResourceRole of a runner's role assignment.
const RUNNER_ROLES: [(pb::RunnerRole, pb::ResourceRole); 2] = [
    (pb::RunnerRole::Admin, pb::ResourceRole::RunnerAdmin),
    (pb::RunnerRole::User, pb::ResourceRole::RunnerUser),
];

fn runner_role_of(resource_role: i32) -> Option<i32> {
    RUNNER_ROLES
        .iter()
        .find(|(_, r)| *r as i32 == resource_role)
        .map(|(runner, _)| *runner as i32)
}

fn resource_role_of(runner_role: i32) -> i32 {
    RUNNER_ROLES
        .iter()
        .find(|(r, _)| *r as i32 == runner_role)
        .map_or(0, |(_, resource)| *resource as i32)
}

/// gitpod.v1.ResourceRole values of the organization roles paddock enforces.
const ORG_ROLES: [pb::ResourceRole; 2] = [pb::ResourceRole::OrgRunnersAdmin, pb::ResourceRole::OrgAuditLogReader];

fn is_org_role(resource_role: i32) -> bool {
    ORG_ROLES.iter().any(|r| *r as i32 == resource_role)
}

async fn create_role_assignment(
    state: &AppState,
    caller: Principal,
    req: pb::CreateRoleAssignmentRequest,
) -> Result<pb::CreateRoleAssignmentResponse> {
    let mut v = Violations::new();
    let group_id = v.uuid("group_id", &req.group_id);
    let on_runner = req.resource_type == pb::ResourceType::Runner as i32;
    let on_organization = req.resource_type == pb::ResourceType::Organization as i32;
    if !on_runner && !on_organization {
        v.add(
            "resource_type",
            "paddock assigns roles on runners (RESOURCE_TYPE_RUNNER) and organizations (RESOURCE_TYPE_ORGANIZATION)",
        );
    }
    let resource_id = v.uuid("resource_id", &req.resource_id);
    let runner_role = runner_role_of(req.resource_role);
    if on_organization && !is_org_role(req.resource_role) {
        v.add(
            "resource_role",
            "the organization roles paddock assigns are RESOURCE_ROLE_ORG_RUNNERS_ADMIN and RESOURCE_ROLE_ORG_AUDIT_LOG_READER",
        );
    } else if !on_organization && runner_role.is_none() {
        v.add(
            "resource_role",
            "a runner's roles are RESOURCE_ROLE_RUNNER_ADMIN and RESOURCE_ROLE_RUNNER_USER",
        );
    }
    let (group_id, resource_id) = v.finish((group_id, resource_id))?;
    if on_organization {
        let groups = access::manage_org_roles(&caller, resource_id)?;
        let role = crate::store::org_roles::create(&state.db, &groups, group_id, req.resource_role).await?;
        return Ok(pb::CreateRoleAssignmentResponse {
            assignment: Some(org_assignment(role)),
        });
    }
    let runner = access::manage_runner(&state.db, &caller, resource_id).await?;
    let group = access::see_group(&state.db, &caller, group_id).await?;
    let organization_id = group.get().organization_id;
    let policy = crate::store::policies::create(&state.db, &runner, &group, runner_role.unwrap_or_default()).await?;
    Ok(pb::CreateRoleAssignmentResponse {
        assignment: Some(assignment(policy, organization_id)),
    })
}

/// A row of ListRoleAssignments: a runner policy or an organization role.
enum Assigned {
    Runner(crate::store::policies::Policy),
    Organization(crate::store::org_roles::OrgRole),
}

impl Assigned {
    fn id(&self) -> uuid::Uuid {
        match self {
            Assigned::Runner(p) => p.id,
            Assigned::Organization(r) => r.id,
        }
    }
}

async fn list_role_assignments(
    state: &AppState,
    caller: Principal,
    req: pb::ListRoleAssignmentsRequest,
) -> Result<pb::ListRoleAssignmentsResponse> {
    use crate::store::org_roles::{self, OrgRoleFilter};
    use crate::store::policies::{self, AssignmentFilter};
    let mut v = Violations::new();
    check_page_size(&mut v, req.pagination.as_ref());
    let f = req.filter.unwrap_or_default();
    let mut resource_ids = v.id_filter("filter.resource_ids", &f.resource_ids);
    let group_id = v.optional_uuid("filter.group_id", &f.group_id);
    let user_id = v.optional_uuid("filter.user_id", &f.user_id);
    resource_ids.extend(v.optional_uuid("filter.resource_id", &f.resource_id));
    v.finish(())?;
    let visible = access::see_groups(&caller)?;
    let organization_id = visible.get().organization_id;
    let wants = |t: pb::ResourceType| f.resource_types.is_empty() || f.resource_types.contains(&(t as i32));
    let runner_roles: Vec<i32> = f.resource_roles.iter().filter_map(|r| runner_role_of(*r)).collect();
    let org_roles: Vec<i32> = f.resource_roles.iter().copied().filter(|r| is_org_role(*r)).collect();
    // a filter that names roles or resources of one kind only rules the other out
    let runners_wanted = wants(pb::ResourceType::Runner)
        && (f.resource_roles.is_empty() || !runner_roles.is_empty())
        && (resource_ids.is_empty() || resource_ids.iter().any(|id| *id != organization_id));
    let organization_wanted = wants(pb::ResourceType::Organization)
        && (f.resource_roles.is_empty() || !org_roles.is_empty())
        && (resource_ids.is_empty() || resource_ids.contains(&organization_id));
    let runner_filter = AssignmentFilter {
        organization_id,
        group_id,
        user_id,
        runner_ids: resource_ids
            .iter()
            .copied()
            .filter(|id| *id != organization_id)
            .collect(),
        roles: runner_roles,
    };
    let org_filter = OrgRoleFilter {
        organization_id,
        group_id,
        user_id,
        roles: org_roles,
    };
    let (runner_filter, org_filter) = (&runner_filter, &org_filter);
    let (rows, pagination) = keyset_page(
        &state.secrets,
        "role_assignments",
        &(runner_filter, org_filter, runners_wanted, organization_wanted),
        req.pagination,
        Assigned::id,
        |page| async move {
            // both kinds have UUIDv7 ids: one page of each, merged by id, is
            // the page of both
            let mut rows: Vec<Assigned> = Vec::new();
            if runners_wanted {
                let policies = policies::assignments(&state.read_db, runner_filter, page).await?;
                rows.extend(policies.into_iter().map(Assigned::Runner));
            }
            if organization_wanted {
                let roles = org_roles::list(&state.read_db, org_filter, page).await?;
                rows.extend(roles.into_iter().map(Assigned::Organization));
            }
            rows.sort_by_key(Assigned::id);
            rows.truncate(usize::try_from(page.size + 1).unwrap_or(usize::MAX));
            Ok(rows)
        },
    )
    .await?;
    Ok(pb::ListRoleAssignmentsResponse {
        pagination,
        assignments: rows
            .into_iter()
            .map(|row| match row {
                Assigned::Runner(p) => assignment(p, organization_id),
                Assigned::Organization(r) => org_assignment(r),
            })
            .collect(),
    })
}

async fn delete_role_assignment(
    state: &AppState,
    caller: Principal,
    req: pb::DeleteRoleAssignmentRequest,
) -> Result<pb::DeleteRoleAssignmentResponse> {
    let id = require_uuid("assignment_id", &req.assignment_id)?;
    let not_found = || Error::NotFound("role assignment not found".into());
    if let Some(policy) = crate::store::policies::by_id(&state.db, id).await? {
        let runner = match access::manage_runner(&state.db, &caller, policy.runner_id).await {
            Err(Error::NotFound(_)) => return Err(not_found()),
            other => other?,
        };
        crate::store::policies::delete(&state.db, &runner, policy.group_id).await?;
        return Ok(pb::DeleteRoleAssignmentResponse {});
    }
    let organization_id = caller.organization_id();
    if crate::store::org_roles::by_id(&state.db, organization_id, id)
        .await?
        .is_none()
    {
        return Err(not_found());
    }
    let groups = access::manage_groups(&caller)?;
    crate::store::org_roles::delete(&state.db, &groups, id).await?;
    Ok(pb::DeleteRoleAssignmentResponse {})
}

fn org_assignment(r: crate::store::org_roles::OrgRole) -> pb::RoleAssignment {
    pb::RoleAssignment {
        id: r.id.to_string(),
        group_id: r.group_id.to_string(),
        organization_id: r.organization_id.to_string(),
        resource_id: r.organization_id.to_string(),
        resource_type: pb::ResourceType::Organization as i32,
        resource_role: r.role,
        derived_from_org_role: None,
    }
}

fn assignment(p: crate::store::policies::Policy, organization_id: uuid::Uuid) -> pb::RoleAssignment {
    pb::RoleAssignment {
        id: p.id.to_string(),
        group_id: p.group_id.to_string(),
        organization_id: organization_id.to_string(),
        resource_id: p.runner_id.to_string(),
        resource_type: pb::ResourceType::Runner as i32,
        resource_role: resource_role_of(p.role),
        derived_from_org_role: None,
    }
}
