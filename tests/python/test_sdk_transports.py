"""RunnerService and IdentityService through the official SDK's generated
clients: the rows of the SDK table (test_sdk_table.py), and transport checks."""

import json
import uuid

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from gitpod.v1 import identity_pb2 as identity
from gitpod.v1 import pagination_pb2 as pagination
from gitpod.v1 import runner_configuration_pb2 as config
from gitpod.v1 import runner_pb2 as runner
from gitpod.v1 import user_pb2 as user
from gitpod.v1.identity_connect import IdentityServiceClientSync
from gitpod.v1.runner_connect import RunnerServiceClientSync
from gitpod.v1.user_connect import UserServiceClientSync

from conftest import TRANSPORTS, make_client


class Session:
    """The SDK clients of one transport, calling as one user."""

    def __init__(self, paddock, transport, token):
        self.paddock = paddock
        self.transport = transport
        self.runners = make_client(RunnerServiceClientSync, paddock, transport)
        self.identity = make_client(IdentityServiceClientSync, paddock, transport)
        self.headers = {"authorization": f"Bearer {token}"}

    def call(self, method, request, headers=None):
        return method(request, headers=self.headers if headers is None else headers)

    def create_runner(self, name="SDK runner", provider=config.RUNNER_PROVIDER_LINUX_HOST):
        return self.call(self.runners.create_runner, runner.CreateRunnerRequest(name=name, provider=provider))

    def fresh_user(self):
        """The same transport, calling as a new plain member."""
        user = json.loads(self.paddock.admin("user", "create", "--name", f"user-{uuid.uuid4().hex[:8]}"))
        return Session(self.paddock, self.transport, user["token"])

    def group(self):
        return json.loads(self.paddock.admin("group", "create", "--name", f"group-{uuid.uuid4().hex[:8]}"))["group_id"]


def expect_code(code, fn, *args, **kwargs):
    with pytest.raises(ConnectError) as raised:
        fn(*args, **kwargs)
    assert raised.value.code == code, raised.value


def create_runner(s: Session):
    created = s.call(s.runners.create_runner, runner.CreateRunnerRequest(
        name="Production Runner", provider=config.RUNNER_PROVIDER_AWS_EC2,
        spec=runner.RunnerSpec(desired_phase=runner.RUNNER_PHASE_ACTIVE,
                               configuration=runner.RunnerConfiguration(region="us-west", auto_update=True))))
    assert created.runner.kind == config.RUNNER_KIND_REMOTE
    assert created.runner.status.phase == runner.RUNNER_PHASE_CREATED
    assert created.runner.spec.configuration.region == "us-west"
    assert created.exchange_token.startswith("pdk_rex_")
    expect_code(Code.INVALID_ARGUMENT, s.call, s.runners.create_runner, runner.CreateRunnerRequest(name="ab"))


def get_runner(s: Session):
    created = s.create_runner()
    got = s.call(s.runners.get_runner, runner.GetRunnerRequest(runner_id=created.runner.runner_id))
    assert got.runner == created.runner
    expect_code(Code.NOT_FOUND, s.call, s.runners.get_runner, runner.GetRunnerRequest(runner_id=str(uuid.uuid4())))


def list_runners(s: Session):
    mac = s.create_runner("mac runner", config.RUNNER_PROVIDER_DESKTOP_MAC).runner.runner_id
    seen, token = [], ""
    while True:
        page = s.call(s.runners.list_runners, runner.ListRunnersRequest(
            pagination=pagination.PaginationRequest(page_size=2, token=token)))
        assert len(page.runners) <= 2
        seen += [r.runner_id for r in page.runners]
        token = page.pagination.next_token
        if not token:
            break
    assert mac in seen and len(seen) == len(set(seen))
    macs = s.call(s.runners.list_runners, runner.ListRunnersRequest(
        filter=runner.ListRunnersRequest.Filter(providers=[config.RUNNER_PROVIDER_DESKTOP_MAC])))
    assert mac in [r.runner_id for r in macs.runners]
    assert all(r.provider == config.RUNNER_PROVIDER_DESKTOP_MAC for r in macs.runners)
    expect_code(Code.INVALID_ARGUMENT, s.call, s.runners.list_runners,
                runner.ListRunnersRequest(pagination=pagination.PaginationRequest(page_size=101)))


def update_runner(s: Session):
    runner_id = s.create_runner().runner.runner_id
    s.call(s.runners.update_runner, runner.UpdateRunnerRequest(
        runner_id=runner_id, name="Updated Runner Name",
        spec=runner.UpdateRunnerRequest.Spec(configuration=runner.UpdateRunnerRequest.RunnerConfiguration(
            release_channel=runner.RUNNER_RELEASE_CHANNEL_LATEST, honeycomb_api_key="hc-key"))))
    got = s.call(s.runners.get_runner, runner.GetRunnerRequest(runner_id=runner_id)).runner
    assert got.name == "Updated Runner Name"
    assert got.spec.configuration.release_channel == runner.RUNNER_RELEASE_CHANNEL_LATEST
    assert got.spec.configuration.encrypted_honeycomb_api_key and b"hc-key" not in got.spec.configuration.encrypted_honeycomb_api_key
    expect_code(Code.INVALID_ARGUMENT, s.call, s.runners.update_runner, runner.UpdateRunnerRequest(runner_id="nope"))


def delete_runner(s: Session):
    runner_id = s.create_runner().runner.runner_id
    s.call(s.runners.delete_runner, runner.DeleteRunnerRequest(runner_id=runner_id, force=True))
    expect_code(Code.NOT_FOUND, s.call, s.runners.get_runner, runner.GetRunnerRequest(runner_id=runner_id))
    expect_code(Code.NOT_FOUND, s.call, s.runners.delete_runner, runner.DeleteRunnerRequest(runner_id=runner_id))


def create_runner_token(s: Session):
    runner_id = s.create_runner().runner.runner_id
    token = s.call(s.runners.create_runner_token, runner.CreateRunnerTokenRequest(runner_id=runner_id))
    assert token.exchange_token.startswith("pdk_rex_")
    access = s.identity.exchange_token(identity.ExchangeTokenRequest(exchange_token=token.exchange_token))
    assert access.access_token.startswith("pdk_rat_")
    expect_code(Code.NOT_FOUND, s.call, s.runners.create_runner_token,
                runner.CreateRunnerTokenRequest(runner_id=str(uuid.uuid4())))


def list_runner_policies(s: Session):
    runner_id, group_id = s.create_runner().runner.runner_id, s.group()
    s.call(s.runners.create_runner_policy, runner.CreateRunnerPolicyRequest(
        runner_id=runner_id, group_id=group_id, role=runner.RUNNER_ROLE_USER))
    listed = s.call(s.runners.list_runner_policies, runner.ListRunnerPoliciesRequest(runner_id=runner_id))
    assert [(p.group_id, p.role) for p in listed.policies] == [(group_id, runner.RUNNER_ROLE_USER)]
    expect_code(Code.INVALID_ARGUMENT, s.call, s.runners.list_runner_policies,
                runner.ListRunnerPoliciesRequest(runner_id="x"))


def create_runner_policy(s: Session):
    runner_id, group_id = s.create_runner().runner.runner_id, s.group()
    created = s.call(s.runners.create_runner_policy, runner.CreateRunnerPolicyRequest(
        runner_id=runner_id, group_id=group_id, role=runner.RUNNER_ROLE_ADMIN))
    assert created.policy.group_id == group_id and created.policy.role == runner.RUNNER_ROLE_ADMIN
    expect_code(Code.ALREADY_EXISTS, s.call, s.runners.create_runner_policy, runner.CreateRunnerPolicyRequest(
        runner_id=runner_id, group_id=group_id, role=runner.RUNNER_ROLE_ADMIN))
    expect_code(Code.NOT_FOUND, s.call, s.runners.create_runner_policy, runner.CreateRunnerPolicyRequest(
        runner_id=runner_id, group_id=str(uuid.uuid4()), role=runner.RUNNER_ROLE_ADMIN))


def update_runner_policy(s: Session):
    runner_id, group_id = s.create_runner().runner.runner_id, s.group()
    s.call(s.runners.create_runner_policy, runner.CreateRunnerPolicyRequest(
        runner_id=runner_id, group_id=group_id, role=runner.RUNNER_ROLE_ADMIN))
    updated = s.call(s.runners.update_runner_policy, runner.UpdateRunnerPolicyRequest(
        runner_id=runner_id, group_id=group_id, role=runner.RUNNER_ROLE_USER))
    assert updated.policy.role == runner.RUNNER_ROLE_USER
    expect_code(Code.NOT_FOUND, s.call, s.runners.update_runner_policy, runner.UpdateRunnerPolicyRequest(
        runner_id=runner_id, group_id=str(uuid.uuid4()), role=runner.RUNNER_ROLE_USER))


def delete_runner_policy(s: Session):
    runner_id, group_id = s.create_runner().runner.runner_id, s.group()
    s.call(s.runners.create_runner_policy, runner.CreateRunnerPolicyRequest(
        runner_id=runner_id, group_id=group_id, role=runner.RUNNER_ROLE_ADMIN))
    s.call(s.runners.delete_runner_policy, runner.DeleteRunnerPolicyRequest(runner_id=runner_id, group_id=group_id))
    listed = s.call(s.runners.list_runner_policies, runner.ListRunnerPoliciesRequest(runner_id=runner_id))
    assert list(listed.policies) == []
    expect_code(Code.NOT_FOUND, s.call, s.runners.delete_runner_policy,
                runner.DeleteRunnerPolicyRequest(runner_id=runner_id, group_id=group_id))


def exchange_token(s: Session):
    exchange = s.create_runner().exchange_token
    access = s.identity.exchange_token(identity.ExchangeTokenRequest(exchange_token=exchange))
    me = s.identity.get_authenticated_identity(identity.GetAuthenticatedIdentityRequest(),
                                               headers={"authorization": f"Bearer {access.access_token}"})
    assert me.subject.principal == identity.PRINCIPAL_RUNNER
    expect_code(Code.UNAUTHENTICATED, s.identity.exchange_token, identity.ExchangeTokenRequest(exchange_token=exchange))


def get_authenticated_identity(s: Session):
    me = s.call(s.identity.get_authenticated_identity, identity.GetAuthenticatedIdentityRequest())
    assert me.subject.principal == identity.PRINCIPAL_USER
    uuid.UUID(me.subject.id)
    uuid.UUID(me.organization_id)
    expect_code(Code.UNAUTHENTICATED, s.call, s.identity.get_authenticated_identity,
                identity.GetAuthenticatedIdentityRequest(), headers={})


def parse_context_url(s: Session):
    # a user without host tokens: parsed from the URL alone (no call to github.com)
    s = s.fresh_user()
    parsed = s.call(s.runners.parse_context_url, runner.ParseContextURLRequest(
        context_url="https://github.com/org/repo/tree/main"))
    assert parsed.scm_id == "github"
    assert parsed.git.clone_url == "https://github.com/org/repo.git" and parsed.git.branch == "main"
    expect_code(Code.INVALID_ARGUMENT, s.call, s.runners.parse_context_url,
                runner.ParseContextURLRequest(context_url="https://example.com/page"))


def check_authentication_for_host(s: Session):
    result = s.call(s.runners.check_authentication_for_host, runner.CheckAuthenticationForHostRequest(
        runner_id=s.create_runner().runner.runner_id, host="github.com"))
    assert result.scm_id == "github" and not result.authenticated and result.supports_pat.create_url
    expect_code(Code.INVALID_ARGUMENT, s.call, s.runners.check_authentication_for_host,
                runner.CheckAuthenticationForHostRequest(runner_id="x", host="github.com"))


def search_repositories(s: Session):
    # no host token for github.com yet: the SCM-backed RPCs ask to authenticate first
    runner_id = s.create_runner().runner.runner_id
    expect_code(Code.FAILED_PRECONDITION, s.call, s.runners.search_repositories,
                runner.SearchRepositoriesRequest(runner_id=runner_id, search_string="paddock", scm_host="github.com"))
    expect_code(Code.INVALID_ARGUMENT, s.call, s.runners.search_repositories,
                runner.SearchRepositoriesRequest(runner_id="x"))


def list_scm_organizations(s: Session):
    runner_id = s.create_runner().runner.runner_id
    expect_code(Code.FAILED_PRECONDITION, s.call, s.runners.list_scm_organizations,
                runner.ListSCMOrganizationsRequest(runner_id=runner_id, scm_host="github.com"))
    expect_code(Code.INVALID_ARGUMENT, s.call, s.runners.list_scm_organizations,
                runner.ListSCMOrganizationsRequest(runner_id=runner_id))


def check_repository_access(s: Session):
    runner_id = s.create_runner().runner.runner_id
    expect_code(Code.FAILED_PRECONDITION, s.call, s.runners.check_repository_access,
                runner.CheckRepositoryAccessRequest(runner_id=runner_id, repository_url="https://github.com/org/repo"))
    expect_code(Code.INVALID_ARGUMENT, s.call, s.runners.check_repository_access,
                runner.CheckRepositoryAccessRequest(runner_id=runner_id, repository_url="not a url"))


RPCS = [create_runner, get_runner, list_runners, update_runner, delete_runner, create_runner_token,
        list_runner_policies, create_runner_policy, update_runner_policy, delete_runner_policy,
        exchange_token, get_authenticated_identity, parse_context_url, check_authentication_for_host,
        search_repositories, list_scm_organizations, check_repository_access]


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_unimplemented_rpcs_answer_unimplemented(paddock, transport):
    s = Session(paddock, transport, paddock.admin_token)
    users = make_client(UserServiceClientSync, paddock, transport)
    expect_code(Code.UNIMPLEMENTED, s.call, users.set_suspended, user.SetSuspendedRequest())


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_without_the_api_base_path(paddock, transport):
    client = make_client(IdentityServiceClientSync, paddock, transport, base_path="")
    me = client.get_authenticated_identity(identity.GetAuthenticatedIdentityRequest(),
                                           headers={"authorization": f"Bearer {paddock.admin_token}"})
    assert me.subject.principal == identity.PRINCIPAL_USER


def test_the_server_log_holds_no_token(paddock):
    s = Session(paddock, "connect-json", paddock.admin_token)
    exchange = s.create_runner().exchange_token
    log = "".join(paddock.log)
    assert paddock.admin_token not in log and exchange not in log


def test_every_transport_reached_the_server_as_itself(paddock):
    # the call log names the protocol each call arrived in
    for transport in TRANSPORTS:
        s = Session(paddock, transport, paddock.admin_token)
        s.call(s.identity.get_authenticated_identity, identity.GetAuthenticatedIdentityRequest())
    log = "".join(paddock.log)
    for protocol in ['protocol="grpc"', 'protocol="grpc-web"', 'protocol="connect"']:
        assert protocol in log, protocol
