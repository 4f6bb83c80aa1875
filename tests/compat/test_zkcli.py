"""The Java shell, Debian's /usr/share/zookeeper/bin/zkCli.sh (ZooKeeperMain
from /usr/share/java/zookeeper.jar), one command per invocation:
`zkCli.sh -server HOST:PORT <command> <args...>`.

zkCli prints results on stdout after a connection banner and messages such
as "Created /y" or "Node does not exist: /y" on stderr; it exits 0 on
success and 1 when the command failed with a ZooKeeper error.
"""

import os
import re
import subprocess

import pytest

from servers import digest

ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
RUN_TIMEOUT_S = 60.0



@pytest.fixture(autouse=True)
def _client_installed():
    # The suite must not pass with its subject missing: tools/install-deps installs it.
    assert os.access(ZKCLI, os.X_OK), f"{ZKCLI} missing (Debian package zookeeper; run tools/install-deps)"

STAT_KEYS = ["cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion", "dataVersion",
             "aclVersion", "ephemeralOwner", "dataLength", "numChildren"]


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.stderr = "\n".join(l for l in proc.stderr.splitlines() if not l.startswith("SLF4J"))
        out = proc.stdout
        # drop the banner: "Connecting to h:p", then the SyncConnected event. zkCli's watcher
        # prints it from its event thread as two println("\n" + text) calls, "WATCHER::" and the
        # event, each landing anywhere among the command's own lines (CI saw both orders).
        banner = re.match(r"Connecting to \S+\n", out)
        out = out[banner.end():] if banner else out
        chunks = ["\nWATCHER::\n", "\nWatchedEvent state:SyncConnected type:None path:null\n"]
        self.connected = bool(banner) and all(chunk in out for chunk in chunks)
        for chunk in chunks:
            out = out.replace(chunk, "", 1)
        self.stdout = out

    def __repr__(self):
        return f"exit {self.code}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


@pytest.fixture
def zkcli(server):
    def run(*args):
        env = dict(os.environ, JAVA=os.environ.get("JAVA", "/usr/bin/java"))
        proc = subprocess.run([ZKCLI, "-server", server.hostport, *args], capture_output=True,
                              text=True, timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL, env=env)
        result = Result(proc)
        assert result.connected, f"zkCli did not connect: {result}"
        return result
    return run


def stat_of(text):
    pairs = dict(line.split(" = ", 1) for line in text.strip().splitlines() if " = " in line)
    missing = [k for k in STAT_KEYS if k not in pairs]
    assert not missing, f"stat lacks {missing}: {text!r}"
    return pairs


def test_create_get_set(zkcli, zk, base):
    p = base + "/y"
    r = zkcli("create", p, "hello")
    assert (r.code, r.stderr.strip()) == (0, f"Created {p}"), r
    assert zk.get(p)[0] == b"hello"
    r = zkcli("get", p)
    assert (r.code, r.stdout) == (0, "hello\n"), r
    r = zkcli("set", p, "world")
    assert r.code == 0, r
    r = zkcli("get", "-s", p)
    assert r.code == 0 and r.stdout.startswith("world\n"), r
    stat = stat_of(r.stdout)
    assert stat["dataVersion"] == "1"
    assert stat["dataLength"] == "5"
    assert stat["ephemeralOwner"] == "0x0"
    assert int(stat["mZxid"], 16) > int(stat["cZxid"], 16)


def test_stat_and_ls(zkcli, zk, base):
    zk.create(base + "/b")
    zk.create(base + "/a", b"x")
    r = zkcli("ls", base)
    assert (r.code, r.stdout) == (0, "[a, b]\n"), r
    r = zkcli("ls", "-R", base)
    assert r.stdout.splitlines() == [base, base + "/a", base + "/b"], r
    r = zkcli("stat", base)
    stat = stat_of(r.stdout)
    assert stat["numChildren"] == "2"
    assert stat["cversion"] == "2"
    r = zkcli("getAllChildrenNumber", base)
    assert r.stdout == "2\n", r


def test_create_modes(zkcli, zk, base):
    r = zkcli("create", "-s", base + "/s-", "d")
    assert r.stderr.strip() == f"Created {base}/s-0000000000", r
    r = zkcli("create", "-e", base + "/e", "d")
    assert r.stderr.strip() == f"Created {base}/e", r
    # zkCli exits without closeSession: the node stays until its session expires
    stat = zk.exists(base + "/e")
    assert stat is not None and stat.ephemeralOwner not in (0, zk.client_id[0])
    r = zkcli("create", "-c", base + "/ctr")
    assert r.stderr.strip() == f"Created {base}/ctr", r
    r = zkcli("create", "-t", "100000", base + "/ttl", "x")
    assert (r.code, r.stderr.strip()) == (0, f"Created {base}/ttl"), r
    assert zk.get(base + "/ttl")[0] == b"x"


def test_errors(zkcli, zk, base):
    zk.create(base + "/full/child", makepath=True)
    r = zkcli("create", base + "/full")
    assert (r.code, r.stderr.strip()) == (1, f"Node already exists: {base}/full"), r
    r = zkcli("delete", base + "/full")
    assert (r.code, r.stderr.strip()) == (1, f"Node not empty: {base}/full"), r
    r = zkcli("get", base + "/nope")
    assert (r.code, r.stderr.strip()) == (1, f"Node does not exist: {base}/nope"), r
    r = zkcli("delete", "-v", "5", base + "/full/child")
    assert r.code == 1 and "version No is not valid" in r.stderr, r


def test_acl_commands(zkcli, zk, base):
    p = base + "/guarded"
    zk.create(p, b"v")
    r = zkcli("getAcl", p)
    assert r.stdout == "'world,'anyone\n: cdrwa\n", r
    r = zkcli("setAcl", p, "world:anyone:r")
    assert r.code == 0, r
    r = zkcli("getAcl", p)
    assert r.stdout == "'world,'anyone\n: r\n", r
    r = zkcli("set", p, "denied")
    assert (r.code, r.stderr.strip()) == (1, f"Insufficient permission : {p}"), r
    r = zkcli("setAcl", p, f"digest:{digest('u', 'p')}:cdrwa")
    assert r.code == 1, "setAcl without ADMIN must fail"


def test_whoami_sync_ephemerals_config(zkcli, base):
    r = zkcli("whoami")
    assert r.stdout == "Auth scheme: User\nip: 127.0.0.1\n", r
    r = zkcli("sync", base)
    assert r.stdout == "Sync is OK\n", r
    r = zkcli("getEphemerals", base)
    assert r.stdout == "[]\n", r
    r = zkcli("config")
    assert r.code == 0, r


def test_delete_and_deleteall(zkcli, zk, base):
    zk.create(base + "/tree/a/b", makepath=True)
    zk.create(base + "/leaf")
    r = zkcli("delete", base + "/leaf")
    assert r.code == 0, r
    assert zk.exists(base + "/leaf") is None
    r = zkcli("deleteall", base + "/tree")
    assert r.code == 0, r
    assert zk.exists(base + "/tree") is None


def test_setquota_listquota_delquota(zkcli, zk, base):
    """The server keeps /zookeeper/quota/<path>/zookeeper_stats current as the subtree changes;
    zkCli's listquota prints the limits and those stats (3.8.0's zkCli takes one limit per call)."""
    app = base + "/app"
    zk.create(app, b"abc")
    r = zkcli("setquota", "-n", "2", app)
    assert r.code == 0, r
    zk.create(app + "/a", b"de")
    r = zkcli("listquota", app)
    assert r.code == 0, r
    assert f"Output quota for {app} count=2,bytes=-1" in r.stdout, r
    assert f"Output stat for {app} count=2,bytes=5" in r.stdout, r
    # Past a soft limit: allowed (the server logs a warning).
    zk.create(app + "/b", b"fghi")
    zk.set(app + "/a", b"0123456789")
    zk.delete(app + "/b")
    stats, _ = zk.get("/zookeeper/quota" + app + "/zookeeper_stats")
    assert stats == b"count=2,bytes=13"
    r = zkcli("delquota", app)
    assert r.code == 0, r
    r = zkcli("listquota", app)
    assert f"quota for {app} does not exist." in r.stderr, r
