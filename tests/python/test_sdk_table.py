"""The SDK table: every implemented RPC of paddock through the official SDK's
generated clients (PyPI gitpod-sdk 1.2.0), one row per RPC, one column per
transport — Connect with protobuf, Connect with JSON, gRPC (h2c), gRPC-Web."""

import pytest

from conftest import TRANSPORTS
from test_sdk_configuration import RPCS as CONFIGURATION_RPCS, ConfigSession
from test_sdk_transports import RPCS as RUNNER_AND_IDENTITY_RPCS

RPCS = RUNNER_AND_IDENTITY_RPCS + CONFIGURATION_RPCS


def test_the_table_covers_every_implemented_rpc():
    assert len(RPCS) == len({f.__name__ for f in RPCS}) == 17 + 21


@pytest.mark.parametrize("transport", list(TRANSPORTS))
@pytest.mark.parametrize("rpc", RPCS, ids=[f.__name__ for f in RPCS])
def test_rpc(paddock, rpc, transport):
    rpc(ConfigSession(paddock, transport, paddock.admin_token))
