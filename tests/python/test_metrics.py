"""/metrics as Prometheus scrapes it: the official Python client's text parser
reads it, and it has the families an operator needs."""

import urllib.request

from gitpod.v1 import runner_pb2 as runner
from gitpod.v1 import runner_configuration_pb2 as config
from gitpod.v1.runner_connect import RunnerServiceClientSync
from prometheus_client.parser import text_string_to_metric_families

from conftest import make_client


def scrape(paddock):
    with urllib.request.urlopen(paddock.address + "/metrics") as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return {family.name: family for family in text_string_to_metric_families(response.read().decode())}


def test_metrics_parse_and_count_calls(paddock):
    runners = make_client(RunnerServiceClientSync, paddock, "connect-json")
    headers = {"authorization": f"Bearer {paddock.admin_token}"}
    created = runners.create_runner(runner.CreateRunnerRequest(
        name="scraped", provider=config.RUNNER_PROVIDER_LINUX_HOST), headers=headers)
    runners.get_runner(runner.GetRunnerRequest(runner_id=created.runner.runner_id), headers=headers)
    families = scrape(paddock)
    # the parser names counters without their _total suffix
    for name in ["paddock_rpc_calls", "paddock_rpc_duration_seconds", "paddock_runner_heartbeats",
                 "paddock_watch_streams_open", "paddock_token_cache_lookups", "paddock_runners",
                 "paddock_db_connections"]:
        assert name in families, f"{name} missing from {sorted(families)}"
    calls = [s for s in families["paddock_rpc_calls"].samples
             if s.labels.get("method") == "GetRunner" and s.labels.get("protocol") == "connect"
             and s.labels.get("code") == "OK"]
    assert calls and calls[0].value >= 1
    assert calls[0].labels["service"] == "gitpod.v1.RunnerService"
    created_phase = [s for s in families["paddock_runners"].samples
                     if s.labels.get("phase") == "RUNNER_PHASE_CREATED"]
    assert created_phase and created_phase[0].value >= 1
    histogram = families["paddock_rpc_duration_seconds"]
    assert any(s.name.endswith("_bucket") and s.labels.get("le") == "+Inf" for s in histogram.samples)
