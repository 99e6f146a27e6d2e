"""GroupService through the official SDK's generated client, over every
transport: an organization admin creates, reads, lists, renames and deletes
a group."""

import uuid

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from gitpod.v1 import group_pb2 as group
from gitpod.v1 import identity_pb2 as identity
from gitpod.v1.group_connect import GroupServiceClientSync
from gitpod.v1.identity_connect import IdentityServiceClientSync

from conftest import TRANSPORTS, make_client


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_group_lifecycle(paddock, transport):
    auth = {"authorization": f"Bearer {paddock.admin_token}"}
    me = make_client(IdentityServiceClientSync, paddock, transport).get_authenticated_identity(
        identity.GetAuthenticatedIdentityRequest(), headers=auth)
    groups = make_client(GroupServiceClientSync, paddock, transport)
    name = f"sdk {transport} {uuid.uuid4().hex[:6]}"
    created = groups.create_group(group.CreateGroupRequest(
        organization_id=me.organization_id, name=name, description="made through the SDK"), headers=auth).group
    assert created.name == name and created.member_count == 0

    by_name = groups.get_group(group.GetGroupRequest(name=name), headers=auth).group
    assert by_name.id == created.id
    listed = groups.list_groups(group.ListGroupsRequest(
        filter=group.ListGroupsRequest.Filter(group_ids=[created.id])), headers=auth)
    assert [g.name for g in listed.groups] == [name]

    renamed = groups.update_group(group.UpdateGroupRequest(
        group_id=created.id, name=name + " renamed", description=""), headers=auth).group
    assert renamed.name == name + " renamed"

    groups.delete_group(group.DeleteGroupRequest(group_id=created.id), headers=auth)
    with pytest.raises(ConnectError) as err:
        groups.get_group(group.GetGroupRequest(id=created.id), headers=auth)
    assert err.value.code == Code.NOT_FOUND
    with pytest.raises(ConnectError) as err:
        groups.create_group(group.CreateGroupRequest(organization_id=me.organization_id, name="x"), headers=auth)
    assert err.value.code == Code.INVALID_ARGUMENT


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_memberships(paddock, transport):
    auth = {"authorization": f"Bearer {paddock.admin_token}"}
    me = make_client(IdentityServiceClientSync, paddock, transport).get_authenticated_identity(
        identity.GetAuthenticatedIdentityRequest(), headers=auth)
    groups = make_client(GroupServiceClientSync, paddock, transport)
    created = groups.create_group(group.CreateGroupRequest(
        organization_id=me.organization_id, name=f"members {transport} {uuid.uuid4().hex[:6]}"), headers=auth).group
    subject = identity.Subject(id=me.subject.id, principal=identity.PRINCIPAL_USER)
    member = groups.create_membership(group.CreateMembershipRequest(group_id=created.id, subject=subject),
                                      headers=auth).member
    assert member.subject == subject and member.group_id == created.id
    got = groups.get_membership(group.GetMembershipRequest(group_id=created.id, subject=subject), headers=auth).member
    assert got == member
    listed = groups.list_memberships(group.ListMembershipsRequest(group_id=created.id), headers=auth).members
    assert list(listed) == [member]
    groups.delete_membership(group.DeleteMembershipRequest(membership_id=member.id), headers=auth)
    assert list(groups.list_memberships(group.ListMembershipsRequest(group_id=created.id), headers=auth).members) == []


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_role_assignments_are_runner_policies(paddock, transport):
    from gitpod.v1 import event_pb2 as event
    from gitpod.v1 import runner_configuration_pb2 as config
    from gitpod.v1 import runner_pb2 as runner
    from gitpod.v1.runner_connect import RunnerServiceClientSync

    auth = {"authorization": f"Bearer {paddock.admin_token}"}
    me = make_client(IdentityServiceClientSync, paddock, transport).get_authenticated_identity(
        identity.GetAuthenticatedIdentityRequest(), headers=auth)
    runners = make_client(RunnerServiceClientSync, paddock, transport)
    runner_id = runners.create_runner(runner.CreateRunnerRequest(
        name=f"assigned over {transport}", provider=config.RUNNER_PROVIDER_LINUX_HOST), headers=auth).runner.runner_id
    groups = make_client(GroupServiceClientSync, paddock, transport)
    created = groups.create_group(group.CreateGroupRequest(
        organization_id=me.organization_id, name=f"roles {transport} {uuid.uuid4().hex[:6]}"), headers=auth).group
    assignment = groups.create_role_assignment(group.CreateRoleAssignmentRequest(
        group_id=created.id, resource_type=event.RESOURCE_TYPE_RUNNER, resource_id=runner_id,
        resource_role=group.RESOURCE_ROLE_RUNNER_ADMIN), headers=auth).assignment
    policies = runners.list_runner_policies(runner.ListRunnerPoliciesRequest(runner_id=runner_id), headers=auth)
    assert [(p.group_id, p.role) for p in policies.policies] == [(created.id, runner.RUNNER_ROLE_ADMIN)]
    listed = groups.list_role_assignments(group.ListRoleAssignmentsRequest(
        filter=group.ListRoleAssignmentsRequest.Filter(resource_id=runner_id)), headers=auth).assignments
    assert list(listed) == [assignment]
    groups.delete_role_assignment(group.DeleteRoleAssignmentRequest(assignment_id=assignment.id), headers=auth)
    policies = runners.list_runner_policies(runner.ListRunnerPoliciesRequest(runner_id=runner_id), headers=auth)
    assert list(policies.policies) == []
