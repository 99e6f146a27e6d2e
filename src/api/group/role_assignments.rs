//! The roles a group holds: on a runner (that runner's policy for the group,
//! seen from the group's side) or on the organization.
use crate::api::state::AppState;
use crate::api::validate::Violations;
use crate::api::{check_page_size, convert, keyset_page, require_uuid};
use crate::auth::{Principal, access};
use crate::base::error::{Error, Result};
use crate::protocol::proto::gitpod::v1 as pb;
/// gitpod.v1.ResourceRole values of the organization roles paddock enforces.
pub(super) const ORG_ROLES: [pb::ResourceRole; 2] =
    [pb::ResourceRole::OrgRunnersAdmin, pb::ResourceRole::OrgAuditLogReader];
pub(super) fn is_org_role(resource_role: i32) -> bool {
    ORG_ROLES.iter().any(|r| *r as i32 == resource_role)
}
pub(super) async fn create_role_assignment(
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
    let runner_role = convert::runner_role_of(req.resource_role);
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
            assignment: Some(convert::org_role_assignment(role)),
        });
    }
    let runner = access::manage_runner(&state.db, &caller, resource_id).await?;
    let group = access::see_group(&state.db, &caller, group_id).await?;
    let organization_id = group.get().organization_id;
    let policy = crate::store::policies::create(&state.db, &runner, &group, runner_role.unwrap_or_default()).await?;
    Ok(pb::CreateRoleAssignmentResponse {
        assignment: Some(convert::runner_role_assignment(policy, organization_id)),
    })
}
/// A row of ListRoleAssignments: a runner policy or an organization role.
pub(super) enum Assigned {
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
pub(super) async fn list_role_assignments(
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
    let runner_roles: Vec<i32> = f
        .resource_roles
        .iter()
        .filter_map(|r| convert::runner_role_of(*r))
        .collect();
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
                Assigned::Runner(p) => convert::runner_role_assignment(p, organization_id),
                Assigned::Organization(r) => convert::org_role_assignment(r),
            })
            .collect(),
    })
}
pub(super) async fn delete_role_assignment(
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
