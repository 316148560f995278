"""The compose tier's fixtures: the whole deployment set up by compose/setup.sh and
compose/up.sh once per session and always torn down by compose/down.sh; the results table
printed at the end of the run.

Env: BBS_COMPOSE_PROJECT (default bbsct, so a cluster of yours under the default project
name `bbs` is left alone), BBS_SUBNET (default 10.149.0.0/24), BBS_BOT_INTERVAL (default
0.5 s), BBS_COMPOSE_RESULTS (a file to write the results table to, too).
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator
from pathlib import Path

import pytest

from tests.compose.harness import ComposeCluster, Requester, Results, default_env, elapsed
from tests.support import wait_for

PROJECT = os.environ.get("BBS_COMPOSE_PROJECT", "bbsct")
RESULTS = pytest.StashKey[Results]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[RESULTS] = Results()


@pytest.fixture(scope="session")
def results(pytestconfig: pytest.Config) -> Results:
    return pytestconfig.stash[RESULTS]


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest, results: Results) -> ComposeCluster:
    """The deployment, serving. compose/down.sh runs at the end whatever happened."""
    compose = ComposeCluster(PROJECT, default_env(PROJECT))
    request.addfinalizer(compose.down)  # registered first: runs even if setup fails
    started = time.monotonic()
    print(f"\n[compose] compose/setup.sh (project {PROJECT}) ...", flush=True)
    compose.script("setup.sh")
    results.setup_seconds = elapsed(started)
    compose.script("down.sh")  # leftovers of an interrupted earlier run of this project
    with results.row(
        "none (compose/up.sh)",
        "3 replicas serve, know each other, agree on a coordinator, reach the reference",
    ) as row:
        up = time.monotonic()
        compose.script("up.sh")
        client = Requester(compose.broker_endpoint, timeout=2.0)
        try:
            wait_for(lambda: client.request("users"), timeout=120, what="broker answering")
        finally:
            client.close()
        compose.wait_converged(120, what="cluster settled after up")
        row.figure = (
            f"serving {elapsed(up):.1f}s after up (setup.sh took {results.setup_seconds:.0f}s)"
        )
    print(f"[compose] cluster up: {row.figure}", flush=True)
    return compose


@pytest.fixture
def healthy(cluster: ComposeCluster) -> ComposeCluster:
    """The cluster as each test expects to find it: everything running and converged."""
    cluster.restore()
    cluster.wait_converged(90, what="a healthy cluster before the test")
    return cluster


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test carries the tail of every server's log, for the bug report."""
    report = yield
    compose = getattr(item, "funcargs", {}).get("healthy")
    if report.failed and report.when == "call" and isinstance(compose, ComposeCluster):
        for name in compose.servers:
            report.sections.append((f"podman logs --tail 25 {name}", compose.logs(name, 25)))
    return report


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    results = config.stash.get(RESULTS, None)
    if results is None or not results.rows:
        return
    text = results.render()
    setup = f"{results.setup_seconds:.0f}s" if results.setup_seconds is not None else "-"
    total = f"total {elapsed(results.started):.0f}s (compose/setup.sh {setup})"
    terminalreporter.section("compose fault tests")
    terminalreporter.write_line(text)
    terminalreporter.write_line(total)
    target = os.environ.get("BBS_COMPOSE_RESULTS")
    if target:
        Path(target).write_text(f"{text}\n{total}\n")
