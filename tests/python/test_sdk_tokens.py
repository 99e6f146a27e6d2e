"""Signed tokens paddock issues — IdentityService.GetIDToken's OIDC ID tokens
and RunnerService.CreateRunnerLogsToken's access tokens — checked by an
independent verifier (PyJWT) against what the server publishes: its OpenID
discovery document and JWKS. The issuer is the server's public URL, by
default the address it is bound to."""

import base64
import json
import time
import urllib.request
import uuid

import jwt
import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from cryptography.hazmat.primitives.asymmetric import ec
from gitpod.v1 import identity_pb2 as identity
from gitpod.v1 import runner_configuration_pb2 as config
from gitpod.v1 import runner_pb2 as runner
from gitpod.v1.identity_connect import IdentityServiceClientSync
from gitpod.v1.runner_connect import RunnerServiceClientSync

from conftest import TRANSPORTS, make_client

ID_TOKEN_LIFETIME = 15 * 60
LOGS_TOKEN_LIFETIME = 3600


def bearer(token):
    return {"authorization": f"Bearer {token}"}


def new_user(paddock):
    return json.loads(paddock.admin("user", "create", "--name", f"signed-{uuid.uuid4().hex[:8]}"))


def expect_code(code, fn, *args, **kwargs):
    with pytest.raises(ConnectError) as raised:
        fn(*args, **kwargs)
    assert raised.value.code == code, raised.value


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.headers.get_content_type() == "application/json"
        return json.loads(response.read())


def b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def b64url_encode(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def discovery(paddock):
    return get_json(paddock.address + "/.well-known/openid-configuration")


@pytest.fixture(scope="module")
def jwks(paddock):
    return get_json(paddock.address + "/.well-known/jwks.json")


@pytest.fixture(scope="module")
def verifier(paddock):
    """PyJWT's own JWKS client: it fetches the keys and picks one by kid."""
    return jwt.PyJWKClient(paddock.address + "/.well-known/jwks.json")


def verify(paddock, verifier, token, audience, leeway=0, **options):
    """The claims of a token PyJWT accepts as paddock's, for `audience`."""
    key = verifier.get_signing_key_from_jwt(token)
    return jwt.decode(token, key, algorithms=["ES256"], audience=audience, issuer=paddock.address, leeway=leeway,
                      options={"require": ["iss", "sub", "aud", "exp", "iat"], **options})


def check_header(token, jwks):
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    assert header["kid"] in [k["kid"] for k in jwks["keys"]]
    # JWS ES256 signatures are r || s, 32 bytes each (not DER)
    assert len(b64url_decode(token.split(".")[2])) == 64


def check_times(claims):
    now = time.time()
    assert abs(claims["iat"] - now) < 60
    assert claims["nbf"] <= now + 1
    assert claims["exp"] > now


def id_token(paddock, token, audience, transport="connect-proto"):
    client = make_client(IdentityServiceClientSync, paddock, transport)
    return client.get_id_token(identity.GetIDTokenRequest(audience=audience), headers=bearer(token)).token


def organization_of(paddock, token):
    return make_client(IdentityServiceClientSync, paddock, "connect-proto").get_authenticated_identity(
        identity.GetAuthenticatedIdentityRequest(), headers=bearer(token)).organization_id


def test_discovery_names_the_server_as_issuer(paddock, discovery):
    assert discovery["issuer"] == paddock.address
    assert discovery["jwks_uri"] == paddock.address + "/.well-known/jwks.json"
    assert "ES256" in discovery["id_token_signing_alg_values_supported"]


def test_jwks_publishes_public_p256_keys(discovery, jwks):
    assert get_json(discovery["jwks_uri"]) == jwks
    assert jwks["keys"]
    kids = [k["kid"] for k in jwks["keys"]]
    assert len(kids) == len(set(kids)) and all(kids)
    for key in jwks["keys"]:
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
        assert len(b64url_decode(key["x"])) == 32 and len(b64url_decode(key["y"])) == 32
        # public halves only
        assert "d" not in key
        parsed = jwt.PyJWK(key)
        assert parsed.key_id == key["kid"]
        assert isinstance(parsed.key, ec.EllipticCurvePublicKey)


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_id_token_of_a_user(paddock, jwks, verifier, transport):
    member = new_user(paddock)
    token = id_token(paddock, member["token"], ["sts.amazonaws.com"], transport)
    check_header(token, jwks)
    claims = verify(paddock, verifier, token, "sts.amazonaws.com",
                    require=["iss", "sub", "aud", "exp", "iat", "nbf", "jti"])
    assert claims["iss"] == paddock.address
    assert claims["aud"] in (["sts.amazonaws.com"], "sts.amazonaws.com")
    assert claims["sub"] == f"user:{member['user_id']}"
    assert claims["organization_id"] == organization_of(paddock, member["token"])
    assert claims["jti"]
    check_times(claims)
    assert 0 < claims["exp"] - claims["iat"] <= ID_TOKEN_LIFETIME


def test_id_tokens_are_each_their_own(paddock, verifier):
    member = new_user(paddock)
    first = verify(paddock, verifier, id_token(paddock, member["token"], ["sts.amazonaws.com"]), "sts.amazonaws.com")
    second = verify(paddock, verifier, id_token(paddock, member["token"], ["sts.amazonaws.com"]), "sts.amazonaws.com")
    assert first["jti"] != second["jti"]


def test_id_token_for_several_audiences(paddock, verifier):
    member = new_user(paddock)
    token = id_token(paddock, member["token"], ["sts.amazonaws.com", "vault.example.com"])
    for audience in ("sts.amazonaws.com", "vault.example.com"):
        claims = verify(paddock, verifier, token, audience)
        assert sorted(claims["aud"]) == ["sts.amazonaws.com", "vault.example.com"]


def test_id_token_of_a_runner(paddock, jwks, verifier):
    runners = make_client(RunnerServiceClientSync, paddock, "connect-proto")
    created = runners.create_runner(runner.CreateRunnerRequest(
        name="signed for", provider=config.RUNNER_PROVIDER_LINUX_HOST), headers=bearer(paddock.admin_token))
    access = make_client(IdentityServiceClientSync, paddock, "connect-proto").exchange_token(
        identity.ExchangeTokenRequest(exchange_token=created.exchange_token)).access_token
    token = id_token(paddock, access, ["sts.amazonaws.com"])
    check_header(token, jwks)
    claims = verify(paddock, verifier, token, "sts.amazonaws.com")
    assert claims["sub"] == f"runner:{created.runner.runner_id}"
    assert claims["organization_id"] == organization_of(paddock, paddock.admin_token)
    assert 0 < claims["exp"] - claims["iat"] <= ID_TOKEN_LIFETIME


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_id_token_needs_an_audience_and_a_caller(paddock, transport):
    member = new_user(paddock)
    client = make_client(IdentityServiceClientSync, paddock, transport)
    expect_code(Code.INVALID_ARGUMENT, client.get_id_token, identity.GetIDTokenRequest(audience=[]),
                headers=bearer(member["token"]))
    expect_code(Code.UNAUTHENTICATED, client.get_id_token, identity.GetIDTokenRequest(audience=["sts.amazonaws.com"]))


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_runner_logs_token(paddock, jwks, verifier, transport):
    creator = new_user(paddock)
    runners = make_client(RunnerServiceClientSync, paddock, transport)
    runner_id = runners.create_runner(runner.CreateRunnerRequest(
        name=f"logs over {transport}", provider=config.RUNNER_PROVIDER_LINUX_HOST),
        headers=bearer(creator["token"])).runner.runner_id
    token = runners.create_runner_logs_token(runner.CreateRunnerLogsTokenRequest(runner_id=runner_id),
                                             headers=bearer(creator["token"])).access_token
    check_header(token, jwks)
    assert jwt.get_unverified_header(token)["typ"] == "runner-logs+jwt"
    audience = f"paddock:runner:{runner_id}"
    claims = verify(paddock, verifier, token, audience)
    assert claims["aud"] in ([audience], audience)
    assert claims["sub"] == f"user:{creator['user_id']}"
    assert claims["scope"] == "runner.logs:read"
    check_times(claims)
    assert claims["exp"] - claims["iat"] == LOGS_TOKEN_LIFETIME
    # it is for that runner only
    with pytest.raises(jwt.InvalidAudienceError):
        verify(paddock, verifier, token, f"paddock:runner:{uuid.uuid4()}")
    # and no ID token can pass for it: paddock's audiences are not for the asking
    member = new_user(paddock)
    client = make_client(IdentityServiceClientSync, paddock, transport)
    expect_code(Code.INVALID_ARGUMENT, client.get_id_token, identity.GetIDTokenRequest(audience=[audience]),
                headers=bearer(member["token"]))


@pytest.mark.parametrize("transport", list(TRANSPORTS))
def test_runner_logs_token_only_for_those_managing_the_runner(paddock, transport):
    creator, bystander = new_user(paddock), new_user(paddock)
    runners = make_client(RunnerServiceClientSync, paddock, transport)
    runner_id = runners.create_runner(runner.CreateRunnerRequest(
        name=f"private logs over {transport}", provider=config.RUNNER_PROVIDER_LINUX_HOST),
        headers=bearer(creator["token"])).runner.runner_id
    expect_code(Code.PERMISSION_DENIED, runners.create_runner_logs_token,
                runner.CreateRunnerLogsTokenRequest(runner_id=runner_id), headers=bearer(bystander["token"]))


# What a verifier must refuse: PyJWT, given paddock's keys, turns each away.

@pytest.fixture(scope="module")
def signed(paddock):
    """An ID token of a new member, for sts.amazonaws.com."""
    return id_token(paddock, new_user(paddock)["token"], ["sts.amazonaws.com"])


def test_refused_for_another_audience(paddock, verifier, signed):
    verify(paddock, verifier, signed, "sts.amazonaws.com")
    with pytest.raises(jwt.InvalidAudienceError):
        verify(paddock, verifier, signed, "vault.example.com")


def test_refused_when_a_claim_is_changed(paddock, verifier, signed):
    header, payload, signature = signed.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["sub"] = f"user:{uuid.uuid4()}"
    forged = ".".join([header, b64url_encode(json.dumps(claims).encode()), signature])
    with pytest.raises(jwt.InvalidSignatureError):
        verify(paddock, verifier, forged, "sts.amazonaws.com")


def test_refused_once_expired(paddock, verifier, signed):
    claims = verify(paddock, verifier, signed, "sts.amazonaws.com")
    # a negative leeway moves "now" forward (iat and nbf, in the past then
    # as now, are not what is tested): good five seconds before its expiry,
    # refused five seconds after
    def at(later):
        return verify(paddock, verifier, signed, "sts.amazonaws.com", leeway=-(later - time.time()),
                      verify_iat=False, verify_nbf=False)

    assert at(claims["exp"] - 5)["jti"] == claims["jti"]
    with pytest.raises(jwt.ExpiredSignatureError):
        at(claims["exp"] + 5)


def test_refused_when_signed_by_another_key(paddock, verifier, signed):
    claims = verify(paddock, verifier, signed, "sts.amazonaws.com")
    kid = jwt.get_unverified_header(signed)["kid"]
    impostor = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(claims, impostor, algorithm="ES256", headers={"kid": kid})
    with pytest.raises(jwt.InvalidSignatureError):
        verify(paddock, verifier, forged, "sts.amazonaws.com")
