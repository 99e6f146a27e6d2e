"""EventService through the official SDK's generated client: WatchEvents as
a server stream over Connect, gRPC and gRPC-Web — a runner's CREATE within a
second of CreateRunner made by another client, its UPDATE, and (with a
shortened lease) the UPDATE_STATUS of it going INACTIVE once its agent is
killed — and the audit log (ListAuditLogs, GetAuditLog)."""

import queue
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from gitpod.v1 import event_pb2 as event
from gitpod.v1 import runner_configuration_pb2 as config
from gitpod.v1 import runner_pb2 as runner
from gitpod.v1.event_connect import EventServiceClientSync
from gitpod.v1.runner_connect import RunnerServiceClientSync

from conftest import BINARY, Paddock, make_client


@pytest.fixture(scope="module")
def quick_paddock():
    """A paddock whose leases run out in a second."""
    with tempfile.TemporaryDirectory() as workdir:
        server = Paddock(Path(workdir), "--runner-lease", "500ms", "--runner-lease-grace", "500ms")
        yield server
        server.stop()


class Watcher:
    """Reads a WatchEvents stream on a thread of its own."""

    def __init__(self, client, headers):
        self.events = queue.Queue()
        request = event.WatchEventsRequest(organization=True)

        def read():
            try:
                for e in client.watch_events(request, headers=headers):
                    self.events.put(e)
            except Exception as error:  # the stream ends when the server stops
                self.events.put(error)

        threading.Thread(target=read, daemon=True).start()

    def next_of(self, resource_id, within):
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no event of {resource_id} within {within} s"
            e = self.events.get(timeout=left)
            assert not isinstance(e, Exception), e
            if e.resource_id == resource_id:
                return e


@pytest.mark.parametrize("transport", ["connect-proto", "connect-json", "grpc", "grpc-web"])
def test_watch_events_hears_create_update_and_a_runner_going_inactive(quick_paddock, transport):
    auth = {"authorization": f"Bearer {quick_paddock.admin_token}"}
    watcher = Watcher(make_client(EventServiceClientSync, quick_paddock, transport), auth)
    time.sleep(0.3)  # the stream is open before the change is made
    runners = make_client(RunnerServiceClientSync, quick_paddock, "connect-proto")

    made = time.monotonic()
    created = runners.create_runner(runner.CreateRunnerRequest(
        name=f"watched over {transport}", provider=config.RUNNER_PROVIDER_LINUX_HOST), headers=auth)
    runner_id = created.runner.runner_id
    e = watcher.next_of(runner_id, within=1.0)
    assert time.monotonic() - made < 1.0
    assert (e.operation, e.resource_type) == (event.RESOURCE_OPERATION_CREATE, event.RESOURCE_TYPE_RUNNER)

    runners.update_runner(runner.UpdateRunnerRequest(runner_id=runner_id, name="renamed"), headers=auth)
    e = watcher.next_of(runner_id, within=1.0)
    assert e.operation == event.RESOURCE_OPERATION_UPDATE

    # a real runner comes alive (its sign-up: UPDATE_STATUS), then is killed
    with tempfile.TemporaryDirectory() as state:
        agent = subprocess.Popen(
            [str(BINARY), "agent", "--server", quick_paddock.address, "--exchange-token", created.exchange_token,
             "--state-file", str(Path(state) / "agent.json")],
            stderr=subprocess.DEVNULL)
        try:
            e = watcher.next_of(runner_id, within=10.0)
            assert e.operation == event.RESOURCE_OPERATION_UPDATE_STATUS
            time.sleep(0.5)
        finally:
            agent.kill()
            agent.wait()
    # lease 500 ms + grace 500 ms, a sweep every 166 ms: INACTIVE
    deadline = time.monotonic() + 10
    while True:
        e = watcher.next_of(runner_id, within=deadline - time.monotonic())
        if e.operation != event.RESOURCE_OPERATION_UPDATE_STATUS:
            continue
        got = runners.get_runner(runner.GetRunnerRequest(runner_id=runner_id), headers=auth)
        if got.runner.status.phase == runner.RUNNER_PHASE_INACTIVE:
            assert got.runner.status.message.startswith("no heartbeat since")
            break


@pytest.mark.parametrize("transport", ["connect-proto", "connect-json", "grpc", "grpc-web"])
def test_audit_log_through_the_sdk(paddock, transport):
    auth = {"authorization": f"Bearer {paddock.admin_token}"}
    runners = make_client(RunnerServiceClientSync, paddock, transport)
    created = runners.create_runner(runner.CreateRunnerRequest(
        name=f"audited over {transport}", provider=config.RUNNER_PROVIDER_LINUX_HOST), headers=auth)
    runner_id = created.runner.runner_id
    events = make_client(EventServiceClientSync, paddock, transport)
    listed = events.list_audit_logs(event.ListAuditLogsRequest(
        filter=event.ListAuditLogsRequest.Filter(subject_ids=[runner_id])), headers=auth)
    assert [e.action for e in listed.entries] == ["runner.create"]
    entry = listed.entries[0]
    assert entry.subject_type == event.RESOURCE_TYPE_RUNNER
    assert entry.kind == event.AUDIT_LOG_ENTRY_KIND_RESOURCE_CHANGE
    got = events.get_audit_log(event.GetAuditLogRequest(audit_log_entry_id=entry.id), headers=auth)
    assert got.entry == entry
