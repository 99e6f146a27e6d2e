"""People through the official SDK's generated clients: a group's role on a
runner given and taken away (GroupService, RunnerService), organization roles
assigned to groups, personal access tokens from creation to revocation
(UserService), and an organization's members and their roles
(OrganizationService)."""

import json
import time
import uuid

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from gitpod.v1 import event_pb2 as event
from gitpod.v1 import group_pb2 as group
from gitpod.v1 import identity_pb2 as identity
from gitpod.v1 import organization_pb2 as organization
from gitpod.v1 import runner_configuration_pb2 as config
from gitpod.v1 import runner_pb2 as runner
from gitpod.v1 import user_pb2 as user
from gitpod.v1.event_connect import EventServiceClientSync
from gitpod.v1.group_connect import GroupServiceClientSync
from gitpod.v1.identity_connect import IdentityServiceClientSync
from gitpod.v1.organization_connect import OrganizationServiceClientSync
from gitpod.v1.runner_connect import RunnerServiceClientSync
from gitpod.v1.user_connect import UserServiceClientSync
from google.protobuf.duration_pb2 import Duration

from conftest import TRANSPORTS, make_client


def bearer(token):
    return {"authorization": f"Bearer {token}"}


def unique(prefix):
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def new_user(paddock, *flags, organization_name=None):
    """A user made with the admin CLI: {"user_id": ..., "token": ...}."""
    args = ["user", "create", "--name", unique("person").replace(" ", "-"), *flags]
    if organization_name:
        args += ["--organization", organization_name]
    return json.loads(paddock.admin(*args))


def expect_code(code, fn, *args, **kwargs):
    with pytest.raises(ConnectError) as raised:
        fn(*args, **kwargs)
    assert raised.value.code == code, raised.value


def eventually(check, within, what):
    """Calls `check` until it returns something truthy, for `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} not within {within} s"
        time.sleep(0.1)


def refused_with(code, fn, *args, **kwargs):
    """True when the call fails with `code`, False when it succeeds."""
    try:
        fn(*args, **kwargs)
    except ConnectError as error:
        assert error.code == code, error
        return True
    return False


def organization_of(paddock, transport, token):
    return make_client(IdentityServiceClientSync, paddock, transport).get_authenticated_identity(
        identity.GetAuthenticatedIdentityRequest(), headers=bearer(token)).organization_id


def new_runner(runners, token, name):
    return runners.create_runner(runner.CreateRunnerRequest(
        name=name, provider=config.RUNNER_PROVIDER_LINUX_HOST), headers=bearer(token)).runner.runner_id


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_a_groups_runner_admin_role_is_given_and_taken_away(paddock, transport):
    """The issue's acceptance story: a member of a group holding RUNNER_ADMIN
    on a runner manages it, seen as both a runner policy and a role
    assignment, until they leave the group."""
    admin = bearer(paddock.admin_token)
    org = organization_of(paddock, transport, paddock.admin_token)
    groups = make_client(GroupServiceClientSync, paddock, transport)
    runners = make_client(RunnerServiceClientSync, paddock, transport)
    team = groups.create_group(group.CreateGroupRequest(
        organization_id=org, name=unique(f"runner admins {transport}")), headers=admin).group
    member = new_user(paddock)
    membership = groups.create_membership(group.CreateMembershipRequest(
        group_id=team.id, subject=identity.Subject(id=member["user_id"], principal=identity.PRINCIPAL_USER)),
        headers=admin).member
    runner_id = new_runner(runners, paddock.admin_token, f"shared over {transport}")

    def rename(name):
        return runners.update_runner(runner.UpdateRunnerRequest(runner_id=runner_id, name=name),
                                     headers=bearer(member["token"]))

    # a member of the organization may look at the runner, not change it
    expect_code(Code.PERMISSION_DENIED, rename, "not yet")

    assignment = groups.create_role_assignment(group.CreateRoleAssignmentRequest(
        group_id=team.id, resource_type=event.RESOURCE_TYPE_RUNNER, resource_id=runner_id,
        resource_role=group.RESOURCE_ROLE_RUNNER_ADMIN), headers=admin).assignment
    assert (assignment.group_id, assignment.resource_id) == (team.id, runner_id)
    assert assignment.resource_type == event.RESOURCE_TYPE_RUNNER
    assert assignment.resource_role == group.RESOURCE_ROLE_RUNNER_ADMIN

    rename(f"renamed by a runner admin over {transport}")
    got = runners.get_runner(runner.GetRunnerRequest(runner_id=runner_id), headers=admin).runner
    assert got.name == f"renamed by a runner admin over {transport}"

    policies = runners.list_runner_policies(runner.ListRunnerPoliciesRequest(runner_id=runner_id), headers=admin)
    assert [(p.group_id, p.role) for p in policies.policies] == [(team.id, runner.RUNNER_ROLE_ADMIN)]
    listed = groups.list_role_assignments(group.ListRoleAssignmentsRequest(
        filter=group.ListRoleAssignmentsRequest.Filter(resource_id=runner_id)), headers=admin).assignments
    assert [(a.id, a.group_id, a.resource_id, a.resource_role) for a in listed] == [
        (assignment.id, team.id, runner_id, group.RESOURCE_ROLE_RUNNER_ADMIN)]

    groups.delete_membership(group.DeleteMembershipRequest(membership_id=membership.id), headers=admin)
    eventually(lambda: refused_with(Code.PERMISSION_DENIED, rename, "after leaving"), within=5,
               what="the former member losing the runner")
    # the group keeps its role: only the membership went
    policies = runners.list_runner_policies(runner.ListRunnerPoliciesRequest(runner_id=runner_id), headers=admin)
    assert [(p.group_id, p.role) for p in policies.policies] == [(team.id, runner.RUNNER_ROLE_ADMIN)]


def group_with_member(paddock, transport, org, name):
    """A new group of the default organization with a new plain member in it."""
    admin = bearer(paddock.admin_token)
    groups = make_client(GroupServiceClientSync, paddock, transport)
    team = groups.create_group(group.CreateGroupRequest(organization_id=org, name=unique(name)), headers=admin).group
    member = new_user(paddock)
    groups.create_membership(group.CreateMembershipRequest(
        group_id=team.id, subject=identity.Subject(id=member["user_id"], principal=identity.PRINCIPAL_USER)),
        headers=admin)
    return team, member


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_org_runners_admins_manage_every_runner(paddock, transport):
    admin = bearer(paddock.admin_token)
    org = organization_of(paddock, transport, paddock.admin_token)
    groups = make_client(GroupServiceClientSync, paddock, transport)
    runners = make_client(RunnerServiceClientSync, paddock, transport)
    team, member = group_with_member(paddock, transport, org, f"org runners admins {transport}")
    # a runner someone else made, none of its policies naming the group
    other = new_user(paddock)
    runner_id = new_runner(runners, other["token"], f"someone else's over {transport}")
    rename = runner.UpdateRunnerRequest(runner_id=runner_id, name=f"renamed by org runners admin {transport}")
    expect_code(Code.PERMISSION_DENIED, runners.update_runner, rename, headers=bearer(member["token"]))

    assignment = groups.create_role_assignment(group.CreateRoleAssignmentRequest(
        group_id=team.id, resource_type=event.RESOURCE_TYPE_ORGANIZATION, resource_id=org,
        resource_role=group.RESOURCE_ROLE_ORG_RUNNERS_ADMIN), headers=admin).assignment
    assert (assignment.group_id, assignment.resource_id, assignment.resource_type, assignment.resource_role) == (
        team.id, org, event.RESOURCE_TYPE_ORGANIZATION, group.RESOURCE_ROLE_ORG_RUNNERS_ADMIN)
    listed = groups.list_role_assignments(group.ListRoleAssignmentsRequest(
        filter=group.ListRoleAssignmentsRequest.Filter(group_id=team.id)), headers=admin).assignments
    assert [a.id for a in listed] == [assignment.id]

    runners.update_runner(rename, headers=bearer(member["token"]))
    got = runners.get_runner(runner.GetRunnerRequest(runner_id=runner_id), headers=admin).runner
    assert got.name == rename.name


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_org_audit_log_readers_read_the_audit_log(paddock, transport):
    admin = bearer(paddock.admin_token)
    org = organization_of(paddock, transport, paddock.admin_token)
    groups = make_client(GroupServiceClientSync, paddock, transport)
    events = make_client(EventServiceClientSync, paddock, transport)
    team, member = group_with_member(paddock, transport, org, f"auditors {transport}")
    runner_id = new_runner(make_client(RunnerServiceClientSync, paddock, transport), paddock.admin_token,
                           f"audited for readers over {transport}")
    request = event.ListAuditLogsRequest(filter=event.ListAuditLogsRequest.Filter(subject_ids=[runner_id]))
    expect_code(Code.PERMISSION_DENIED, events.list_audit_logs, request, headers=bearer(member["token"]))

    groups.create_role_assignment(group.CreateRoleAssignmentRequest(
        group_id=team.id, resource_type=event.RESOURCE_TYPE_ORGANIZATION, resource_id=org,
        resource_role=group.RESOURCE_ROLE_ORG_AUDIT_LOG_READER), headers=admin)
    listed = events.list_audit_logs(request, headers=bearer(member["token"]))
    assert [e.action for e in listed.entries] == ["runner.create"]


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_org_admin_is_not_a_role_groups_are_given(paddock, transport):
    admin = bearer(paddock.admin_token)
    org = organization_of(paddock, transport, paddock.admin_token)
    groups = make_client(GroupServiceClientSync, paddock, transport)
    team = groups.create_group(group.CreateGroupRequest(
        organization_id=org, name=unique(f"would-be admins {transport}")), headers=admin).group
    expect_code(Code.INVALID_ARGUMENT, groups.create_role_assignment, group.CreateRoleAssignmentRequest(
        group_id=team.id, resource_type=event.RESOURCE_TYPE_ORGANIZATION, resource_id=org,
        resource_role=group.RESOURCE_ROLE_ORG_ADMIN), headers=admin)
    listed = groups.list_role_assignments(group.ListRoleAssignmentsRequest(
        filter=group.ListRoleAssignmentsRequest.Filter(group_id=team.id)), headers=admin).assignments
    assert list(listed) == []


# last_used is written in batches: polled for up to 15 s, so two transports
@pytest.mark.parametrize("transport", ["connect-json", "grpc"])
def test_personal_access_token_lifecycle(paddock, transport):
    member = new_user(paddock)
    users = make_client(UserServiceClientSync, paddock, transport)
    description = unique(f"laptop over {transport}")
    created = users.create_personal_access_token(user.CreatePersonalAccessTokenRequest(
        user_id=member["user_id"], description=description, valid_for=Duration(seconds=3600), read_only=False),
        headers=bearer(member["token"]))
    token = created.token
    assert token and token != member["token"]

    me = users.get_authenticated_user(user.GetAuthenticatedUserRequest(), headers=bearer(token)).user
    assert me.id == member["user_id"]

    def ours():
        listed = users.list_personal_access_tokens(user.ListPersonalAccessTokensRequest(),
                                                   headers=bearer(member["token"])).personal_access_tokens
        assert all(t.user_id == member["user_id"] for t in listed)
        [pat] = [t for t in listed if t.description == description]
        return pat

    pat = ours()
    assert pat.user_id == member["user_id"] and not pat.read_only
    assert pat.creator == identity.Subject(id=member["user_id"], principal=identity.PRINCIPAL_USER)
    lifetime = pat.expires_at.ToSeconds() - pat.created_at.ToSeconds()
    assert 3599 <= lifetime <= 3601
    # the token was used above; the server records it within a flush
    used = eventually(lambda: (p := ours()).HasField("last_used") and p, within=15, what="last_used recorded")
    assert used.last_used.ToSeconds() >= used.created_at.ToSeconds()

    users.delete_personal_access_token(user.DeletePersonalAccessTokenRequest(personal_access_token_id=pat.id),
                                       headers=bearer(member["token"]))
    eventually(lambda: refused_with(Code.UNAUTHENTICATED, users.get_authenticated_user,
                                    user.GetAuthenticatedUserRequest(), headers=bearer(token)),
               within=5, what="the deleted token refused")
    listed = users.list_personal_access_tokens(user.ListPersonalAccessTokensRequest(),
                                               headers=bearer(member["token"])).personal_access_tokens
    assert description not in [t.description for t in listed]
    # the member's other token is untouched
    assert users.get_authenticated_user(user.GetAuthenticatedUserRequest(),
                                        headers=bearer(member["token"])).user.id == member["user_id"]


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_read_only_personal_access_token_reads_only(paddock, transport):
    member = new_user(paddock)
    users = make_client(UserServiceClientSync, paddock, transport)
    runners = make_client(RunnerServiceClientSync, paddock, transport)
    read_only = users.create_personal_access_token(user.CreatePersonalAccessTokenRequest(
        user_id=member["user_id"], description=unique("read only"), valid_for=Duration(seconds=3600),
        read_only=True), headers=bearer(member["token"])).token
    mine = new_runner(runners, member["token"], f"seen read-only over {transport}")

    listed = runners.list_runners(runner.ListRunnersRequest(
        filter=runner.ListRunnersRequest.Filter(creator_ids=[member["user_id"]])), headers=bearer(read_only))
    assert [r.runner_id for r in listed.runners] == [mine]
    got = runners.get_runner(runner.GetRunnerRequest(runner_id=mine), headers=bearer(read_only)).runner
    assert got.runner_id == mine
    expect_code(Code.PERMISSION_DENIED, runners.create_runner, runner.CreateRunnerRequest(
        name="never made", provider=config.RUNNER_PROVIDER_LINUX_HOST), headers=bearer(read_only))
    expect_code(Code.PERMISSION_DENIED, runners.update_runner,
                runner.UpdateRunnerRequest(runner_id=mine, name="never renamed"), headers=bearer(read_only))
    # nor may it mint itself a token that could write
    expect_code(Code.PERMISSION_DENIED, users.create_personal_access_token, user.CreatePersonalAccessTokenRequest(
        user_id=member["user_id"], description="escalation", valid_for=Duration(seconds=3600)),
        headers=bearer(read_only))


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_personal_access_tokens_refused(paddock, transport):
    member, someone_else = new_user(paddock), new_user(paddock)
    users = make_client(UserServiceClientSync, paddock, transport)
    expect_code(Code.PERMISSION_DENIED, users.create_personal_access_token, user.CreatePersonalAccessTokenRequest(
        user_id=someone_else["user_id"], description="as someone else", valid_for=Duration(seconds=3600)),
        headers=bearer(member["token"]))
    # not even an organization admin acts as someone else
    expect_code(Code.PERMISSION_DENIED, users.create_personal_access_token, user.CreatePersonalAccessTokenRequest(
        user_id=someone_else["user_id"], description="admin as someone else", valid_for=Duration(seconds=3600)),
        headers=bearer(paddock.admin_token))
    expect_code(Code.INVALID_ARGUMENT, users.create_personal_access_token, user.CreatePersonalAccessTokenRequest(
        user_id=member["user_id"], description="too long", valid_for=Duration(seconds=91 * 24 * 3600)),
        headers=bearer(member["token"]))
    # 90 days is the longest allowed
    users.create_personal_access_token(user.CreatePersonalAccessTokenRequest(
        user_id=member["user_id"], description=unique("90 days"), valid_for=Duration(seconds=90 * 24 * 3600)),
        headers=bearer(member["token"]))


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_organization_members_and_roles(paddock, transport):
    # an organization of its own: its only admin is the one made here
    name = unique(f"org {transport}").replace(" ", "-")
    admin = new_user(paddock, "--org-admin", organization_name=name)
    member = new_user(paddock, organization_name=name)
    org = organization_of(paddock, transport, admin["token"])
    organizations = make_client(OrganizationServiceClientSync, paddock, transport)

    got = organizations.get_organization(organization.GetOrganizationRequest(organization_id=org),
                                         headers=bearer(admin["token"])).organization
    assert (got.id, got.name) == (org, name)
    assert organizations.get_organization(organization.GetOrganizationRequest(organization_id=org),
                                          headers=bearer(member["token"])).organization.id == org
    # another organization is not to be seen
    default_org = organization_of(paddock, transport, paddock.admin_token)
    expect_code(Code.NOT_FOUND, organizations.get_organization,
                organization.GetOrganizationRequest(organization_id=default_org), headers=bearer(admin["token"]))

    def members(*roles):
        return organizations.list_members(organization.ListMembersRequest(
            organization_id=org, filter=organization.ListMembersRequest.Filter(roles=roles)),
            headers=bearer(admin["token"])).members

    assert [(m.user_id, m.role) for m in members(organization.ORGANIZATION_ROLE_ADMIN)] == [
        (admin["user_id"], organization.ORGANIZATION_ROLE_ADMIN)]
    assert sorted(m.user_id for m in members()) == sorted([admin["user_id"], member["user_id"]])

    expect_code(Code.FAILED_PRECONDITION, organizations.set_role, organization.SetRoleRequest(
        organization_id=org, user_id=admin["user_id"], role=organization.ORGANIZATION_ROLE_MEMBER),
        headers=bearer(admin["token"]))
    expect_code(Code.PERMISSION_DENIED, organizations.set_role, organization.SetRoleRequest(
        organization_id=org, user_id=member["user_id"], role=organization.ORGANIZATION_ROLE_ADMIN),
        headers=bearer(member["token"]))
    expect_code(Code.PERMISSION_DENIED, organizations.set_role, organization.SetRoleRequest(
        organization_id=org, user_id=admin["user_id"], role=organization.ORGANIZATION_ROLE_MEMBER),
        headers=bearer(member["token"]))
    assert [m.user_id for m in members(organization.ORGANIZATION_ROLE_ADMIN)] == [admin["user_id"]]

    organizations.set_role(organization.SetRoleRequest(
        organization_id=org, user_id=member["user_id"], role=organization.ORGANIZATION_ROLE_ADMIN),
        headers=bearer(admin["token"]))
    assert sorted(m.user_id for m in members(organization.ORGANIZATION_ROLE_ADMIN)) == sorted(
        [admin["user_id"], member["user_id"]])
