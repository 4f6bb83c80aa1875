#!/usr/bin/env python3
"""Capture real member-to-member traffic of an Apache ZooKeeper 3.8.0 ensemble as fixtures.

Starts a 3-voter + 1-observer Apache ZooKeeper ensemble (Debian package, QuorumPeerMain) on
127.0.0.1 and routes every inter-member TCP connection -- election ports and quorum ports --
through an in-process recording TCP relay:

* every member gets its own zoo.cfg; its own ``server.N`` line names its real ports (ZooKeeper
  binds those), the other members' lines name relay ports that forward to the real ports.  The
  static configs differ between members, which 3.8 accepts with ``reconfigEnabled=false``: every
  config has version 0, so neither FastLeaderElection (only reconfigures on a higher version)
  nor NEWLEADER/UPTODATE (setLastSeenQuorumVerifier/processReconfig return early when reconfig
  is disabled) acts on the peer's view.
* QuorumCnxManager's initial message carries the connector's own election address, and a peer
  with a higher sid that drops the connection dials back *that* address
  (``connectOne(sid, electionAddr)``), which would bypass the relay.  The relay therefore
  rewrites the address in the forwarded copy of the handshake to the connector's relay port.
  The fixtures hold the bytes the sender really sent (the original address).
* a relay port listens only while the member's real port listens (polled passively from
  /proc/net/tcp), so dialing a member that is down, or a quorum port of a non-leader, is refused
  as it would be without the relay (an accepted-then-closed connection would make a learner give
  up on the leader and re-run the election).

Scenario (phases are listed with timestamps in FIXTURES.md):

1. ``form``: all four start with empty data dirs; leader election; the learners sync by SNAP
   of the (nearly) empty tree.
2. ``steady``: kazoo clients on the leader, a follower and the observer create persistent,
   ephemeral and sequential nodes, set data, delete, run a multi (and a failing one), a failing
   create, sync, close sessions: REQUEST/PROPOSAL/ACK/COMMIT/INFORM/SYNC/PING traffic.
3. ``diff``: a client session on follower V (host list V, other follower) -- V is killed with
   SIGKILL, the client moves its session to the other follower (REVALIDATE), more writes, V
   restarts and syncs by DIFF.
4. ``snap``: V is killed again, its data dir wiped (myid kept), more writes, V restarts: SNAP
   with the whole (small) tree.
5. ``trunc``: the relay stops delivering (blackholes) everything on the leader's quorum port,
   a client write reaches the leader, which logs the PROPOSAL it cannot commit; the leader is
   killed; the two followers elect a new leader (new epoch) without any new txn; the old leader
   restarts with a logged-but-uncommitted zxid above the new leader's maxCommittedLog and is
   told to TRUNC.  A few writes follow.

The recorded byte streams are split into frames (election: initial message + int-length-
prefixed notifications; quorum: back-to-back jute QuorumPacket records, plus the serialized
snapshot and "BenWasHere" signature after a SNAP) and written to ``--out`` as lowercase hex,
64 bytes per line, one file per connection direction, with FIXTURES.md describing them.

Usage (from the repository root):
    python3 tests/ensemble/capture_quorum_fixtures.py --out Tests/ZKQuorumTests/Fixtures

Standard library + kazoo only.  Every wait is bounded; the whole run is bounded by an alarm
(TOTAL_BUDGET_S); every Java process started is killed on exit, including on failure.
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import glob
import logging
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

HOST = "127.0.0.1"
TOTAL_BUDGET_S = 170
TICK_MS = 200
INIT_LIMIT = 10
SYNC_LIMIT = 5
SESSION_TIMEOUT_S = 30.0  # longer than the whole trunc phase: no session expiry txn there

JAVA = shutil.which("java") or "/usr/bin/java"
# Same classpath as tests/differential/servers.py: Debian's zookeeper.jar manifest names its
# dependencies; an slf4j binding is added explicitly so the server log is kept.
CLASSPATH = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-api.jar",
    "/usr/share/java/slf4j-simple.jar",
]
MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# ---------------------------------------------------------------------------------------------
# Protocol constants (Leader.java, QuorumPeer.ServerState, ZooDefs.OpCode of 3.8.0)

QP_TYPES = {
    1: "REQUEST", 2: "PROPOSAL", 3: "ACK", 4: "COMMIT", 5: "PING", 6: "REVALIDATE", 7: "SYNC",
    8: "INFORM", 9: "COMMITANDACTIVATE", 10: "NEWLEADER", 11: "FOLLOWERINFO", 12: "UPTODATE",
    13: "DIFF", 14: "TRUNC", 15: "SNAP", 16: "OBSERVERINFO", 17: "LEADERINFO", 18: "ACKEPOCH",
    19: "INFORMANDACTIVATE",
}
QP = {name: code for code, name in QP_TYPES.items()}
SERVER_STATES = {0: "LOOKING", 1: "FOLLOWING", 2: "LEADING", 3: "OBSERVING"}
OPCODES = {
    0: "notification", 1: "create", 2: "delete", 3: "exists", 4: "getData", 5: "setData",
    6: "getACL", 7: "setACL", 8: "getChildren", 9: "sync", 11: "ping", 12: "getChildren2",
    13: "check", 14: "multi", 15: "create2", 16: "reconfig", 17: "checkWatches",
    18: "removeWatches", 19: "createContainer", 20: "deleteContainer", 21: "createTTL",
    22: "multiRead", 100: "auth", 101: "setWatches", 102: "sasl", 103: "getEphemerals",
    104: "getAllChildrenNumber", 105: "setWatches2", 106: "addWatch", 107: "whoAmI",
    -10: "createSession", -11: "closeSession", -1: "error",
}
PATH_OPS = {1, 2, 5, 15, 19, 20, 21}
QCM_PROTOCOL_VERSION_V1 = -65536
QCM_PROTOCOL_VERSION_V2 = -65535
SNAP_SIGNATURE = "BenWasHere"  # LearnerHandler.run / Learner.syncWithLeader

log = logging.getLogger("capture")


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def bound(self, timeout: float) -> float:
        return max(0.0, min(timeout, self.remaining()))


DEADLINE = Deadline(TOTAL_BUDGET_S)


def wait_for(pred: Callable[[], object], timeout: float, what: str, interval: float = 0.05):
    """Poll pred() until it returns a truthy value; bounded by timeout and the global budget."""
    end = time.monotonic() + DEADLINE.bound(timeout)
    last_exc: Optional[BaseException] = None
    while True:
        try:
            value = pred()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last error
            last_exc = exc
        if time.monotonic() >= end:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}"
                               + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def four_letter(port: int, word: str, timeout: float = 1.5) -> str:
    chunks = []
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(word.encode())
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# Recording relay

class Stream:
    """Bytes one side of a relayed connection sent, as (t, chunk) in arrival order."""

    def __init__(self) -> None:
        self.chunks: List[Tuple[float, bytes]] = []
        self.size = 0
        self.blackholed_from: Optional[int] = None  # offset from which nothing was delivered
        self.ended: Optional[float] = None

    def add(self, t: float, data: bytes, blackholed: bool) -> None:
        if blackholed and self.blackholed_from is None:
            self.blackholed_from = self.size
        self.chunks.append((t, data))
        self.size += len(data)

    @property
    def data(self) -> bytes:
        return b"".join(c for _, c in self.chunks)

    def time_at(self, offset: int) -> float:
        """Arrival time of the chunk that holds byte offset-1 (end of a frame)."""
        pos = 0
        for t, chunk in self.chunks:
            pos += len(chunk)
            if pos >= offset:
                return t
        return self.chunks[-1][0] if self.chunks else 0.0


class Conn:
    def __init__(self, cid: int, relay: "Relay", t_open: float, phase: str) -> None:
        self.cid = cid
        self.relay = relay
        self.t_open = t_open
        self.phase = phase
        self.up = Stream()    # connector -> relay target
        self.down = Stream()  # relay target -> connector
        self.rewritten: Optional[Tuple[str, str]] = None
        self._lock = threading.Lock()
        self._done = 0
        self.sockets: List[socket.socket] = []

    def pump_done(self) -> None:
        with self._lock:
            self._done += 1
            last = self._done == 2
        if last:
            for s in self.sockets:
                try:
                    s.close()
                except OSError:
                    pass


class Capture:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.conns: List[Conn] = []
        self.relays: List[Relay] = []
        self.recording = True
        self.stopping = False
        self.phase = "form"
        self.events: List[Tuple[float, str]] = []
        self.election_relay_port: Dict[int, int] = {}

    def now(self) -> float:
        return time.monotonic() - self.t0

    def start_monitor(self) -> None:
        threading.Thread(target=self._monitor, daemon=True, name="relay-monitor").start()

    def _monitor(self) -> None:
        while not self.stopping:
            try:
                ports = listening_ports()
                for relay in list(self.relays):
                    relay.set_listening(relay.backend_port in ports)
            except Exception as exc:  # noqa: BLE001 - the monitor must survive
                log.warning("relay monitor: %r", exc)
            time.sleep(0.01)

    def event(self, text: str) -> None:
        t = self.now()
        self.events.append((t, text))
        log.info("[%7.3fs] %s", t, text)

    def set_phase(self, phase: str, text: str) -> None:
        self.phase = phase
        self.event(f"phase {phase}: {text}")

    def new_conn(self, relay: "Relay") -> Conn:
        with self.lock:
            conn = Conn(len(self.conns) + 1, relay, self.now(), self.phase)
            self.conns.append(conn)
            return conn

    def stop(self) -> None:
        self.recording = False
        self.stopping = True
        for relay in self.relays:
            relay.close()
        for conn in list(self.conns):
            for s in conn.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                try:
                    s.close()
                except OSError:
                    pass


def listening_ports() -> set:
    """Ports with a TCP socket in LISTEN state (read passively from /proc/net/tcp{,6})."""
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f, None)
                for line in f:
                    parts = line.split()
                    if len(parts) > 3 and parts[3] == "0A":
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


class Relay:
    """A 127.0.0.1 port that forwards each connection to a member's real port.

    The relay port only listens while the member's real port listens (checked passively in
    /proc/net/tcp by Capture's monitor thread), so a peer dialing a member that is down or not
    yet leading gets "connection refused" exactly as it would without the relay, instead of an
    accepted connection that closes at once (which makes a learner give up and re-elect)."""

    def __init__(self, capture: Capture, kind: str, target_sid: int, backend_port: int) -> None:
        self.capture = capture
        self.kind = kind  # "election" or "quorum"
        self.target_sid = target_sid
        self.backend_port = backend_port
        self.blackhole = False
        self.refused = 0
        self.listening = False
        self.closed = False
        self.listen_errors = 0
        self._lock = threading.Lock()
        self._sock: Optional[socket.socket] = self._bound_socket(0)  # reserves the port; refuses connections until listen()
        self.port = self._sock.getsockname()[1]
        capture.relays.append(self)

    @staticmethod
    def _bound_socket(port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        return sock

    def set_listening(self, on: bool) -> None:
        with self._lock:
            if self.closed or on == self.listening:
                return
            try:
                if on:
                    if self._sock is None:
                        self._sock = self._bound_socket(self.port)
                    self._sock.listen(64)
                    self._sock.settimeout(0.2)
                    threading.Thread(target=self._accept_loop, args=(self._sock,), daemon=True,
                                     name=f"relay-{self.kind}-{self.target_sid}").start()
                    self.listening = True
                else:
                    if self._sock is not None:
                        try:  # wakes the accept() of _accept_loop so the port is free at once
                            self._sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        self._sock.close()
                        self._sock = None
                    self.listening = False
                    self._sock = self._bound_socket(self.port)  # keep the port reserved
            except OSError as exc:
                # the port is still held for a moment; the monitor retries every 10 ms
                self.listen_errors += 1
                log.debug("relay %s/%d port %d: %s listening: %s (will retry)", self.kind, self.target_sid,
                          self.port, "start" if on else "stop", exc)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            try:
                if self._sock is not None:
                    self._sock.close()
            except OSError:
                pass

    def _accept_loop(self, sock: socket.socket) -> None:
        while not self.capture.stopping:
            try:
                client, _ = sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        try:
            backend = socket.create_connection((HOST, self.backend_port), timeout=2.0)
        except OSError:
            self.refused += 1
            client.close()
            return
        for s in (client, backend):
            s.settimeout(None)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = self.capture.new_conn(self)
        conn.sockets = [client, backend]
        threading.Thread(target=self._pump, args=(client, backend, conn.up, conn, self.kind == "election"),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(backend, client, conn.down, conn, False),
                         daemon=True).start()

    def _rewrite_handshake(self, buf: bytes, conn: Conn) -> Tuple[Optional[bytes], bool]:
        """QuorumCnxManager initial message: long protocolVersion, long sid, int n, n bytes of
        'host:port'.  Returns (bytes to forward, complete)."""
        if len(buf) < 8:
            return None, False
        version = struct.unpack_from(">q", buf, 0)[0]
        if version >= 0:  # pre-3.5 style: the long is the sid, no address follows
            return buf, True
        if len(buf) < 20:
            return None, False
        sid, length = struct.unpack_from(">qi", buf, 8)
        if length <= 0 or length > 2048:
            return buf, True
        if len(buf) < 20 + length:
            return None, False
        port = self.capture.election_relay_port.get(sid)
        if port is None:
            return buf, True
        original = buf[20:20 + length]
        replacement = f"{HOST}:{port}".encode()
        conn.rewritten = (original.decode("utf-8", "replace"), replacement.decode())
        return struct.pack(">qqi", version, sid, len(replacement)) + replacement + buf[20 + length:], True

    def _pump(self, src: socket.socket, dst: socket.socket, stream: Stream, conn: Conn, rewrite: bool) -> None:
        pending = b""
        handshake_done = not rewrite
        failed = False
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                t = self.capture.now()
                blackholed = self.blackhole
                if self.capture.recording:
                    stream.add(t, data, blackholed)
                if not handshake_done:
                    pending += data
                    out, handshake_done = self._rewrite_handshake(pending, conn)
                    if not handshake_done:
                        continue
                    data, pending = out, b""
                if blackholed:
                    continue
                dst.sendall(data)
        except OSError:
            failed = True
        finally:
            stream.ended = self.capture.now()
            try:
                dst.shutdown(socket.SHUT_RDWR if failed else socket.SHUT_WR)
            except OSError:
                pass
            if failed:
                try:
                    src.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            conn.pump_done()


# ---------------------------------------------------------------------------------------------
# Members

_PROCS: List[subprocess.Popen] = []


def _kill_all_started() -> None:
    for proc in list(_PROCS):
        if proc.poll() is None:
            try:
                proc.kill()
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if proc in _PROCS:
            _PROCS.remove(proc)


atexit.register(_kill_all_started)


class Member:
    def __init__(self, sid: int, observer: bool, root: str, capture: Capture) -> None:
        self.sid = sid
        self.observer = observer
        self.workdir = os.path.join(root, f"member{sid}")
        self.data_dir = os.path.join(self.workdir, "data")
        self.cfg_path = os.path.join(self.workdir, "zoo.cfg")
        self.log_path = os.path.join(self.workdir, "server.log")
        os.makedirs(self.data_dir)
        self.client_port = free_port()
        self.quorum_port = free_port()
        self.election_port = free_port()
        self.quorum_relay = Relay(capture, "quorum", sid, self.quorum_port)
        self.election_relay = Relay(capture, "election", sid, self.election_port)
        capture.election_relay_port[sid] = self.election_relay.port
        self.proc: Optional[subprocess.Popen] = None
        self.capture = capture
        self.write_myid()

    @property
    def role(self) -> str:
        return "observer" if self.observer else "participant"

    def write_myid(self) -> None:
        with open(os.path.join(self.data_dir, "myid"), "w") as f:
            f.write(f"{self.sid}\n")

    def write_cfg(self, members: List["Member"]) -> None:
        lines = [
            f"tickTime={TICK_MS}",
            f"initLimit={INIT_LIMIT}",
            f"syncLimit={SYNC_LIMIT}",
            f"dataDir={self.data_dir}",
            f"clientPort={self.client_port}",
            f"clientPortAddress={HOST}",
            "4lw.commands.whitelist=*",
            "admin.enableServer=false",
            "reconfigEnabled=false",
            "maxSessionTimeout=60000",
        ]
        if self.observer:
            lines.append("peerType=observer")
        for m in members:
            if m.sid == self.sid:
                q, e = m.quorum_port, m.election_port  # own entry: real ports (bound here)
            else:
                q, e = m.quorum_relay.port, m.election_relay.port  # peers: via the relay
            lines.append(f"server.{m.sid}={HOST}:{q}:{e}" + (":observer" if m.observer else ""))
        with open(self.cfg_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def command(self) -> List[str]:
        return [
            JAVA, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
            "-Dorg.slf4j.simpleLogger.showDateTime=true",
            "-Dzookeeper.admin.enableServer=false",
            "-Dzookeeper.4lw.commands.whitelist=*",
            "-cp", ":".join(CLASSPATH), MAIN, self.cfg_path,
        ]

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        logf = open(self.log_path, "ab")
        logf.write(f"\n===== start at t={self.capture.now():.3f}s =====\n".encode())
        logf.flush()
        self.proc = subprocess.Popen(self.command(), cwd=self.workdir, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        _PROCS.append(self.proc)
        self.capture.event(f"start member {self.sid} ({self.role}, pid {self.proc.pid})")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL
            self.proc.wait(timeout=DEADLINE.bound(10) or 1)
            self.capture.event(f"kill -9 member {self.sid}")
        if self.proc in _PROCS:
            _PROCS.remove(self.proc)

    def wipe_data(self) -> None:
        for entry in os.listdir(self.data_dir):
            if entry == "myid":
                continue
            path = os.path.join(self.data_dir, entry)
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
        self.capture.event(f"wiped data dir of member {self.sid} (myid kept)")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def mode(self) -> Optional[str]:
        if not self.alive():
            return None
        try:
            out = four_letter(self.client_port, "srvr")
        except OSError:
            return None
        m = re.search(r"^Mode: (\w+)", out, re.M)
        return m.group(1) if m else None

    def version(self) -> str:
        out = four_letter(self.client_port, "srvr")
        m = re.search(r"^Zookeeper version: (.*)$", out, re.M)
        return m.group(1).strip() if m else "unknown"

    def log_text(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 3000) -> str:
        return self.log_text()[-n:]

    def hostport(self) -> str:
        return f"{HOST}:{self.client_port}"


class Ensemble:
    def __init__(self, root: str, capture: Capture) -> None:
        self.capture = capture
        self.members = [Member(sid, sid == 4, root, capture) for sid in (1, 2, 3, 4)]
        for m in self.members:
            m.write_cfg(self.members)

    def by_sid(self, sid: int) -> Member:
        return next(m for m in self.members if m.sid == sid)

    @property
    def voters(self) -> List[Member]:
        return [m for m in self.members if not m.observer]

    @property
    def observer(self) -> Member:
        return next(m for m in self.members if m.observer)

    def modes(self) -> Dict[int, Optional[str]]:
        return {m.sid: m.mode() for m in self.members if m.alive()}

    def wait_settled(self, timeout: float, what: str) -> int:
        """Wait until every running member serves: one leader, the other voters followers,
        the observer observing.  Returns the leader's sid."""
        def check():
            for m in self.members:
                if m.proc is not None and m.proc.poll() is not None and m.proc in _PROCS:
                    raise RuntimeError(f"member {m.sid} exited with {m.proc.returncode}:\n{m.log_tail()}")
            modes = self.modes()
            leaders = [sid for sid, mode in modes.items() if mode == "leader"]
            if len(leaders) != 1:
                return None
            for m in self.members:
                if not m.alive():
                    continue
                want = "observer" if m.observer else ("leader" if m.sid == leaders[0] else "follower")
                if modes.get(m.sid) != want:
                    return None
            return leaders[0]
        try:
            leader = wait_for(check, timeout, what, interval=0.1)
        except TimeoutError:
            log.error("relays: %s", [(r.kind, r.target_sid, r.port, r.listening, r.listen_errors)
                                     for r in self.capture.relays])
            for m in self.members:
                log.error("member %d mode=%s log tail:\n%s", m.sid, m.mode(), m.log_tail(2000))
            raise
        self.capture.event(f"settled ({what}): modes {self.modes()}")
        return leader


# ---------------------------------------------------------------------------------------------
# Jute decoding

class Incomplete(Exception):
    pass


class Malformed(Exception):
    pass


class Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise Incomplete()
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def int(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def long(self) -> int:
        return struct.unpack(">q", self.take(8))[0]

    def bool(self) -> bool:
        return self.take(1) != b"\x00"

    def buffer(self, limit: int = 64 << 20) -> Optional[bytes]:
        n = self.int()
        if n == -1:
            return None
        if n < 0 or n > limit:
            raise Malformed(f"bad buffer length {n} at offset {self.pos - 4}")
        return self.take(n)

    def ustring(self) -> Optional[str]:
        b = self.buffer()
        return None if b is None else b.decode("utf-8", "replace")

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos


class Frame:
    def __init__(self, offset: int, end: int, kind: str, summary: str, qtype: Optional[int] = None,
                 zxid: Optional[int] = None) -> None:
        self.offset = offset
        self.end = end
        self.kind = kind  # HANDSHAKE, NOTIFICATION, QuorumPacket, SNAPSHOT
        self.summary = summary
        self.qtype = qtype
        self.zxid = zxid
        self.t = 0.0

    @property
    def name(self) -> str:
        return QP_TYPES.get(self.qtype, f"TYPE{self.qtype}") if self.kind == "QuorumPacket" else self.kind


def hx(v: Optional[int]) -> str:
    if v is None:
        return "none"
    return f"0x{v:x}" if v >= 0 else str(v)


def opname(t: int) -> str:
    return OPCODES.get(t, f"op{t}")


def describe_txn(data: bytes) -> str:
    """TxnHeader{long clientId, int cxid, long zxid, long time, int type} + txn record (+digest)."""
    r = Reader(data)
    try:
        client, cxid, zxid, _time, typ = r.long(), r.int(), r.long(), r.long(), r.int()
        s = f"txn={opname(typ)} session={hx(client)} cxid={cxid}"
        if typ in PATH_OPS:
            s += f" path={r.ustring()}"
        elif typ == 14:
            n = r.int()
            ops = []
            for _ in range(max(n, 0)):
                sub = r.int()
                body = r.buffer() or b""
                label = opname(sub)
                if sub in PATH_OPS and len(body) >= 4:
                    try:
                        label += ":" + (Reader(body).ustring() or "")
                    except (Incomplete, Malformed):
                        pass
                elif sub == -1 and len(body) >= 4:
                    label += f"({struct.unpack('>i', body[:4])[0]})"
                ops.append(label)
            s += " ops=[" + ", ".join(ops) + "]"
        elif typ == -1:
            s += f" err={r.int()}"
        elif typ == -10:
            s += f" timeout={r.int()}"
        return s
    except (Incomplete, Malformed):
        return f"txn ({len(data)}B, undecodable)"


def describe_request(data: bytes) -> str:
    """Learner REQUEST payload: long sessionId, int cxid, int type, then the request record."""
    r = Reader(data)
    try:
        session, cxid, typ = r.long(), r.int(), r.int()
        s = f"req={opname(typ)} session={hx(session)} cxid={cxid}"
        if typ in PATH_OPS or typ == 9:
            s += f" path={r.ustring()}"
        return s
    except (Incomplete, Malformed):
        return f"request ({len(data)}B)"


def describe_qp(typ: int, zxid: int, data: Optional[bytes], auth: Optional[list], from_leader: bool) -> str:
    name = QP_TYPES.get(typ, f"TYPE{typ}")
    s = f"{name} zxid={hx(zxid)}"
    if data is None:
        s += " data=null"
    else:
        s += f" data={len(data)}B"
    detail = ""
    try:
        if typ in (QP["FOLLOWERINFO"], QP["OBSERVERINFO"]) and data:
            r = Reader(data)
            sid = r.long()
            detail = f"LearnerInfo{{sid={sid}"
            if r.remaining >= 4:
                detail += f", protocolVersion={hx(r.int())}"
            if r.remaining >= 8:
                detail += f", configVersion={hx(r.long())}"
            detail += "}"
        elif typ == QP["LEADERINFO"] and data and len(data) >= 4:
            detail = f"protocolVersion={hx(struct.unpack('>i', data[:4])[0])}"
        elif typ == QP["ACKEPOCH"] and data and len(data) >= 4:
            detail = f"currentEpoch={struct.unpack('>i', data[:4])[0]}"
        elif typ == QP["NEWLEADER"] and data:
            text = data.decode("utf-8", "replace")
            detail = f"quorumVerifier={len(text.splitlines())} lines"
        elif typ in (QP["PROPOSAL"], QP["INFORM"]) and data:
            detail = describe_txn(data)
        elif typ == QP["REQUEST"] and data:
            detail = describe_request(data)
        elif typ == QP["PING"] and data:
            n = len(data) // 12
            detail = f"session touches={n}"
        elif typ == QP["REVALIDATE"] and data:
            r = Reader(data)
            session = r.long()
            if from_leader:
                detail = f"session={hx(session)} valid={r.bool()}"
            else:
                detail = f"session={hx(session)} timeout={r.int()}"
    except (Incomplete, Malformed, struct.error):
        detail = "(undecodable payload)"
    if detail:
        s += " " + detail
    if auth:
        s += f" authinfo={auth}"
    return s


def parse_snapshot(r: Reader) -> str:
    """SerializeUtils.serializeSnapshot: sessions, then DataTree.serialize (ACL cache, nodes
    ending with path "/"), then LearnerHandler's signature string."""
    n_sessions = r.int()
    if n_sessions < 0 or n_sessions > 100000:
        raise Malformed(f"session count {n_sessions}")
    for _ in range(n_sessions):
        r.long()
        r.int()
    n_acls = r.int()
    if n_acls < 0 or n_acls > 100000:
        raise Malformed(f"acl map size {n_acls}")
    for _ in range(n_acls):
        r.long()
        count = r.int()
        for _ in range(max(count, 0)):
            r.int()
            r.ustring()
            r.ustring()
    paths = []
    while True:
        path = r.ustring()
        if path == "/":
            break
        r.buffer()  # data
        r.long()    # acl index
        r.take(8 * 4 + 4 * 3 + 8 * 2)  # StatPersisted
        paths.append(path if path else "(root \"\")")
    signature = r.ustring()
    if signature != SNAP_SIGNATURE:
        raise Malformed(f"snapshot signature {signature!r}")
    shown = ", ".join(paths) if len(paths) <= 40 else ", ".join(paths[:40]) + ", ..."
    return (f"sessions={n_sessions} aclCacheEntries={n_acls} nodes={len(paths)} "
            f"signature={signature!r} paths=[{shown}]")


def parse_quorum(data: bytes, from_leader: bool) -> Tuple[List[Frame], int, Optional[str]]:
    """Back-to-back jute QuorumPacket{int type, long zxid, buffer data, vector<Id> authinfo}."""
    frames: List[Frame] = []
    pos = 0
    error = None
    while pos < len(data):
        start = pos
        try:
            r = Reader(data, pos)
            typ, zxid = r.int(), r.long()
            payload = r.buffer()
            n_auth = r.int()
            auth = None
            if n_auth != -1:
                if n_auth < 0 or n_auth > 1000:
                    raise Malformed(f"authinfo count {n_auth}")
                auth = [(r.ustring(), r.ustring()) for _ in range(n_auth)]
            if typ not in QP_TYPES:
                raise Malformed(f"unknown QuorumPacket type {typ}")
            frames.append(Frame(start, r.pos, "QuorumPacket", describe_qp(typ, zxid, payload, auth, from_leader),
                                typ, zxid))
            pos = r.pos
            if from_leader and typ == QP["SNAP"]:
                summary = parse_snapshot(r)
                frames.append(Frame(pos, r.pos, "SNAPSHOT", "SNAPSHOT " + summary))
                pos = r.pos
        except Incomplete:
            break
        except Malformed as exc:
            error = f"{exc} at offset {start}"
            break
    return frames, pos, error


def parse_election(data: bytes, initiator: bool) -> Tuple[List[Frame], int, Optional[str]]:
    frames: List[Frame] = []
    pos = 0
    error = None
    try:
        if initiator:
            r = Reader(data)
            version = r.long()
            if version >= 0:
                frames.append(Frame(0, r.pos, "HANDSHAKE", f"HANDSHAKE (old style) sid={version}"))
            else:
                sid = r.long()
                addr = r.buffer(limit=2048)
                frames.append(Frame(0, r.pos, "HANDSHAKE",
                                    f"HANDSHAKE protocolVersion={version} (0x{version & 0xffffffffffffffff:016x}) "
                                    f"sid={sid} electionAddr={addr.decode() if addr is not None else None!r}"))
            pos = r.pos
        while pos < len(data):
            r = Reader(data, pos)
            n = r.int()
            if n <= 0 or n > 512 * 1024:
                raise Malformed(f"bad notification length {n}")
            body = r.take(n)
            frames.append(Frame(pos, r.pos, "NOTIFICATION", describe_notification(body)))
            pos = r.pos
    except Incomplete:
        pass
    except Malformed as exc:
        error = f"{exc} at offset {pos}"
    return frames, pos, error


def describe_notification(body: bytes) -> str:
    r = Reader(body)
    state, leader, zxid, election_epoch = r.int(), r.long(), r.long(), r.long()
    s = (f"NOTIFICATION len={len(body)} state={SERVER_STATES.get(state, state)} leader={leader} "
         f"zxid={hx(zxid)} electionEpoch={hx(election_epoch)}")
    if len(body) > 28:
        s += f" peerEpoch={hx(r.long())}"
    if len(body) > 40:
        version = r.int()
        s += f" version={hx(version)}"
        if version > 1:
            n = r.int()
            cfg = r.take(n).decode("utf-8", "replace")
            s += f" config={n}B({len(cfg.splitlines())} lines)"
    return s


# ---------------------------------------------------------------------------------------------
# Fixture naming and writing

class DirectionFile:
    def __init__(self, conn: Conn, stream: Stream, sender: str, receiver: str, kind: str) -> None:
        self.conn = conn
        self.stream = stream
        self.sender = sender
        self.receiver = receiver
        self.kind = kind
        self.name = ""
        self.frames: List[Frame] = []
        self.complete = 0
        self.error: Optional[str] = None
        self.data = stream.data


def analyse(capture: Capture) -> List[DirectionFile]:
    files: List[DirectionFile] = []
    for conn in capture.conns:
        relay = conn.relay
        if conn.up.size == 0 and conn.down.size == 0:
            continue
        if relay.kind == "election":
            up_frames, up_end, up_err = parse_election(conn.up.data, True)
            initiator = "?"
            m = re.search(r"sid=(\d+)", up_frames[0].summary) if up_frames else None
            if m:
                initiator = m.group(1)
            target = str(relay.target_sid)
            base = f"election-{initiator}to{target}"
            for stream, sender, receiver, initiating in ((conn.up, initiator, target, True),
                                                         (conn.down, target, initiator, False)):
                if stream.size == 0:
                    continue
                df = DirectionFile(conn, stream, f"member {sender}", f"member {receiver}", "election")
                df.frames, df.complete, df.error = parse_election(stream.data, initiating)
                df.name = f"election-{sender}to{receiver}"
                files.append(df)
        else:
            up_frames, _, _ = parse_quorum(conn.up.data, False)
            learner_sid, learner_role = "?", "learner"
            if up_frames and up_frames[0].qtype in (QP["FOLLOWERINFO"], QP["OBSERVERINFO"]):
                m = re.search(r"sid=(\d+)", up_frames[0].summary)
                learner_sid = m.group(1) if m else "?"
                learner_role = "observer" if up_frames[0].qtype == QP["OBSERVERINFO"] else "follower"
            down_frames, _, _ = parse_quorum(conn.down.data, True)
            mode = "nosync"
            for f in down_frames:
                if f.qtype in (QP["DIFF"], QP["SNAP"], QP["TRUNC"]):
                    mode = QP_TYPES[f.qtype].lower()
                    break
            leader = relay.target_sid
            learner = f"{learner_role}{learner_sid}"
            for stream, sender, receiver, from_leader, name in (
                    (conn.up, f"{learner_role} {learner_sid}", f"leader {leader}", False,
                     f"quorum-{learner}-to-leader{leader}-{mode}"),
                    (conn.down, f"leader {leader}", f"{learner_role} {learner_sid}", True,
                     f"quorum-leader{leader}-to-{learner}-{mode}")):
                if stream.size == 0:
                    continue
                df = DirectionFile(conn, stream, sender, receiver, "quorum")
                df.frames, df.complete, df.error = parse_quorum(stream.data, from_leader)
                df.name = name
                files.append(df)
    # unique names: first occurrence keeps the plain name, later ones get -2, -3, ...
    seen: Dict[str, int] = {}
    for df in files:
        n = seen.get(df.name, 0) + 1
        seen[df.name] = n
        if n > 1:
            df.name = f"{df.name}-{n}"
        df.name += ".hex"
        for f in df.frames:
            f.t = df.stream.time_at(f.end)
    return files


def write_hex(path: str, data: bytes) -> None:
    with open(path, "w") as f:
        for i in range(0, len(data), 64):
            f.write(data[i:i + 64].hex() + "\n")


def frame_listing(df: DirectionFile) -> List[str]:
    """One line per frame; runs of consecutive PINGs, and runs of identical frames, are
    collapsed into one line."""
    out: List[str] = []
    frames = df.frames
    i = 0
    while i < len(frames):
        f = frames[i]
        j = i
        if f.qtype == QP["PING"]:
            while j + 1 < len(frames) and frames[j + 1].qtype == QP["PING"]:
                j += 1
        else:
            while j + 1 < len(frames) and frames[j + 1].summary == f.summary:
                j += 1
        if j > i:
            if f.qtype == QP["PING"]:
                zxids = sorted({g.zxid for g in frames[i:j + 1]})
                zx = hx(zxids[0]) if len(zxids) == 1 else f"{hx(zxids[0])}..{hx(zxids[-1])}"
                text = f"PING x{j - i + 1} zxid={zx}"
            else:
                text = f"{f.summary.replace('|', '/')} (x{j - i + 1}, identical)"
            out.append(f"| {i}-{j} | {f.offset} | {f.t:.3f}-{frames[j].t:.3f} | {text} |")
        else:
            out.append(f"| {i} | {f.offset} | {f.t:.3f} | {f.summary.replace('|', '/')} |")
        i = j + 1
    return out


def write_fixtures(out_dir: str, files: List[DirectionFile], capture: Capture, ensemble: Ensemble,
                   version: str, sync_log: Dict[str, List[str]]) -> int:
    os.makedirs(out_dir, exist_ok=True)
    for old in glob.glob(os.path.join(out_dir, "election-*.hex")) + glob.glob(os.path.join(out_dir, "quorum-*.hex")):
        os.remove(old)
    total = 0
    for df in files:
        kept = df.data[:df.complete]
        df.trimmed = len(df.data) - len(kept)
        write_hex(os.path.join(out_dir, df.name), kept)
        total += len(kept)

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md: List[str] = []
    md.append("# Quorum fixtures: Apache ZooKeeper member-to-member traffic")
    md.append("")
    number = re.match(r"\d+\.\d+\.\d+", version)
    md.append(f"Captured {date} from a real **Apache ZooKeeper {number.group(0) if number else version}** "
              f"ensemble (Debian package `zookeeper`, `QuorumPeerMain`, OpenJDK 17; `srvr` reports "
              f"`Zookeeper version: {version}`) by `tests/ensemble/capture_quorum_fixtures.py`. "
              "Regenerate with")
    md.append("")
    md.append("    python3 tests/ensemble/capture_quorum_fixtures.py --out Tests/ZKQuorumTests/Fixtures")
    md.append("")
    md.append("(zxids, epochs, session ids, times, ports and the exact interleaving will differ on every run).")
    md.append("")
    md.append("## Format")
    md.append("")
    md.append("Each `.hex` file is the raw byte stream one member sent on one TCP connection, in order, as "
              "lowercase hex, 64 bytes per line (last line shorter). No framing is added: the frames "
              "below are what the capture script's parser found in the bytes.")
    md.append("")
    md.append("* `election-AtoB.hex` -- bytes member A sent to member B on an election-port connection "
              "(QuorumCnxManager). The connector's direction starts with the initial message "
              "`long protocolVersion (-65536 = 0xffffffffffff0000, PROTOCOL_VERSION_V1), long sid, "
              "int n, n bytes 'host:port'`; then both directions carry `int length` + FastLeaderElection "
              "notification `{int state, long leader, long zxid, long electionEpoch, long peerEpoch, "
              "int version (2), int configLength, config bytes}` (state 0 LOOKING, 1 FOLLOWING, "
              "2 LEADING, 3 OBSERVING). The accepting side sends no initial message.")
    md.append("* `quorum-<learner>-to-leaderN-<sync>.hex` / `quorum-leaderN-to-<learner>-<sync>.hex` -- "
              "one direction of a learner's connection to the leader's quorum port. Jute "
              "`QuorumPacket{int type, long zxid, buffer data (int length, -1 = null), vector<Id> "
              "authinfo (int count, -1 = null)}` records written back to back by BinaryOutputArchive "
              "(no length prefix). `<sync>` is the sync mode the leader chose (first DIFF/SNAP/TRUNC "
              "packet). After a SNAP packet the leader writes the snapshot directly "
              "(SerializeUtils.serializeSnapshot: `int sessionCount, {long id, int timeout}*`, then "
              "DataTree.serialize: ACL cache `int n, {long index, vector<ACL>}*`, nodes `{ustring path, "
              "DataNode{buffer data, long acl, StatPersisted}}*` starting with the root's path \"\" and "
              "ending with the path \"/\"), then the ustring signature `\"BenWasHere\"` "
              "(LearnerHandler.run / Learner.syncWithLeader in 3.8.0; not \"BenchMark\").")
    md.append("* Files ending in `-2`, `-3`... are later connections between the same pair, in "
              "connection order.")
    md.append("")
    md.append("Packet types (Leader.java): REQUEST 1, PROPOSAL 2, ACK 3, COMMIT 4, PING 5, REVALIDATE 6, "
              "SYNC 7, INFORM 8, COMMITANDACTIVATE 9, NEWLEADER 10, FOLLOWERINFO 11, UPTODATE 12, DIFF 13, "
              "TRUNC 14, SNAP 15, OBSERVERINFO 16, LEADERINFO 17, ACKEPOCH 18, INFORMANDACTIVATE 19.")
    md.append("")
    md.append("## How it was captured")
    md.append("")
    md.append(f"Three voters (sid 1-3) and one observer (sid 4, `server.4=...:observer` in every config), "
              f"tickTime={TICK_MS}, initLimit={INIT_LIMIT}, syncLimit={SYNC_LIMIT}, "
              "reconfigEnabled=false, maxSessionTimeout=60000, 4lw.commands.whitelist=*, all on 127.0.0.1. "
              "Every inter-member connection goes through an in-process recording TCP relay: each member's "
              "own zoo.cfg names its own real ports in its `server.N` line and the relay ports for the other "
              "members (static configs, version 0, differing per member -- accepted by 3.8 with reconfig "
              "disabled). The relay rewrites the `host:port` of the election initial message in the "
              "*forwarded* copy to the connector's relay port, because a peer with a higher sid that drops "
              "the connection dials that address back; the fixtures hold the original bytes as sent.")
    md.append("")
    md.append("| sid | role | client port | quorum port (real / relay) | election port (real / relay) |")
    md.append("|---|---|---|---|---|")
    for m in ensemble.members:
        md.append(f"| {m.sid} | {m.role} | {m.client_port} | {m.quorum_port} / {m.quorum_relay.port} | "
                  f"{m.election_port} / {m.election_relay.port} |")
    md.append("")
    md.append("## Timeline")
    md.append("")
    md.append("Times are seconds since the capture started (also used for the frame times below).")
    md.append("")
    for t, text in capture.events:
        md.append(f"* {t:.3f}: {text}")
    md.append("")
    md.append("Sync modes seen in the server logs (`Getting a diff` / `Getting a snapshot` / `Truncating log`):")
    md.append("")
    for sid_name, lines in sync_log.items():
        for line in lines:
            md.append(f"* {sid_name}: `{line}`")
    md.append("")
    md.append("## Files")
    md.append("")
    md.append("| file | sender -> receiver | connection | phase | bytes | frames | sync |")
    md.append("|---|---|---|---|---|---|---|")
    for df in files:
        mode = re.search(r"-(diff|snap|trunc|nosync)(?:-\d+)?\.hex$", df.name)
        md.append(f"| `{df.name}` | {df.sender} -> {df.receiver} | #{df.conn.cid} ({df.conn.relay.kind}) | "
                  f"{df.conn.phase} | {df.complete} | {len(df.frames)} | {mode.group(1) if mode else ''} |")
    md.append("")
    for df in files:
        md.append(f"### `{df.name}`")
        md.append("")
        conn = df.conn
        md.append(f"Sent by {df.sender} to {df.receiver} on connection #{conn.cid} "
                  f"({conn.relay.kind} port of member {conn.relay.target_sid}), opened at {conn.t_open:.3f}s "
                  f"during phase `{conn.phase}`; {df.complete} bytes, {len(df.frames)} frames.")
        if conn.rewritten and df.stream is conn.up:
            md.append(f"Initial message address as sent: `{conn.rewritten[0]}` (forwarded as "
                      f"`{conn.rewritten[1]}`).")
        if df.stream.blackholed_from is not None:
            idx = next((i for i, f in enumerate(df.frames) if f.end > df.stream.blackholed_from), len(df.frames))
            md.append(f"**Blackholed** from byte offset {df.stream.blackholed_from} (frame {idx} on): "
                      "the relay recorded these bytes but did not deliver them (trunc phase partition).")
        if df.trimmed:
            md.append(f"The connection ended inside a frame: the last {df.trimmed} bytes (an incomplete frame) "
                      "are not in the file.")
        if df.error:
            md.append(f"Parser stopped: {df.error}; the rest of the stream is not in the file.")
        md.append("")
        md.append("| frame | offset | t (s) | decoded |")
        md.append("|---|---|---|---|")
        md.extend(frame_listing(df))
        md.append("")
    with open(os.path.join(out_dir, "FIXTURES.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    return total


# ---------------------------------------------------------------------------------------------
# Scenario

def kazoo_client(hosts: str, capture: Capture, label: str):
    from kazoo.client import KazooClient
    client = KazooClient(hosts=hosts, timeout=SESSION_TIMEOUT_S, randomize_hosts=False,
                         connection_retry={"max_tries": -1, "delay": 0.05, "max_delay": 0.5},
                         command_retry={"max_tries": 3, "delay": 0.1, "max_delay": 0.5})
    client.start(timeout=DEADLINE.bound(15))
    capture.event(f"client {label} connected to {hosts} (session 0x{client.client_id[0]:x})")
    return client


def close_client(client, capture: Capture, label: str, timeout: float = 8.0) -> None:
    """stop()+close() in a helper thread so a client that cannot reach a server cannot hang us."""
    def run():
        try:
            client.stop()
            client.close()
        except Exception:  # noqa: BLE001
            pass
    th = threading.Thread(target=run, daemon=True)
    th.start()
    th.join(DEADLINE.bound(timeout))
    capture.event(f"client {label} closed")


def steady_workload(capture: Capture, ens: Ensemble, leader: int) -> None:
    from kazoo.exceptions import NodeExistsError
    L = ens.by_sid(leader)
    followers = [m for m in ens.voters if m.sid != leader]
    F = followers[0]
    O = ens.observer

    c_leader = kazoo_client(L.hostport(), capture, f"on leader {L.sid}")
    c_leader.create("/paddock", b"root")
    c_leader.create("/paddock/persistent", b"v0")
    c_leader.create("/paddock/ephemeral-leader", b"e", ephemeral=True)
    c_leader.create("/paddock/seq-", b"s", sequence=True)
    c_leader.create("/paddock/seq-", b"s", sequence=True)
    c_leader.set("/paddock/persistent", b"v1")
    c_leader.create("/paddock/tmp", b"t")
    c_leader.delete("/paddock/tmp")
    try:
        c_leader.create("/paddock/persistent", b"dup")  # error txn (NodeExists)
    except NodeExistsError:
        pass
    t = c_leader.transaction()
    t.create("/paddock/multi-a", b"a")
    t.create("/paddock/multi-b", b"b")
    t.set_data("/paddock/persistent", b"v2")
    t.delete("/paddock/multi-b")
    t.commit()
    t = c_leader.transaction()  # failing multi: version check fails
    t.check("/paddock/persistent", 99)
    t.create("/paddock/never", b"")
    t.commit()
    c_leader.sync("/paddock")
    capture.event("leader client: creates (persistent, ephemeral, sequential), setData, delete, "
                  "failing create, multi, failing multi, sync")

    c_follower = kazoo_client(F.hostport(), capture, f"on follower {F.sid}")
    c_follower.create("/paddock/from-follower", b"f")
    c_follower.create("/paddock/ephemeral-follower", b"e", ephemeral=True)
    c_follower.create("/paddock/fseq-", b"s", sequence=True)
    c_follower.set("/paddock/from-follower", b"f1")
    c_follower.create("/paddock/ftmp", b"")
    c_follower.delete("/paddock/ftmp")
    t = c_follower.transaction()
    t.create("/paddock/fmulti", b"m")
    t.set_data("/paddock/from-follower", b"f2")
    t.commit()
    c_follower.sync("/paddock")
    capture.event(f"follower {F.sid} client: creates, setData, delete, multi, sync (REQUEST + SYNC)")
    close_client(c_follower, capture, f"on follower {F.sid} (closeSession via REQUEST)")

    c_observer = kazoo_client(O.hostport(), capture, f"on observer {O.sid}")
    c_observer.create("/paddock/from-observer", b"o")
    c_observer.create("/paddock/ephemeral-observer", b"e", ephemeral=True)
    c_observer.set("/paddock/from-observer", b"o1")
    c_observer.sync("/paddock")
    capture.event(f"observer {O.sid} client: creates, setData, sync")
    close_client(c_observer, capture, f"on observer {O.sid} (closeSession via REQUEST)")

    c_leader.delete("/paddock/ephemeral-leader")
    close_client(c_leader, capture, f"on leader {L.sid}")
    time.sleep(DEADLINE.bound(1.0))  # idle ticks: PINGs only


def revalidate_and_diff(capture: Capture, ens: Ensemble, leader: int) -> Member:
    from kazoo.protocol.states import KazooState
    L = ens.by_sid(leader)
    V, W = [m for m in ens.voters if m.sid != leader]
    capture.set_phase("diff", f"follower {V.sid} killed and restarted (DIFF); client session moves "
                              f"{V.sid} -> {W.sid} (REVALIDATE)")
    reconnected = threading.Event()
    lost = threading.Event()

    c_move = kazoo_client(f"{V.hostport()},{W.hostport()}", capture, "moving session")

    def listener(state):
        if state == KazooState.SUSPENDED:
            lost.set()
        elif state == KazooState.CONNECTED and lost.is_set():
            reconnected.set()
    c_move.add_listener(listener)
    c_move.create("/paddock/moving-ephemeral", b"m", ephemeral=True)

    V.kill9()
    wait_for(lambda: reconnected.is_set(), 20, "client session to move to the other follower")
    c_move.exists("/paddock")
    capture.event(f"moving session reconnected to {W.hostport()} (follower {W.sid} REVALIDATEs it)")

    c_leader = kazoo_client(L.hostport(), capture, f"on leader {L.sid}")
    for i in range(8):
        c_leader.create(f"/paddock/diff-{i:02d}", b"d")
    c_leader.set("/paddock/diff-00", b"d1")
    c_leader.delete("/paddock/diff-07")
    capture.event(f"10 writes while follower {V.sid} is down")
    V.start()
    ens.wait_settled(30, f"follower {V.sid} back (DIFF)")
    c_leader.create("/paddock/after-diff", b"a")
    c_move.set("/paddock/after-diff", b"moved")
    close_client(c_move, capture, "moving session")
    close_client(c_leader, capture, f"on leader {L.sid}")
    return V


def snap_sync(capture: Capture, ens: Ensemble, leader: int, V: Member) -> None:
    L = ens.by_sid(leader)
    capture.set_phase("snap", f"follower {V.sid} killed, data dir wiped, restarted (SNAP)")
    V.kill9()
    V.wipe_data()
    c_leader = kazoo_client(L.hostport(), capture, f"on leader {L.sid}")
    for i in range(3):
        c_leader.create(f"/paddock/snap-{i:02d}", b"s")
    c_leader.set("/paddock", b"root2")
    capture.event(f"4 writes while follower {V.sid} is down")
    V.start()
    ens.wait_settled(30, f"follower {V.sid} back (SNAP)")
    c_leader.create("/paddock/after-snap", b"a")
    close_client(c_leader, capture, f"on leader {L.sid}")


def trunc_sync(capture: Capture, ens: Ensemble, leader: int) -> int:
    L = ens.by_sid(leader)
    capture.set_phase("trunc", f"partition leader {L.sid}, uncommitted proposal, kill it, re-elect, "
                               f"restart it (TRUNC)")
    c_doomed = kazoo_client(L.hostport(), capture, f"on leader {L.sid} (doomed write)")
    c_doomed.create("/paddock/before-trunc", b"b")
    time.sleep(DEADLINE.bound(0.4))  # COMMIT reaches both followers
    L.quorum_relay.blackhole = True
    capture.event(f"relay stops delivering on leader {L.sid}'s quorum port (both directions)")
    c_doomed.create_async("/paddock/uncommitted", b"x")
    time.sleep(DEADLINE.bound(0.4))  # the leader logs (and fsyncs) its own PROPOSAL
    L.kill9()
    L.quorum_relay.blackhole = False
    close_client(c_doomed, capture, "doomed client", timeout=5)
    new_leader = ens.wait_settled(30, "new leader elected without the old one")
    capture.event(f"new leader {new_leader}; old leader {L.sid} restarts with an uncommitted txn in its log")
    L.start()
    ens.wait_settled(30, f"old leader {L.sid} back as follower (TRUNC)")
    c_new = kazoo_client(ens.by_sid(new_leader).hostport(), capture, f"on new leader {new_leader}")
    c_new.create("/paddock/after-trunc", b"a")
    c_new.set("/paddock/after-trunc", b"a1")
    c_old = kazoo_client(L.hostport(), capture, f"on old leader {L.sid} (now follower)")
    c_old.create("/paddock/from-old-leader", b"o")
    c_old.sync("/paddock")
    close_client(c_old, capture, f"on {L.sid}")
    close_client(c_new, capture, f"on {new_leader}")
    time.sleep(DEADLINE.bound(0.6))
    return new_leader


def sync_log_lines(ens: Ensemble) -> Dict[str, List[str]]:
    pat = re.compile(r"(Getting a diff from the leader \S+|Getting a snapshot from leader \S+|"
                     r"Truncating log to get in sync with the leader \S+)")
    out: Dict[str, List[str]] = {}
    for m in ens.members:
        lines = pat.findall(m.log_text())
        if lines:
            out[f"member {m.sid}"] = lines
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO, "Tests", "ZKQuorumTests", "Fixtures"),
                        help="fixture directory (default: Tests/ZKQuorumTests/Fixtures)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary ensemble directories")
    parser.add_argument("--skip-trunc", action="store_true", help="skip the TRUNC phase")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)

    for jar in CLASSPATH:
        if not os.path.exists(jar):
            print(f"missing {jar} (Debian package zookeeper)", file=sys.stderr)
            return 2

    def on_alarm(signum, frame):
        raise TimeoutError(f"capture exceeded its {TOTAL_BUDGET_S + 10}s budget")

    def on_term(signum, frame):
        raise SystemExit(f"terminated by signal {signum}")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(TOTAL_BUDGET_S + 10)

    root = tempfile.mkdtemp(prefix="paddock-quorum-capture-")
    capture = Capture()
    ens: Optional[Ensemble] = None
    ok = False
    try:
        ens = Ensemble(root, capture)
        capture.start_monitor()
        capture.set_phase("form", "four members start with empty data dirs")
        for m in ens.members:
            m.start()
        leader = ens.wait_settled(40, "initial election")
        version = ens.by_sid(leader).version()
        capture.set_phase("steady", f"leader {leader}: client workload")
        steady_workload(capture, ens, leader)
        V = revalidate_and_diff(capture, ens, leader)
        snap_sync(capture, ens, leader, V)
        if not args.skip_trunc:
            trunc_sync(capture, ens, leader)
        capture.event("stop recording; kill all members")
        capture.recording = False
        sync_log = sync_log_lines(ens)
        for m in ens.members:
            m.kill9()
        capture.stop()

        files = analyse(capture)
        total = write_fixtures(args.out, files, capture, ens, version, sync_log)
        print(f"\nwrote {len(files)} fixture files ({total} bytes of traffic) + FIXTURES.md to {args.out}")
        counts: Dict[str, int] = {}
        for df in files:
            for f in df.frames:
                counts[f.name] = counts.get(f.name, 0) + 1
            if df.error:
                print(f"  PARSE ERROR in {df.name}: {df.error}")
        print("frame counts: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
        print("sync modes (server logs): " + "; ".join(f"{k}: {v}" for k, v in sync_log.items()))
        ok = True
        return 0
    finally:
        signal.alarm(0)
        _kill_all_started()
        capture.stop()
        if ens is not None and not ok:
            for m in ens.members:
                print(f"--- member {m.sid} log tail ({m.log_path}) ---\n{m.log_tail(1500)}", file=sys.stderr)
        if args.keep or (not ok and os.environ.get("ZK_KEEP_WORKDIR") == "1"):
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
