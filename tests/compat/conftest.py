"""Fixtures of the real-client compatibility suite.

One server for the whole session (``server``), kazoo clients (``zk``,
``make_zk``), raw wire clients (``raw``, ``make_raw``) and a fresh, unique
base znode per test (``base``) that is removed afterwards with super
authentication, so tests do not see each other's nodes.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kazoo.client import KazooClient  # noqa: E402

import rawzk  # noqa: E402
from servers import SUPER_PASSWORD, SUPER_USER, Server, target  # noqa: E402

TEST_TIMEOUT_S = float(os.environ.get("ZK_TEST_TIMEOUT", "120"))

logging.getLogger("kazoo").setLevel(logging.WARNING)


def pytest_sessionfinish(session, exitstatus):
    """A skipped test fails the run: this suite must not pass with part of its subject missing
    (a client not installed, a call a client library lacks). Write the test so it runs."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        print(f"\ncompat suite: {len(skipped)} test(s) skipped; a skip fails this suite")
        session.exitstatus = 1


# -- a hard bound on every test body -------------------------------------------

class TestTimeout(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    def on_alarm(signum, frame):
        raise TestTimeout(f"{item.nodeid} exceeded the per-test bound of {TEST_TIMEOUT_S}s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def pytest_report_header(config):
    kind = target()
    extra = f" PADDOCK_BIN={os.environ.get('PADDOCK_BIN', '(default)')}" if kind == "paddock" else ""
    return f"compat target: ZK_TARGET={kind}{extra}"


# -- servers and clients ---------------------------------------------------------

@pytest.fixture(scope="session")
def server():
    srv = Server(name="main")
    srv.start()
    yield srv
    srv.stop()


_test_number = itertools.count()


@pytest.fixture(autouse=True)
def spread_over_members(request):
    """With ZK_TARGET=paddock-ensemble, each test talks to the next member in turn."""
    if target() == "paddock-ensemble" and "server" in request.fixturenames:
        request.getfixturevalue("server").pin(next(_test_number))
    yield


def kazoo_client(server, timeout=10.0, **kwargs) -> KazooClient:
    client = KazooClient(hosts=server.hostport, timeout=timeout, **kwargs)
    client.start(timeout=15)
    return client


def stop_kazoo(client: KazooClient) -> None:
    try:
        client.stop()
    finally:
        client.close()


@pytest.fixture
def make_zk(server):
    clients = []

    def make(**kwargs) -> KazooClient:
        client = kazoo_client(server, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        stop_kazoo(client)


@pytest.fixture
def zk(make_zk) -> KazooClient:
    return make_zk()


@pytest.fixture
def make_raw(server):
    clients = []

    def make(**kwargs) -> rawzk.RawClient:
        client = rawzk.RawClient(server.host, server.port, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def raw(make_raw) -> rawzk.RawClient:
    return make_raw()


@pytest.fixture
def super_raw(make_raw) -> rawzk.RawClient:
    client = make_raw()
    assert client.auth("digest", f"{SUPER_USER}:{SUPER_PASSWORD}".encode()) == rawzk.Err.OK
    return client


_counter = itertools.count()


def _delete_tree(client: rawzk.RawClient, path: str) -> None:
    try:
        children = client.get_children(path)
    except rawzk.ZKError:
        return
    for child in children:
        _delete_tree(client, f"{path}/{child}")
    try:
        client.delete(path)
    except rawzk.ZKError:
        pass


@pytest.fixture
def base(server, request):
    """A fresh persistent znode, unique to this test, removed afterwards."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", request.node.name)[:60]
    path = f"/compat-{name}-{next(_counter)}"
    with rawzk.RawClient(server.host, server.port) as client:
        client.create(path)
    yield path
    with rawzk.RawClient(server.host, server.port) as cleaner:
        cleaner.auth("digest", f"{SUPER_USER}:{SUPER_PASSWORD}".encode())
        _delete_tree(cleaner, path)


wait_until = rawzk.wait_until
