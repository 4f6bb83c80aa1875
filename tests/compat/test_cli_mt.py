"""The C client's shell (cli_mt from Debian's zookeeper-bin), driven line by
line on stdin.  cli_mt is asynchronous and prints completions on stderr, so
each command is followed by waiting (bounded) for its completion text.

Its syntax: `create [+e|+s|+es] <path>` always stores the data "new";
`get`/`ls`/`ls2` leave a watch; `exists` is synchronous and prints only on
error; `quit` closes the session.
"""

import os
import re
import subprocess
import threading
import time

import pytest

CLI_MT = "/usr/lib/zookeeper/bin/cli_mt"
STEP_TIMEOUT_S = 15.0



@pytest.fixture(autouse=True)
def _client_installed():
    # The suite must not pass with its subject missing: tools/install-deps installs it.
    assert os.access(CLI_MT, os.X_OK), f"{CLI_MT} missing (Debian package zookeeper-bin; run tools/install-deps)"


class CliMt:
    def __init__(self, hostport):
        self.proc = subprocess.Popen(
            [CLI_MT, hostport], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, bufsize=0)
        self.out = ""
        self.mark = 0
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        match = self.expect(r"Got a new session id: 0x([0-9a-f]+)\n")
        self.session_id = int(match.group(1), 16)

    def _read(self):
        while True:
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            with self.cond:
                if not chunk:
                    self.cond.notify_all()
                    return
                self.out += chunk.decode("utf-8", errors="replace")
                self.cond.notify_all()

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def expect(self, *patterns, timeout=STEP_TIMEOUT_S):
        """Wait until every pattern matches the output after the mark (in any
        order); move the mark past the last match; return the first match."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                window = self.out[self.mark:]
                matches = [re.search(p, window) for p in patterns]
                if all(matches):
                    self.mark += max(m.end() for m in matches)
                    return matches[0]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    missing = [p for p, m in zip(patterns, matches) if not m]
                    raise AssertionError(
                        f"cli_mt: no output matching {missing} within {timeout}s; "
                        f"output since last step:\n{window}")
                self.cond.wait(remaining)

    def run(self, line, *patterns):
        self.send(line)
        return self.expect(*patterns)

    def quit(self):
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=STEP_TIMEOUT_S)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=STEP_TIMEOUT_S)
        return self.proc.returncode


@pytest.fixture
def cli(server):
    shell = CliMt(server.hostport)
    yield shell
    shell.quit()


def esc(path):
    return re.escape(path)


def test_crud(cli, zk, base):
    p = base + "/x"
    cli.run(f"create {p}", rf"\[{esc(p)}\]: rc = 0\n\tname = {esc(p)}\n")
    assert zk.get(p)[0] == b"new"
    cli.run(f"get {p}", rf"{esc(p)}: rc = 0\n value_len = 3\nnew\nStat:\n", r"\tversion=0\taversion=0\n")
    cli.run(f"set {p} v2", rf"{esc(p)}: rc = 0 Stat:\n",
            rf"Watcher CHANGED_EVENT state = CONNECTED_STATE for path {esc(p)}\n")
    assert zk.get(p)[0] == b"v2"
    cli.run(f"get {p}", rf"{esc(p)}: rc = 0\n value_len = 2\nv2\nStat:\n", r"\tversion=1\t")
    cli.run(f"delete {p}", rf"{esc(p)}: rc = 0\n",
            rf"Watcher DELETED_EVENT state = CONNECTED_STATE for path {esc(p)}\n")
    assert zk.exists(p) is None


def test_children(cli, zk, base):
    for name in ("b", "a", "c"):
        zk.create(f"{base}/{name}")
    match = cli.run(f"ls {base}", rf"{esc(base)}: rc = 0\n((?:\t[^\n]*\n)*)time = ")
    assert sorted(line.strip() for line in match.group(1).splitlines()) == ["a", "b", "c"]
    cli.run(f"ls2 {base}", rf"{esc(base)}: rc = 0\n", r"\tczxid=[0-9a-f]+\n")
    cli.run(f"create {base}/d", rf"Watcher CHILD_EVENT state = CONNECTED_STATE for path {esc(base)}\n",
            rf"\[{esc(base)}/d\]: rc = 0\n")


def test_sequential_ephemeral_and_session(server, zk, base):
    cli = CliMt(server.hostport)
    try:
        cli.run(f"create +s {base}/s-", rf"name = {esc(base)}/s-0000000000\n")
        cli.run(f"create +e {base}/e", rf"\[{esc(base)}/e\]: rc = 0\n")
        cli.run(f"create +es {base}/es-", rf"name = {esc(base)}/es-0000000002\n")
        stat = zk.exists(base + "/e")
        assert stat.ephemeralOwner == cli.session_id
        cli.run(f"create2 {base}/c2", rf"\[{esc(base)}/c2\]: rc = 0\n\tname = {esc(base)}/c2\n",
                r"\tczxid=[0-9a-f]+\n")
        cli.run(f"sync {base}", rf"\[{esc(base)}\]: rc = 0\n\tname = {esc(base)}\n")
    finally:
        assert cli.quit() == 0
    assert zk.exists(base + "/e") is None, "ephemeral survived cli_mt quit (closeSession)"
    assert zk.exists(base + "/es-0000000002") is None
    assert zk.exists(base + "/s-0000000000") is not None


def test_errors(cli, zk, base):
    zk.create(base + "/full/child", makepath=True)
    cli.run(f"create {base}/full", rf"\[{esc(base)}/full\]: rc = -110\n")
    cli.run(f"delete {base}/full", rf"{esc(base)}/full: rc = -111\n")
    cli.run(f"get {base}/nope", rf"{esc(base)}/nope: rc = -101\n")
    cli.run(f"exists {base}/nope", rf"Error -101 for {esc(base)}/nope\n")
    cli.run(f"create {base}/nope/child", rf"\[{esc(base)}/nope/child\]: rc = -101\n")
    cli.run(f"set {base}/nope x", rf"{esc(base)}/nope: rc = -101 Stat:\n")


def test_exists_watch(cli, zk, base):
    # the synchronous exists reports NoNode as an error, but leaves the watch
    cli.run(f"exists {base}/later", rf"Error -101 for {esc(base)}/later\n")
    zk.create(base + "/later")
    cli.expect(rf"Watcher CREATED_EVENT state = CONNECTED_STATE for path {esc(base)}/later\n")
