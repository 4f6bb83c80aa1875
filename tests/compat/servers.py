"""Start and stop a ZooKeeper-compatible server for the compatibility suite.

Two kinds, chosen by the environment variable ``ZK_TARGET``:

* ``paddock`` (default): ``$PADDOCK_BIN server --config <zoo.cfg>``
  (``PADDOCK_BIN`` defaults to ``.build/debug/paddock`` in the repository).
* ``apache``: Apache ZooKeeper 3.8 standalone from the Debian ``zookeeper``
  package, ``java -cp ... org.apache.zookeeper.server.ZooKeeperServerMain zoo.cfg``.
* ``paddock-ensemble``: three ``paddock server`` members of one ensemble (the same
  settings plus ``server.N`` lines and ``myid``). The suite's clients are spread over the
  members: each test is pinned to the next member in turn (``Server.pin``), so the tests of a
  run exercise the leader and both followers, and a test's clients share one member (a client
  of another member may read a moment behind, which ZooKeeper allows and tests do not expect).

Both kinds read the very same zoo.cfg.  Every server gets 127.0.0.1, a free
port, and a fresh temporary directory (data dir, zoo.cfg, server log), and is
stopped in bounded time.  Readiness is the ``srvr`` four-letter word answering
with ``Mode: standalone``; there are no fixed sleeps.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Dict, List, Optional

HOST = "127.0.0.1"

# Credentials of the ZooKeeper "super" user every test server is configured with.
SUPER_USER = "super"
SUPER_PASSWORD = "test"

READY_TIMEOUT_S = 30.0
# An ensemble settles by election (debug builds, tickTime 2000, on a loaded 2-core machine).
ENSEMBLE_SETTLE_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0

DEFAULT_PADDOCK_BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "debug", "paddock")

# Debian's zookeeper.jar carries a manifest Class-Path naming its dependencies
# in /usr/share/java; slf4j-simple is added so the server log is not dropped.
APACHE_CLASSPATH = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/slf4j-simple.jar",
]
# The admin server (Jetty) also needs the servlet API, which the manifest does not name.
APACHE_ADMIN_CLASSPATH = ["/usr/share/java/servlet-api.jar"]
APACHE_MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"

CONTAINER_CHECK_INTERVAL_MS = 1000


def target() -> str:
    kind = os.environ.get("ZK_TARGET", "paddock").strip().lower()
    if kind not in ("paddock", "apache", "paddock-ensemble"):
        raise ValueError(f"ZK_TARGET must be 'paddock', 'paddock-ensemble' or 'apache', got {kind!r}")
    return kind


ENSEMBLE_MEMBERS = 3
# What srvr and mntr say the server is: "standalone", or a member's role in an ensemble.
SERVING_MODES = ("leader", "follower") if target() == "paddock-ensemble" else ("standalone",)


def digest(user: str, password: str) -> str:
    """The ZooKeeper digest id of user:password: ``user:base64(sha1(user:password))``."""
    raw = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(raw).decode()}"


SUPER_DIGEST = digest(SUPER_USER, SUPER_PASSWORD)


def four_letter(host: str, port: int, word: str, timeout: float = 5.0) -> str:
    """Send a four-letter word and return everything the server sends back
    until it closes the connection (ZooKeeper closes after each answer)."""
    chunks: List[bytes] = []
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(word.encode("ascii"))
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"four-letter word {word!r} on {host}:{port}: no end of answer "
                    f"within {timeout}s (got {b''.join(chunks)!r})"
                )
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


# The ports free_port has handed out in this process: the kernel may offer a port again once
# the probing socket is closed, and two servers of one test must never be given the same one.
HANDED_OUT_PORTS: set = set()


def free_port() -> int:
    for _ in range(1000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if port not in HANDED_OUT_PORTS:
            HANDED_OUT_PORTS.add(port)
            return port
    raise AssertionError("the kernel offered only ports handed out before, 1000 times")


_LIVE: List["Server"] = []


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        server.stop()


class Server:
    """One server process.  Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        kind: Optional[str] = None,
        tick_time_ms: int = 2000,
        four_letter_whitelist: str = "*",
        extra_cfg: Optional[Dict[str, str]] = None,
        name: str = "zk",
        admin_port: Optional[int] = None,
    ) -> None:
        self.kind = kind or target()
        self.host = HOST
        self.port = 0
        self.tick_time_ms = tick_time_ms
        self.four_letter_whitelist = four_letter_whitelist
        self.extra_cfg = dict(extra_cfg or {})
        self.name = name
        # The admin HTTP server stays off unless a port is given (tests start many servers).
        self.admin_port = admin_port
        self.workdir: Optional[str] = None
        self.data_dir = ""
        self.cfg_path = ""
        self.log_path = ""
        self.proc: Optional[subprocess.Popen] = None
        self._log_file = None
        self.members: List[dict] = []
        self.pinned = 0

    # -- properties ---------------------------------------------------------
    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def four_letter(self, word: str, timeout: float = 5.0) -> str:
        return four_letter(self.host, self.port, word, timeout)

    def log_tail(self, max_bytes: int = 4000) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - max_bytes))
                return handle.read().decode("utf-8", errors="replace")
        except OSError as error:
            return f"<no log: {error}>"

    # -- configuration --------------------------------------------------------
    def cfg_lines(self) -> List[str]:
        cfg = {
            "tickTime": str(self.tick_time_ms),
            "initLimit": "10",
            "syncLimit": "5",
            "dataDir": self.data_dir,
            "clientPort": str(self.port),
            "clientPortAddress": self.host,
            "4lw.commands.whitelist": self.four_letter_whitelist,
            "admin.enableServer": "true" if self.admin_port else "false",
            "extendedTypesEnabled": "true",
            "znode.container.checkIntervalMs": str(CONTAINER_CHECK_INTERVAL_MS),
            "DigestAuthenticationProvider.superDigest": SUPER_DIGEST,
        }
        if self.admin_port:
            cfg["admin.serverAddress"] = self.host
            cfg["admin.serverPort"] = str(self.admin_port)
        cfg.update(self.extra_cfg)
        return [f"{key}={value}" for key, value in cfg.items()]

    def command(self) -> List[str]:
        if self.kind == "apache":
            java = shutil.which("java") or "/usr/bin/java"
            return [
                java,
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-Dzookeeper.extendedTypesEnabled=true",
                f"-Dzookeeper.4lw.commands.whitelist={self.four_letter_whitelist}",
                f"-Dzookeeper.admin.enableServer={'true' if self.admin_port else 'false'}",
                f"-Dznode.container.checkIntervalMs={CONTAINER_CHECK_INTERVAL_MS}",
                f"-Dzookeeper.DigestAuthenticationProvider.superDigest={SUPER_DIGEST}",
                "-cp",
                ":".join(APACHE_CLASSPATH + (APACHE_ADMIN_CLASSPATH if self.admin_port else [])),
                APACHE_MAIN,
                self.cfg_path,
            ]
        binary = os.environ.get("PADDOCK_BIN", DEFAULT_PADDOCK_BIN)
        return [binary, "server", "--config", self.cfg_path]

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "Server":
        if self.kind == "paddock-ensemble":
            return self.start_ensemble()
        if self.kind == "paddock":
            binary = os.environ.get("PADDOCK_BIN", DEFAULT_PADDOCK_BIN)
            if not os.access(binary, os.X_OK):
                raise RuntimeError(
                    f"ZK_TARGET=paddock but PADDOCK_BIN={binary} is not an executable "
                    "(build it, set PADDOCK_BIN, or run with ZK_TARGET=apache)"
                )
        self.workdir = tempfile.mkdtemp(prefix=f"paddock-compat-{self.name}-")
        self.data_dir = os.path.join(self.workdir, "data")
        os.makedirs(self.data_dir)
        self.cfg_path = os.path.join(self.workdir, "zoo.cfg")
        self.log_path = os.path.join(self.workdir, "server.log")
        self.port = free_port()
        with open(self.cfg_path, "w") as handle:
            handle.write("\n".join(self.cfg_lines()) + "\n")
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        _LIVE.append(self)
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        last = "<no answer yet>"
        while time.monotonic() < deadline:
            assert self.proc is not None
            code = self.proc.poll()
            if code is not None:
                raise RuntimeError(
                    f"{self.kind} server exited with code {code} before answering "
                    f"'srvr' with 'Mode: standalone' on {self.hostport}\n"
                    f"command: {' '.join(self.command())}\n"
                    f"log tail ({self.log_path}):\n{self.log_tail()}"
                )
            try:
                last = self.four_letter("srvr", timeout=2.0)
                if "Mode: standalone" in last:
                    return
            except OSError as error:
                last = f"<{type(error).__name__}: {error}>"
            time.sleep(0.1)  # poll interval of a bounded readiness loop
        raise TimeoutError(
            f"{self.kind} server on {self.hostport} did not answer the 'srvr' four-letter "
            f"word with 'Mode: standalone' within {timeout}s; last answer: {last!r}\n"
            f"log tail ({self.log_path}):\n{self.log_tail()}"
        )

    # -- an ensemble (ZK_TARGET=paddock-ensemble) ------------------------------------
    def start_ensemble(self) -> "Server":
        binary = os.environ.get("PADDOCK_BIN", DEFAULT_PADDOCK_BIN)
        self.workdir = tempfile.mkdtemp(prefix=f"paddock-compat-{self.name}-")
        ids = range(1, ENSEMBLE_MEMBERS + 1)
        ports = {sid: (free_port(), free_port(), free_port()) for sid in ids}
        servers = [f"server.{sid}={self.host}:{ports[sid][1]}:{ports[sid][2]}" for sid in ids]
        for sid in ids:
            home = os.path.join(self.workdir, f"member{sid}")
            data = os.path.join(home, "data")
            os.makedirs(data)
            with open(os.path.join(data, "myid"), "w") as handle:
                handle.write(f"{sid}\n")
            self.port, self.data_dir = ports[sid][0], data
            cfg_path = os.path.join(home, "zoo.cfg")
            with open(cfg_path, "w") as handle:
                handle.write("\n".join(self.cfg_lines() + servers) + "\n")
            log_path = os.path.join(home, "server.log")
            log_file = open(log_path, "wb")
            proc = subprocess.Popen([binary, "server", "--config", cfg_path], cwd=home, stdin=subprocess.DEVNULL,
                                    stdout=log_file, stderr=subprocess.STDOUT)
            self.members.append({"port": ports[sid][0], "data_dir": data, "cfg_path": cfg_path, "log_path": log_path,
                                 "proc": proc, "log_file": log_file})
        _LIVE.append(self)
        try:
            self.pin(0)
            deadline = time.monotonic() + ENSEMBLE_SETTLE_TIMEOUT_S
            while True:
                modes = []
                for index in range(len(self.members)):
                    self.pin(index)
                    if self.proc.poll() is not None:
                        raise RuntimeError(f"member {index + 1} exited with code {self.proc.poll()}\n{self.log_tail()}")
                    try:
                        answer = self.four_letter("srvr", timeout=2.0)
                    except OSError:
                        answer = ""
                    modes.append(next((l[6:] for l in answer.splitlines() if l.startswith("Mode: ")), None))
                if modes.count("leader") == 1 and all(mode in SERVING_MODES for mode in modes):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the ensemble did not settle within {ENSEMBLE_SETTLE_TIMEOUT_S}s: modes {modes}")
                time.sleep(0.1)  # poll interval of a bounded readiness loop
            self.pin(0)
        except BaseException:
            self.stop()
            raise
        return self

    def pin(self, index: int) -> None:
        """Points port, data_dir, log and process at member `index` (ensembles only)."""
        member = self.members[index % len(self.members)]
        self.pinned = index % len(self.members)
        self.port, self.data_dir, self.cfg_path = member["port"], member["data_dir"], member["cfg_path"]
        self.log_path, self.proc = member["log_path"], member["proc"]

    def stop(self) -> None:
        if self.members:
            for member in self.members:
                self.pin(self.members.index(member))
                self._log_file = member["log_file"]
                self.stop_process()
            self.members = []
        else:
            self.stop_process()
        if self in _LIVE:
            _LIVE.remove(self)
        if self.workdir and os.environ.get("ZK_KEEP_WORKDIR") != "1":
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def stop_process(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)
            except ProcessLookupError:
                pass
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"Server(kind={self.kind}, {self.hostport}, workdir={self.workdir})"
