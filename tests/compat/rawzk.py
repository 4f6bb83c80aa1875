"""A minimal, synchronous ZooKeeper wire client for the compatibility suite.

kazoo validates paths client-side, cannot send an empty string (it encodes ""
as null), and in 2.11 has no addWatch / TTL / container / getEphemerals /
getAllChildrenNumber / whoAmI / removeWatches / multiRead.  This client speaks
the jute protocol directly (zookeeper.jute, big-endian), so tests can send
exactly the bytes a stock Java client would and look at the exact reply
header error code and the exact order of notifications versus replies.

One socket, one thread: ``call()`` sends a request and reads frames until the
reply with the same xid arrives; notifications (xid -1) read on the way are
queued in ``events`` in arrival order, and ``frames`` records the order of
everything received (for "event before reply" checks).
"""

from __future__ import annotations

import socket
import struct
import time
from collections import namedtuple
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

# -- constants (ZooDefs.java, KeeperException.Code, Watcher.java) -------------

class Op:
    NOTIFICATION = 0
    CREATE = 1
    DELETE = 2
    EXISTS = 3
    GET_DATA = 4
    SET_DATA = 5
    GET_ACL = 6
    SET_ACL = 7
    GET_CHILDREN = 8
    SYNC = 9
    PING = 11
    GET_CHILDREN2 = 12
    CHECK = 13
    MULTI = 14
    CREATE2 = 15
    RECONFIG = 16
    CHECK_WATCHES = 17
    REMOVE_WATCHES = 18
    CREATE_CONTAINER = 19
    DELETE_CONTAINER = 20
    CREATE_TTL = 21
    MULTI_READ = 22
    AUTH = 100
    SET_WATCHES = 101
    SASL = 102
    GET_EPHEMERALS = 103
    GET_ALL_CHILDREN_NUMBER = 104
    SET_WATCHES2 = 105
    ADD_WATCH = 106
    WHO_AM_I = 107
    CREATE_SESSION = -10
    CLOSE_SESSION = -11
    ERROR = -1


class Err:
    OK = 0
    SYSTEM_ERROR = -1
    RUNTIME_INCONSISTENCY = -2
    DATA_INCONSISTENCY = -3
    CONNECTION_LOSS = -4
    MARSHALLING_ERROR = -5
    UNIMPLEMENTED = -6
    OPERATION_TIMEOUT = -7
    BAD_ARGUMENTS = -8
    UNKNOWN_SESSION = -12
    API_ERROR = -100
    NO_NODE = -101
    NO_AUTH = -102
    BAD_VERSION = -103
    NO_CHILDREN_FOR_EPHEMERALS = -108
    NODE_EXISTS = -110
    NOT_EMPTY = -111
    SESSION_EXPIRED = -112
    INVALID_CALLBACK = -113
    INVALID_ACL = -114
    AUTH_FAILED = -115
    SESSION_MOVED = -118
    NOT_READ_ONLY = -119
    EPHEMERAL_ON_LOCAL_SESSION = -120
    NO_WATCHER = -121
    REQUEST_TIMEOUT = -122
    RECONFIG_DISABLED = -123
    QUOTA_EXCEEDED = -125
    THROTTLED_OP = -127


ERR_NAMES = {v: k for k, v in vars(Err).items() if not k.startswith("_")}


class Ev:
    NONE = -1
    NODE_CREATED = 1
    NODE_DELETED = 2
    NODE_DATA_CHANGED = 3
    NODE_CHILDREN_CHANGED = 4
    DATA_WATCH_REMOVED = 5
    CHILD_WATCH_REMOVED = 6
    PERSISTENT_WATCH_REMOVED = 7


class State:
    DISCONNECTED = 0
    SYNC_CONNECTED = 3
    AUTH_FAILED = 4
    CONNECTED_READ_ONLY = 5
    SASL_AUTHENTICATED = 6
    CLOSED = 7
    EXPIRED = -112


class Flags:
    PERSISTENT = 0
    EPHEMERAL = 1
    PERSISTENT_SEQUENTIAL = 2
    EPHEMERAL_SEQUENTIAL = 3
    CONTAINER = 4
    PERSISTENT_WITH_TTL = 5
    PERSISTENT_SEQUENTIAL_WITH_TTL = 6


class Perm:
    READ = 1
    WRITE = 2
    CREATE = 4
    DELETE = 8
    ADMIN = 16
    ALL = 31


class WatcherType:  # removeWatches / checkWatches
    CHILDREN = 1
    DATA = 2
    ANY = 3


class AddWatchMode:
    PERSISTENT = 0
    PERSISTENT_RECURSIVE = 1


XID_NOTIFICATION = -1
XID_PING = -2
XID_AUTH = -4
XID_SET_WATCHES = -8

ACL = namedtuple("ACL", "perms scheme id")
OPEN_ACL_UNSAFE = [ACL(Perm.ALL, "world", "anyone")]
READ_ACL_UNSAFE = [ACL(Perm.READ, "world", "anyone")]
CREATOR_ALL_ACL = [ACL(Perm.ALL, "auth", "")]

Stat = namedtuple(
    "Stat",
    "czxid mzxid ctime mtime version cversion aversion ephemeralOwner "
    "dataLength numChildren pzxid",
)
Event = namedtuple("Event", "type state path zxid")
Reply = namedtuple("Reply", "xid zxid err body")
MultiResult = namedtuple("MultiResult", "type err value")

CONTAINER_EPHEMERAL_OWNER = -0x8000000000000000  # Long.MIN_VALUE
TTL_EPHEMERAL_OWNER_MASK = 0xFF << 56  # EphemeralType.TTL: high byte 0xFF


class ZKError(Exception):
    def __init__(self, code: int, what: str = "") -> None:
        self.code = code
        self.name = ERR_NAMES.get(code, f"code {code}")
        super().__init__(f"{self.name} ({code}){': ' + what if what else ''}")


class ConnectionClosed(Exception):
    pass


# -- jute encoding -----------------------------------------------------------

def w_int(v: int) -> bytes:
    return struct.pack("!i", v)


def w_long(v: int) -> bytes:
    return struct.pack("!q", v)


def w_bool(v: bool) -> bytes:
    return b"\x01" if v else b"\x00"


def w_buffer(v: Optional[bytes]) -> bytes:
    if v is None:
        return w_int(-1)
    return w_int(len(v)) + v


def w_string(v: Optional[str]) -> bytes:
    """ustring; unlike kazoo, "" is sent as length 0 and only None as -1."""
    if v is None:
        return w_int(-1)
    return w_buffer(v.encode("utf-8"))


def w_strings(vs: Optional[Sequence[str]]) -> bytes:
    if vs is None:
        return w_int(-1)
    return w_int(len(vs)) + b"".join(w_string(v) for v in vs)


def w_acls(acls: Optional[Sequence[ACL]]) -> bytes:
    if acls is None:
        return w_int(-1)
    out = w_int(len(acls))
    for acl in acls:
        out += w_int(acl.perms) + w_string(acl.scheme) + w_string(acl.id)
    return out


class Reader:
    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.offset = offset

    def _take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.offset + size > len(self.data):
            raise ValueError(f"short read: need {size} at {self.offset} of {len(self.data)}")
        (value,) = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += size
        return value

    def int(self) -> int:
        return self._take("!i")

    def long(self) -> int:
        return self._take("!q")

    def bool(self) -> bool:
        return self._take("!B") != 0

    def buffer(self) -> Optional[bytes]:
        n = self.int()
        if n < 0:
            return None
        v = self.data[self.offset:self.offset + n]
        if len(v) != n:
            raise ValueError("short buffer")
        self.offset += n
        return v

    def string(self) -> Optional[str]:
        v = self.buffer()
        return None if v is None else v.decode("utf-8")

    def strings(self) -> Optional[List[str]]:
        n = self.int()
        if n < 0:
            return None
        return [self.string() for _ in range(n)]

    def stat(self) -> Stat:
        return Stat(
            self.long(), self.long(), self.long(), self.long(),
            self.int(), self.int(), self.int(), self.long(),
            self.int(), self.int(), self.long(),
        )

    def acls(self) -> List[ACL]:
        n = self.int()
        return [ACL(self.int(), self.string(), self.string()) for _ in range(max(n, 0))]

    def remaining(self) -> int:
        return len(self.data) - self.offset


# -- request bodies (also used inside multi) ---------------------------------

def create_body(path, data=b"", acl=OPEN_ACL_UNSAFE, flags=0) -> bytes:
    return w_string(path) + w_buffer(data) + w_acls(acl) + w_int(flags)


def create_ttl_body(path, data, acl, flags, ttl) -> bytes:
    return create_body(path, data, acl, flags) + w_long(ttl)


def delete_body(path, version=-1) -> bytes:
    return w_string(path) + w_int(version)


def set_data_body(path, data, version=-1) -> bytes:
    return w_string(path) + w_buffer(data) + w_int(version)


def check_body(path, version) -> bytes:
    return w_string(path) + w_int(version)


def path_watch_body(path, watch=False) -> bytes:
    return w_string(path) + w_bool(watch)


# -- the client ---------------------------------------------------------------

class RawClient:
    def __init__(
        self,
        host: str,
        port: int,
        timeout_ms: int = 10000,
        session_id: int = 0,
        passwd: bytes = b"\x00" * 16,
        last_zxid: int = 0,
        read_only: bool = False,
        io_timeout: float = 10.0,
        connect: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.io_timeout = io_timeout
        self.sock: Optional[socket.socket] = None
        self.buf = b""
        self.xid = 0
        self.events: List[Event] = []
        self.frames: List[Tuple[str, int]] = []  # ("event", type) / ("reply", xid)
        self.requested_timeout_ms = timeout_ms
        self.negotiated_timeout_ms = None
        self.session_id = None
        self.passwd = None
        self.read_only = None
        self.last_zxid = last_zxid
        self.last_reply: Optional[Reply] = None
        if connect:
            self.connect(timeout_ms, session_id, passwd, last_zxid, read_only)

    # -- transport -----------------------------------------------------------
    def open_socket(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.io_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send_frame(self, payload: bytes) -> None:
        assert self.sock is not None
        self.sock.sendall(w_int(len(payload)) + payload)

    def send_bytes(self, raw: bytes) -> None:
        assert self.sock is not None
        self.sock.sendall(raw)

    def read_frame(self, timeout: Optional[float] = None) -> bytes:
        assert self.sock is not None
        deadline = time.monotonic() + (self.io_timeout if timeout is None else timeout)
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack_from("!i", self.buf, 0)
                if len(self.buf) >= 4 + n:
                    frame = self.buf[4:4 + n]
                    self.buf = self.buf[4 + n:]
                    return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no complete frame from {self.host}:{self.port} in time")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError(f"no complete frame from {self.host}:{self.port} in time")
            except ConnectionResetError as error:
                raise ConnectionClosed(f"connection reset: {error}")
            if not chunk:
                raise ConnectionClosed("server closed the connection")
            self.buf += chunk

    def is_closed_by_server(self, timeout: float = 10.0) -> bool:
        """True once the server has closed the connection (EOF/reset) within timeout."""
        try:
            while True:
                self._dispatch_frame(self.read_frame(timeout))
        except ConnectionClosed:
            return True
        except TimeoutError:
            return False

    # -- handshake -------------------------------------------------------------
    def connect(self, timeout_ms=10000, session_id=0, passwd=b"\x00" * 16,
                last_zxid=0, read_only=False) -> None:
        self.open_socket()
        req = (w_int(0) + w_long(last_zxid) + w_int(timeout_ms) + w_long(session_id)
               + w_buffer(passwd) + w_bool(read_only))
        self.send_frame(req)
        r = Reader(self.read_frame())
        self.protocol_version = r.int()
        self.negotiated_timeout_ms = r.int()
        self.session_id = r.long()
        self.passwd = r.buffer()
        self.read_only = r.bool() if r.remaining() else None

    # -- frames ----------------------------------------------------------------
    def _dispatch_frame(self, frame: bytes) -> Optional[Reply]:
        r = Reader(frame)
        xid, zxid, err = r.int(), r.long(), r.int()
        if xid == XID_NOTIFICATION:
            ev = Event(r.int(), r.int(), r.string(), zxid)
            self.events.append(ev)
            self.frames.append(("event", ev.type))
            return None
        self.frames.append(("reply", xid))
        if zxid > 0:
            self.last_zxid = max(self.last_zxid, zxid)
        return Reply(xid, zxid, err, frame[r.offset:])

    def send_request(self, op: int, body: bytes = b"", xid: Optional[int] = None) -> int:
        if xid is None:
            self.xid += 1
            xid = self.xid
        self.send_frame(w_int(xid) + w_int(op) + body)
        return xid

    def read_reply(self, xid: int, timeout: Optional[float] = None) -> Reply:
        deadline = time.monotonic() + (self.io_timeout if timeout is None else timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no reply for xid {xid}")
            reply = self._dispatch_frame(self.read_frame(remaining))
            if reply is None:
                continue
            if reply.xid == xid:
                return reply
            if reply.xid == XID_PING:
                continue
            raise AssertionError(f"unexpected reply xid {reply.xid} while waiting for {xid}")

    def call(self, op: int, body: bytes = b"", xid: Optional[int] = None) -> Reply:
        self.last_reply = self.read_reply(self.send_request(op, body, xid))
        return self.last_reply

    def checked(self, op: int, body: bytes = b"", what: str = "") -> Reader:
        reply = self.call(op, body)
        if reply.err != Err.OK:
            raise ZKError(reply.err, what)
        return Reader(reply.body)

    def ping(self) -> None:
        self.call(Op.PING, b"", XID_PING)

    def wait_events(self, count: int = 1, timeout: float = 10.0,
                    what: str = "watch events") -> List[Event]:
        """Wait until at least `count` events are queued, pinging meanwhile;
        returns and clears the queue."""
        deadline = time.monotonic() + timeout
        while len(self.events) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {count} {what}; got {self.events}"
                )
            try:
                self._dispatch_frame(self.read_frame(min(remaining, 1.0)))
            except TimeoutError:
                self.ping()
        got, self.events = self.events, []
        return got

    def drain_events(self) -> List[Event]:
        """Round-trip a ping so every notification sent before it has been
        read, then return and clear the queue."""
        self.ping()
        got, self.events = self.events, []
        return got

    # -- session end -----------------------------------------------------------
    def close(self) -> None:
        """closeSession, then close the socket."""
        if self.sock is None:
            return
        try:
            self.call(Op.CLOSE_SESSION)
        except (ConnectionClosed, TimeoutError, OSError):
            pass
        self.drop()

    def drop(self) -> None:
        """Close the socket without closing the session."""
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def __enter__(self) -> "RawClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- operations -------------------------------------------------------------
    def auth(self, scheme: str, credential: bytes) -> int:
        """Returns the reply error code (0, or AuthFailed -115)."""
        reply = self.call(Op.AUTH, w_int(0) + w_string(scheme) + w_buffer(credential), XID_AUTH)
        return reply.err

    def create(self, path, data=b"", acl=OPEN_ACL_UNSAFE, flags=0) -> str:
        return self.checked(Op.CREATE, create_body(path, data, acl, flags), path).string()

    def create2(self, path, data=b"", acl=OPEN_ACL_UNSAFE, flags=0) -> Tuple[str, Stat]:
        r = self.checked(Op.CREATE2, create_body(path, data, acl, flags), path)
        return r.string(), r.stat()

    def create_container(self, path, data=b"", acl=OPEN_ACL_UNSAFE) -> Tuple[str, Stat]:
        r = self.checked(Op.CREATE_CONTAINER, create_body(path, data, acl, Flags.CONTAINER), path)
        return r.string(), r.stat()

    def create_ttl(self, path, data=b"", acl=OPEN_ACL_UNSAFE,
                   flags=Flags.PERSISTENT_WITH_TTL, ttl=1000) -> Tuple[str, Stat]:
        r = self.checked(Op.CREATE_TTL, create_ttl_body(path, data, acl, flags, ttl), path)
        return r.string(), r.stat()

    def delete(self, path, version=-1) -> None:
        self.checked(Op.DELETE, delete_body(path, version), path)

    def exists(self, path, watch=False) -> Optional[Stat]:
        reply = self.call(Op.EXISTS, path_watch_body(path, watch))
        if reply.err == Err.NO_NODE:
            return None
        if reply.err != Err.OK:
            raise ZKError(reply.err, path)
        return Reader(reply.body).stat()

    def get(self, path, watch=False) -> Tuple[Optional[bytes], Stat]:
        r = self.checked(Op.GET_DATA, path_watch_body(path, watch), path)
        return r.buffer(), r.stat()

    def set(self, path, data, version=-1) -> Stat:
        return self.checked(Op.SET_DATA, set_data_body(path, data, version), path).stat()

    def get_acl(self, path) -> Tuple[List[ACL], Stat]:
        r = self.checked(Op.GET_ACL, w_string(path), path)
        return r.acls(), r.stat()

    def set_acl(self, path, acls, version=-1) -> Stat:
        return self.checked(Op.SET_ACL, w_string(path) + w_acls(acls) + w_int(version), path).stat()

    def get_children(self, path, watch=False) -> List[str]:
        return self.checked(Op.GET_CHILDREN, path_watch_body(path, watch), path).strings()

    def get_children2(self, path, watch=False) -> Tuple[List[str], Stat]:
        r = self.checked(Op.GET_CHILDREN2, path_watch_body(path, watch), path)
        return r.strings(), r.stat()

    def sync(self, path) -> str:
        return self.checked(Op.SYNC, w_string(path), path).string()

    def add_watch(self, path, mode) -> None:
        self.checked(Op.ADD_WATCH, w_string(path) + w_int(mode), path)

    def remove_watches(self, path, watcher_type) -> int:
        """Returns the reply error code (0 or NoWatcher -121)."""
        return self.call(Op.REMOVE_WATCHES, w_string(path) + w_int(watcher_type)).err

    def check_watches(self, path, watcher_type) -> int:
        return self.call(Op.CHECK_WATCHES, w_string(path) + w_int(watcher_type)).err

    def get_ephemerals(self, prefix) -> List[str]:
        return self.checked(Op.GET_EPHEMERALS, w_string(prefix), prefix).strings()

    def get_all_children_number(self, path) -> int:
        return self.checked(Op.GET_ALL_CHILDREN_NUMBER, w_string(path), path).int()

    def who_am_i(self) -> List[Tuple[str, str]]:
        r = self.checked(Op.WHO_AM_I)
        n = r.int()
        return [(r.string(), r.string()) for _ in range(max(n, 0))]

    def set_watches(self, relative_zxid, data=(), exist=(), child=()) -> int:
        body = (w_long(relative_zxid) + w_strings(list(data)) + w_strings(list(exist))
                + w_strings(list(child)))
        return self.call(Op.SET_WATCHES, body, XID_SET_WATCHES).err

    def set_watches2(self, relative_zxid, data=(), exist=(), child=(),
                     persistent=(), persistent_recursive=()) -> int:
        body = (w_long(relative_zxid) + w_strings(list(data)) + w_strings(list(exist))
                + w_strings(list(child)) + w_strings(list(persistent))
                + w_strings(list(persistent_recursive)))
        return self.call(Op.SET_WATCHES2, body, XID_SET_WATCHES).err

    def multi(self, ops: Iterable[Tuple[int, bytes]], op: int = Op.MULTI) -> Tuple[int, List[MultiResult]]:
        """ops: (opcode, body).  Returns (reply header err, results)."""
        body = b""
        for (typ, payload) in ops:
            body += w_int(typ) + w_bool(False) + w_int(-1) + payload
        body += w_int(-1) + w_bool(True) + w_int(-1)
        reply = self.call(op, body)
        results: List[MultiResult] = []
        r = Reader(reply.body)
        if r.remaining() == 0:
            return reply.err, results
        while True:
            typ, done, err = r.int(), r.bool(), r.int()
            if done:
                break
            if typ == Op.ERROR:
                results.append(MultiResult(typ, r.int(), None))
            elif typ == Op.CREATE:
                results.append(MultiResult(typ, err, r.string()))
            elif typ == Op.CREATE2 or typ == Op.CREATE_TTL or typ == Op.CREATE_CONTAINER:
                results.append(MultiResult(typ, err, (r.string(), r.stat())))
            elif typ == Op.SET_DATA:
                results.append(MultiResult(typ, err, r.stat()))
            elif typ in (Op.DELETE, Op.CHECK):
                results.append(MultiResult(typ, err, None))
            elif typ == Op.GET_DATA:
                results.append(MultiResult(typ, err, (r.buffer(), r.stat())))
            elif typ == Op.GET_CHILDREN:
                results.append(MultiResult(typ, err, r.strings()))
            else:
                raise AssertionError(f"unknown multi result type {typ}")
        return reply.err, results


def wait_until(predicate: Callable[[], object], timeout: float, what: str,
               interval: float = 0.05):
    """Poll predicate until truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 - reported on timeout
            last_error = error
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}"
                + (f" (last error: {last_error!r})" if last_error else "")
            )
        time.sleep(interval)
