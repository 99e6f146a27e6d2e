//! gitpod.v1.GroupService: an organization's groups. Members read them;
//! organization admins create, rename and delete them (deleting a group
//! removes its memberships and runner policies with it), who is in them, and
//! the roles they hold: a role assignment on a runner is that runner's
//! policy for the group, seen from the group's side (one record, two views).

mod groups;
mod memberships;
mod role_assignments;

use crate::api::service;

service! {
    GroupApi: crate::protocol::proto::gitpod::v1::group_service_server::GroupService {
        create_group(CreateGroupRequest) -> CreateGroupResponse = groups::create_group;
        get_group(GetGroupRequest) -> GetGroupResponse = groups::get_group;
        list_groups(ListGroupsRequest) -> ListGroupsResponse = groups::list_groups;
        update_group(UpdateGroupRequest) -> UpdateGroupResponse = groups::update_group;
        delete_group(DeleteGroupRequest) -> DeleteGroupResponse = groups::delete_group;
        create_membership(CreateMembershipRequest) -> CreateMembershipResponse = memberships::create_membership;
        delete_membership(DeleteMembershipRequest) -> DeleteMembershipResponse = memberships::delete_membership;
        get_membership(GetMembershipRequest) -> GetMembershipResponse = memberships::get_membership;
        list_memberships(ListMembershipsRequest) -> ListMembershipsResponse = memberships::list_memberships;
        create_role_assignment(CreateRoleAssignmentRequest) -> CreateRoleAssignmentResponse = role_assignments::create_role_assignment;
        list_role_assignments(ListRoleAssignmentsRequest) -> ListRoleAssignmentsResponse = role_assignments::list_role_assignments;
        delete_role_assignment(DeleteRoleAssignmentRequest) -> DeleteRoleAssignmentResponse = role_assignments::delete_role_assignment;
    }
}
