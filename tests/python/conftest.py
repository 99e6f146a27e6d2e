"""Starts a real paddock process for the SDK compatibility tests and builds the
official SDK's clients for every transport."""

import os
import re
import secrets
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from connectrpc.compat import google_protobuf_binary_codec, google_protobuf_json_codec
from connectrpc.protocol import ProtocolType
from pyqwest import HTTPVersion, SyncClient, SyncHTTPTransport

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("PADDOCK_BIN", ROOT / "target" / "debug" / "paddock"))


class Paddock:
    def __init__(self, workdir: Path, *extra: str):
        self.workdir = workdir
        self.database_url = f"sqlite://{workdir / 'paddock.db'}"
        self.admin_token = "pdk_test_admin_" + secrets.token_urlsafe(24)
        env = dict(os.environ, PADDOCK_ADMIN_TOKEN=self.admin_token, PADDOCK_LOG="info")
        env.pop("DATABASE_URL", None)
        self.process = subprocess.Popen(
            [str(BINARY), "--database-url", self.database_url, "serve", "--listen", "127.0.0.1:0", *extra],
            cwd=workdir, env=env, stderr=subprocess.PIPE, text=True,
        )
        self.log = []
        for line in self.process.stderr:
            self.log.append(line)
            match = re.search(r"listen=(\S+)", line)
            if match:
                self.address = f"http://{match.group(1)}"
                break
        else:
            raise RuntimeError("paddock exited before serving:\n" + "".join(self.log))
        threading.Thread(target=lambda: self.log.extend(self.process.stderr), daemon=True).start()

    def admin(self, *args: str) -> str:
        out = subprocess.run([str(BINARY), "--database-url", self.database_url, "admin", *args],
                             cwd=self.workdir, check=True, capture_output=True, text=True)
        return out.stdout

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=30) == 0


@pytest.fixture(scope="session")
def paddock():
    with tempfile.TemporaryDirectory() as workdir:
        server = Paddock(Path(workdir))
        yield server
        server.stop()


_h2c = SyncClient(SyncHTTPTransport(http_version=HTTPVersion.HTTP2))

# (protocol, codec, http client): the four ways the SDK can talk to paddock
TRANSPORTS = {
    "connect-proto": (ProtocolType.CONNECT, google_protobuf_binary_codec(), None),
    "connect-json": (ProtocolType.CONNECT, google_protobuf_json_codec(), None),
    "grpc": (ProtocolType.GRPC, google_protobuf_binary_codec(), _h2c),
    "grpc-web": (ProtocolType.GRPC_WEB, google_protobuf_binary_codec(), None),
}


def make_client(cls, paddock: Paddock, transport: str, base_path: str = "/api"):
    protocol, codec, http_client = TRANSPORTS[transport]
    return cls(paddock.address + base_path, protocol=protocol, codec=codec, http_client=http_client)
