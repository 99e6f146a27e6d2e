"""RunnerConfigurationService through the official SDK's generated client:
the rows of the SDK table (test_sdk_table.py)."""

import uuid

from connectrpc.code import Code
from gitpod.v1 import model_pb2 as model
from gitpod.v1 import runner_configuration_pb2 as config
from gitpod.v1 import runner_pb2 as runner
from gitpod.v1.runner_configuration_connect import RunnerConfigurationServiceClientSync

from conftest import make_client
from test_sdk_transports import Session, expect_code


class ConfigSession(Session):
    def __init__(self, paddock, transport, token):
        super().__init__(paddock, transport, token)
        self.config = make_client(RunnerConfigurationServiceClientSync, paddock, transport)

    def runner_id(self):
        return self.create_runner(f"config runner {uuid.uuid4().hex[:6]}").runner.runner_id

    def environment_class(self, runner_id, name="Regular"):
        return self.call(self.config.create_environment_class, config.CreateEnvironmentClassRequest(
            runner_id=runner_id, display_name=name, description="Four cores",
            configuration=[config.FieldValue(key="cpu", value="4")])).id

    def scm(self, runner_id, host="github.com"):
        return self.call(self.config.create_scm_integration, config.CreateSCMIntegrationRequest(
            runner_id=runner_id, scm_id="github", host=host, oauth_client_id="client",
            oauth_plaintext_client_secret="sdk-secret", pat=True)).id

    def host_token(self, runner_id, host="github.com"):
        return self.call(self.config.create_host_authentication_token, config.CreateHostAuthenticationTokenRequest(
            runner_id=runner_id, host=host, token="ghp_sdk", source=config.HOST_AUTHENTICATION_TOKEN_SOURCE_PAT,
            scopes=["repo"])).token

    def llm(self, runner_id):
        return self.call(self.config.create_llm_integration, config.CreateLLMIntegrationRequest(
            runner_id=runner_id, models=[model.SUPPORTED_MODEL_SONNET_4_5], endpoint="https://llm.example.com",
            api_key="sk-sdk", max_tokens=4096)).id


def create_environment_class(s):
    runner_id = s.runner_id()
    class_id = s.environment_class(runner_id)
    uuid.UUID(class_id)
    expect_code(Code.INVALID_ARGUMENT, s.call, s.config.create_environment_class, config.CreateEnvironmentClassRequest(
        runner_id=runner_id, display_name="Bad", description="Bad config",
        configuration=[config.FieldValue(key="cpu", value="lots")]))


def get_environment_class(s):
    class_id = s.environment_class(s.runner_id())
    got = s.call(s.config.get_environment_class, config.GetEnvironmentClassRequest(environment_class_id=class_id))
    assert got.environment_class.display_name == "Regular" and got.environment_class.enabled
    expect_code(Code.NOT_FOUND, s.call, s.config.get_environment_class,
                config.GetEnvironmentClassRequest(environment_class_id=str(uuid.uuid4())))


def list_environment_classes(s):
    runner_id = s.runner_id()
    ids = {s.environment_class(runner_id, f"Class {i}") for i in range(3)}
    listed = s.call(s.config.list_environment_classes, config.ListEnvironmentClassesRequest(
        filter=config.ListEnvironmentClassesRequest.Filter(runner_ids=[runner_id], enabled=True)))
    assert {c.id for c in listed.environment_classes} == ids


def update_environment_class(s):
    class_id = s.environment_class(s.runner_id())
    s.call(s.config.update_environment_class, config.UpdateEnvironmentClassRequest(
        environment_class_id=class_id, enabled=False, description="Now disabled"))
    got = s.call(s.config.get_environment_class, config.GetEnvironmentClassRequest(environment_class_id=class_id))
    assert not got.environment_class.enabled and got.environment_class.display_name == "Regular"


def get_runner_configuration_schema(s):
    schema = s.call(s.config.get_runner_configuration_schema,
                    config.GetRunnerConfigurationSchemaRequest(runner_id=s.runner_id())).schema
    assert [scm.scm_id for scm in schema.scm] == ["github", "gitlab", "bitbucket", "azure-devops"]
    assert any(f.id == "cpu" for f in schema.environment_classes)


def validate_runner_configuration(s):
    result = s.call(s.config.validate_runner_configuration, config.ValidateRunnerConfigurationRequest(
        runner_id=s.runner_id(), environment_class=config.EnvironmentClass(
            display_name="x", description="fine text", configuration=[config.FieldValue(key="gpu", value="1")])))
    assert not result.environment_class.valid
    assert result.environment_class.HasField("display_name_error")
    assert [e.key for e in result.environment_class.configuration_errors] == ["gpu"]


def create_scm_integration(s):
    runner_id = s.runner_id()
    uuid.UUID(s.scm(runner_id))
    expect_code(Code.ALREADY_EXISTS, s.scm, runner_id)


def get_scm_integration(s):
    scm_id = s.scm(s.runner_id())
    got = s.call(s.config.get_scm_integration, config.GetSCMIntegrationRequest(id=scm_id)).integration
    assert got.oauth.client_id == "client" and got.oauth.encrypted_client_secret
    assert b"sdk-secret" not in got.oauth.encrypted_client_secret


def list_scm_integrations(s):
    runner_id = s.runner_id()
    ids = {s.scm(runner_id, host) for host in ["github.com", "ghe.example.com"]}
    listed = s.call(s.config.list_scm_integrations, config.ListSCMIntegrationsRequest(
        filter=config.ListSCMIntegrationsRequest.Filter(runner_ids=[runner_id])))
    assert {i.id for i in listed.integrations} == ids


def update_scm_integration(s):
    scm_id = s.scm(s.runner_id())
    s.call(s.config.update_scm_integration, config.UpdateSCMIntegrationRequest(id=scm_id, oauth_client_id=""))
    got = s.call(s.config.get_scm_integration, config.GetSCMIntegrationRequest(id=scm_id)).integration
    assert not got.HasField("oauth") and got.pat


def delete_scm_integration(s):
    scm_id = s.scm(s.runner_id())
    s.call(s.config.delete_scm_integration, config.DeleteSCMIntegrationRequest(id=scm_id))
    expect_code(Code.NOT_FOUND, s.call, s.config.get_scm_integration, config.GetSCMIntegrationRequest(id=scm_id))


def create_host_authentication_token(s):
    token = s.host_token(s.runner_id())
    assert token.host == "github.com" and token.subject.id == token.user_id
    expect_code(Code.INVALID_ARGUMENT, s.call, s.config.create_host_authentication_token,
                config.CreateHostAuthenticationTokenRequest(runner_id=s.runner_id(), host="github.com"))


def get_host_authentication_token(s):
    token = s.host_token(s.runner_id())
    got = s.call(s.config.get_host_authentication_token, config.GetHostAuthenticationTokenRequest(id=token.id))
    assert got.token == token


def list_host_authentication_tokens(s):
    runner_id = s.runner_id()
    token = s.host_token(runner_id)
    listed = s.call(s.config.list_host_authentication_tokens, config.ListHostAuthenticationTokensRequest(
        filter=config.ListHostAuthenticationTokensRequest.Filter(runner_id=runner_id)))
    assert [t.id for t in listed.tokens] == [token.id]


def update_host_authentication_token(s):
    token = s.host_token(s.runner_id())
    s.call(s.config.update_host_authentication_token, config.UpdateHostAuthenticationTokenRequest(
        id=token.id, token="ghp_rotated", scopes=["repo", "workflow"]))
    got = s.call(s.config.get_host_authentication_token, config.GetHostAuthenticationTokenRequest(id=token.id))
    assert list(got.token.scopes) == ["repo", "workflow"]


def delete_host_authentication_token(s):
    token = s.host_token(s.runner_id())
    s.call(s.config.delete_host_authentication_token, config.DeleteHostAuthenticationTokenRequest(id=token.id))
    expect_code(Code.NOT_FOUND, s.call, s.config.get_host_authentication_token,
                config.GetHostAuthenticationTokenRequest(id=token.id))


def create_llm_integration(s):
    uuid.UUID(s.llm(s.runner_id()))
    expect_code(Code.INVALID_ARGUMENT, s.call, s.config.create_llm_integration,
                config.CreateLLMIntegrationRequest(runner_id=s.runner_id()))


def get_llm_integration(s):
    got = s.call(s.config.get_llm_integration, config.GetLLMIntegrationRequest(id=s.llm(s.runner_id()))).integration
    assert got.encrypted_api_key and b"sk-sdk" not in got.encrypted_api_key
    assert got.phase == model.LLM_INTEGRATION_PHASE_AVAILABLE


def list_llm_integrations(s):
    runner_id = s.runner_id()
    llm_id = s.llm(runner_id)
    listed = s.call(s.config.list_llm_integrations, config.ListLLMIntegrationsRequest(
        filter=config.ListLLMIntegrationsRequest.Filter(runner_ids=[runner_id])))
    assert [i.id for i in listed.integrations] == [llm_id]


def update_llm_integration(s):
    llm_id = s.llm(s.runner_id())
    s.call(s.config.update_llm_integration, config.UpdateLLMIntegrationRequest(
        id=llm_id, phase=model.LLM_INTEGRATION_PHASE_DISABLED))
    got = s.call(s.config.get_llm_integration, config.GetLLMIntegrationRequest(id=llm_id)).integration
    assert got.phase == model.LLM_INTEGRATION_PHASE_DISABLED and got.endpoint == "https://llm.example.com"


def delete_llm_integration(s):
    llm_id = s.llm(s.runner_id())
    s.call(s.config.delete_llm_integration, config.DeleteLLMIntegrationRequest(id=llm_id))
    expect_code(Code.NOT_FOUND, s.call, s.config.get_llm_integration, config.GetLLMIntegrationRequest(id=llm_id))


RPCS = [create_environment_class, get_environment_class, list_environment_classes, update_environment_class,
        get_runner_configuration_schema, validate_runner_configuration, create_scm_integration,
        get_scm_integration, list_scm_integrations, update_scm_integration, delete_scm_integration,
        create_host_authentication_token, get_host_authentication_token, list_host_authentication_tokens,
        update_host_authentication_token, delete_host_authentication_token, create_llm_integration,
        get_llm_integration, list_llm_integrations, update_llm_integration, delete_llm_integration]

