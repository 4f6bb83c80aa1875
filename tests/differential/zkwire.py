"""zkwire: a minimal, exact ZooKeeper 3.8 wire client in pure Python.

Jute encoding is big-endian: int32/int64, boolean = 1 byte, ustring/buffer =
int32 length + bytes (-1 = null), vector = int32 count (-1 = null) + items.
Every frame is an int32 length prefix + payload.  The first client frame is the
bare ConnectRequest (+ trailing readOnly byte), then RequestHeader{xid,type} +
body; replies are ReplyHeader{xid,zxid,err} + body.  Notifications have xid -1.

The client is deliberately synchronous: `Session.call()` sends one request and
reads frames until the reply with the same xid arrives; watch notifications
(xid -1) seen meanwhile are appended to `Session.events` in arrival order.
Nothing is validated client side: bad paths, bad ACLs, etc. go to the server
as-is, so the server's own reaction is observed.
"""

import hashlib
import base64
import socket
import struct
import time

# ---------------------------------------------------------------- constants

class Op:
    notification = 0
    create = 1
    delete = 2
    exists = 3
    getData = 4
    setData = 5
    getACL = 6
    setACL = 7
    getChildren = 8
    sync = 9
    ping = 11
    getChildren2 = 12
    check = 13
    multi = 14
    create2 = 15
    reconfig = 16
    checkWatches = 17
    removeWatches = 18
    createContainer = 19
    deleteContainer = 20
    createTTL = 21
    multiRead = 22
    auth = 100
    setWatches = 101
    sasl = 102
    getEphemerals = 103
    getAllChildrenNumber = 104
    setWatches2 = 105
    addWatch = 106
    whoAmI = 107
    createSession = -10
    closeSession = -11
    error = -1


OP_NAMES = {v: k for k, v in vars(Op).items() if not k.startswith('_')}

ERR_NAMES = {
    0: 'OK', -1: 'SystemError', -2: 'RuntimeInconsistency', -3: 'DataInconsistency',
    -4: 'ConnectionLoss', -5: 'MarshallingError', -6: 'Unimplemented',
    -7: 'OperationTimeout', -8: 'BadArguments', -12: 'UnknownSession',
    -13: 'NewConfigNoQuorum', -14: 'ReconfigInProgress', -100: 'APIError',
    -101: 'NoNode', -102: 'NoAuth', -103: 'BadVersion', -108: 'NoChildrenForEphemerals',
    -110: 'NodeExists', -111: 'NotEmpty', -112: 'SessionExpired', -113: 'InvalidCallback',
    -114: 'InvalidACL', -115: 'AuthFailed', -118: 'SessionMoved', -119: 'NotReadOnly',
    -120: 'EphemeralOnLocalSession', -121: 'NoWatcher', -122: 'RequestTimeout',
    -123: 'ReconfigDisabled', -124: 'SessionClosedRequireSaslAuth', -125: 'QuotaExceeded',
    -127: 'ThrottledOp',
}

# special xids (ClientCnxn)
XID_NOTIFICATION = -1
XID_PING = -2
XID_AUTH = -4
XID_SET_WATCHES = -8

# CreateMode flags
PERSISTENT, EPHEMERAL, PERSISTENT_SEQUENTIAL, EPHEMERAL_SEQUENTIAL = 0, 1, 2, 3
CONTAINER, PERSISTENT_WITH_TTL, PERSISTENT_SEQUENTIAL_WITH_TTL = 4, 5, 6

# Perms
READ, WRITE, CREATE, DELETE, ADMIN, ALL = 1, 2, 4, 8, 16, 31

# Watcher event types / states
EV_NONE, EV_CREATED, EV_DELETED, EV_DATA_CHANGED, EV_CHILDREN_CHANGED = -1, 1, 2, 3, 4
EV_DATA_WATCH_REMOVED, EV_CHILD_WATCH_REMOVED, EV_PERSISTENT_WATCH_REMOVED = 5, 6, 7
ST_SYNC_CONNECTED = 3

# WatcherType for checkWatches/removeWatches
WT_CHILDREN, WT_DATA, WT_ANY, WT_PERSISTENT, WT_PERSISTENT_RECURSIVE = 1, 2, 3, 4, 5
# AddWatchMode
AW_PERSISTENT, AW_PERSISTENT_RECURSIVE = 0, 1

OPEN_ACL_UNSAFE = [(ALL, 'world', 'anyone')]
READ_ACL_UNSAFE = [(READ, 'world', 'anyone')]
CREATOR_ALL_ACL = [(ALL, 'auth', '')]


def digest_id(user, password):
    """ACL id for scheme 'digest': user:base64(sha1(user:password))."""
    h = hashlib.sha1(('%s:%s' % (user, password)).encode()).digest()
    return '%s:%s' % (user, base64.b64encode(h).decode())


class ZKWireError(Exception):
    pass


class ConnectionClosed(ZKWireError):
    pass


# ---------------------------------------------------------------- jute codec

class Writer:
    def __init__(self):
        self.b = bytearray()

    def int(self, v):
        self.b += struct.pack('>i', v)
        return self

    def long(self, v):
        self.b += struct.pack('>q', v)
        return self

    def bool(self, v):
        self.b += b'\x01' if v else b'\x00'
        return self

    def buffer(self, v):
        if v is None:
            return self.int(-1)
        self.int(len(v))
        self.b += v
        return self

    def ustring(self, v):
        if v is None:
            return self.int(-1)
        if isinstance(v, str):
            v = v.encode('utf-8', 'surrogatepass')
        return self.buffer(v)

    def strings(self, v):
        if v is None:
            return self.int(-1)
        self.int(len(v))
        for s in v:
            self.ustring(s)
        return self

    def acls(self, acl):
        if acl is None:
            return self.int(-1)
        self.int(len(acl))
        for perms, scheme, ident in acl:
            self.int(perms).ustring(scheme).ustring(ident)
        return self

    def bytes(self):
        return bytes(self.b)


class Reader:
    def __init__(self, data, pos=0):
        self.d = data
        self.p = pos

    def remaining(self):
        return len(self.d) - self.p

    def _take(self, n):
        if self.p + n > len(self.d):
            raise ZKWireError('short record: need %d at %d of %d' % (n, self.p, len(self.d)))
        v = self.d[self.p:self.p + n]
        self.p += n
        return v

    def int(self):
        return struct.unpack('>i', self._take(4))[0]

    def long(self):
        return struct.unpack('>q', self._take(8))[0]

    def bool(self):
        return self._take(1) != b'\x00'

    def buffer(self):
        n = self.int()
        if n < 0:
            return None
        return bytes(self._take(n))

    def ustring(self):
        b = self.buffer()
        return None if b is None else b.decode('utf-8', 'surrogateescape')

    def strings(self):
        n = self.int()
        if n < 0:
            return None
        return [self.ustring() for _ in range(n)]

    def stat(self):
        return Stat(*struct.unpack('>qqqqiiiqiiq', self._take(68)))

    def acls(self):
        n = self.int()
        if n < 0:
            return None
        out = []
        for _ in range(n):
            perms = self.int()
            out.append((perms, self.ustring(), self.ustring()))
        return out


STAT_FIELDS = ('czxid', 'mzxid', 'ctime', 'mtime', 'version', 'cversion', 'aversion',
               'ephemeralOwner', 'dataLength', 'numChildren', 'pzxid')


class Stat(tuple):
    __slots__ = ()

    def __new__(cls, *vals):
        assert len(vals) == 11
        return tuple.__new__(cls, vals)

    def __getattr__(self, name):
        try:
            return self[STAT_FIELDS.index(name)]
        except ValueError:
            raise AttributeError(name)

    def asdict(self):
        return dict(zip(STAT_FIELDS, self))

    def __repr__(self):
        return 'Stat(%s)' % ', '.join('%s=%r' % kv for kv in zip(STAT_FIELDS, self))


# ---------------------------------------------------------------- request encoding

def enc_create(path, data=b'', acl=OPEN_ACL_UNSAFE, flags=0, ttl=None):
    w = Writer().ustring(path).buffer(data).acls(acl).int(flags)
    if ttl is not None:
        w.long(ttl)
    return w.bytes()


def enc_path_watch(path, watch=False):
    return Writer().ustring(path).bool(watch).bytes()


def enc_path(path):
    return Writer().ustring(path).bytes()


def enc_path_version(path, version=-1):
    return Writer().ustring(path).int(version).bytes()


def enc_set_data(path, data, version=-1):
    return Writer().ustring(path).buffer(data).int(version).bytes()


def enc_set_acl(path, acl, version=-1):
    return Writer().ustring(path).acls(acl).int(version).bytes()


def enc_path_int(path, v):
    return Writer().ustring(path).int(v).bytes()


def enc_auth(scheme, auth, type_=0):
    if isinstance(auth, str):
        auth = auth.encode()
    return Writer().int(type_).ustring(scheme).buffer(auth).bytes()


def enc_set_watches(rel_zxid, data=(), exist=(), child=(), persistent=None, recursive=None):
    w = Writer().long(rel_zxid).strings(list(data)).strings(list(exist)).strings(list(child))
    if persistent is not None or recursive is not None:
        w.strings(list(persistent or [])).strings(list(recursive or []))
    return w.bytes()


# Multi sub-operations are tuples:
#   ('create', path, data, acl, flags)         type 1  (CreateRequest)
#   ('create2', path, data, acl, flags)        type 15 (CreateRequest)
#   ('createTTL', path, data, acl, flags, ttl) type 21 (CreateTTLRequest)
#   ('createContainer', path, data, acl)       type 19 (CreateRequest, flags=4)
#   ('delete', path, version)                  type 2
#   ('setData', path, data, version)           type 5
#   ('check', path, version)                   type 13 (CheckVersionRequest)
#   ('getChildren', path)                      type 8  (multiRead)
#   ('getData', path)                          type 4  (multiRead)
def enc_multi_op(op):
    kind = op[0]
    if kind in ('create', 'create2'):
        _, path, data, acl, flags = op
        return getattr(Op, kind), enc_create(path, data, acl, flags)
    if kind == 'createTTL':
        _, path, data, acl, flags, ttl = op
        return Op.createTTL, enc_create(path, data, acl, flags, ttl)
    if kind == 'createContainer':
        _, path, data, acl = op
        return Op.createContainer, enc_create(path, data, acl, CONTAINER)
    if kind == 'delete':
        return Op.delete, enc_path_version(op[1], op[2])
    if kind == 'setData':
        return Op.setData, enc_set_data(op[1], op[2], op[3])
    if kind == 'check':
        return Op.check, enc_path_version(op[1], op[2])
    if kind == 'getChildren':
        return Op.getChildren, enc_path_watch(op[1], False)
    if kind == 'getData':
        return Op.getData, enc_path_watch(op[1], False)
    raise ValueError('unknown multi op %r' % (kind,))


def enc_multi(ops):
    w = Writer()
    for op in ops:
        t, body = enc_multi_op(op)
        w.int(t).bool(False).int(-1)   # MultiHeader{type, done=false, err=-1}
        w.b += body
    w.int(-1).bool(True).int(-1)       # end marker MultiHeader{-1, true, -1}
    return w.bytes()


# ---------------------------------------------------------------- response decoding

def dec_multi(r):
    """MultiResponse: run of MultiHeader{type,done,err}+result, ended by done=true."""
    results = []
    while True:
        t = r.int()
        done = r.bool()
        err = r.int()
        if done:
            break
        if t == Op.create:
            results.append(('create', err, {'path': r.ustring()}))
        elif t in (Op.create2, Op.createTTL, Op.createContainer):
            results.append((OP_NAMES[t], err, {'path': r.ustring(), 'stat': r.stat()}))
        elif t in (Op.delete, Op.check):
            results.append((OP_NAMES[t], err, None))
        elif t == Op.setData:
            results.append(('setData', err, {'stat': r.stat()}))
        elif t == Op.getChildren:
            results.append(('getChildren', err, {'children': r.strings()}))
        elif t == Op.getData:
            results.append(('getData', err, {'data': r.buffer(), 'stat': r.stat()}))
        elif t == Op.error:
            results.append(('error', err, {'err': r.int()}))
        else:
            raise ZKWireError('unknown multi result type %d' % t)
    return results


def decode_response(opcode, payload):
    r = Reader(payload)
    if opcode == Op.create:
        out = {'path': r.ustring()}
    elif opcode in (Op.create2, Op.createTTL, Op.createContainer):
        out = {'path': r.ustring(), 'stat': r.stat()}
    elif opcode in (Op.exists, Op.setData, Op.setACL):
        out = {'stat': r.stat()}
    elif opcode == Op.getData:
        out = {'data': r.buffer(), 'stat': r.stat()}
    elif opcode == Op.getACL:
        out = {'acl': r.acls(), 'stat': r.stat()}
    elif opcode == Op.getChildren:
        out = {'children': r.strings()}
    elif opcode == Op.getChildren2:
        out = {'children': r.strings(), 'stat': r.stat()}
    elif opcode == Op.sync:
        out = {'path': r.ustring()}
    elif opcode in (Op.multi, Op.multiRead):
        out = {'results': dec_multi(r)}
    elif opcode == Op.getEphemerals:
        out = {'ephemerals': r.strings()}
    elif opcode == Op.getAllChildrenNumber:
        out = {'totalNumber': r.int()}
    elif opcode == Op.sasl:
        out = {'token': r.buffer()}     # SetSASLResponse
    elif opcode == Op.addWatch:
        out = {'err': r.int()}          # the server sends ErrorResponse{0}
    elif opcode == Op.whoAmI:
        n = r.int()
        out = {'clientInfo': None if n < 0 else [(r.ustring(), r.ustring()) for _ in range(n)]}
    else:
        out = None
    if r.remaining():
        raise ZKWireError('%d trailing bytes decoding %s' % (r.remaining(), OP_NAMES.get(opcode, opcode)))
    return out


class Reply:
    """A decoded reply.  `resp` is None when the body is empty (errors)."""
    __slots__ = ('xid', 'zxid', 'err', 'opcode', 'resp', 'raw')

    def __init__(self, xid, zxid, err, opcode, resp, raw):
        self.xid, self.zxid, self.err, self.opcode, self.resp, self.raw = xid, zxid, err, opcode, resp, raw

    def __repr__(self):
        return 'Reply(xid=%d zxid=%#x err=%d(%s) op=%s resp=%r)' % (
            self.xid, self.zxid, self.err, ERR_NAMES.get(self.err, '?'),
            OP_NAMES.get(self.opcode, self.opcode), self.resp)


class Event:
    __slots__ = ('type', 'state', 'path', 'zxid')

    def __init__(self, type_, state, path, zxid):
        self.type, self.state, self.path, self.zxid = type_, state, path, zxid

    def key(self):
        return (self.type, self.state, self.path)

    def __repr__(self):
        return 'Event(type=%d state=%d path=%r)' % (self.type, self.state, self.path)


# ---------------------------------------------------------------- session

DEFAULT_IO_TIMEOUT = 30.0


class Session:
    """One TCP connection / ZooKeeper session, fully synchronous."""

    def __init__(self, host, port, timeout_ms=30000, session_id=0, passwd=b'\x00' * 16,
                 last_zxid_seen=0, read_only=False, send_read_only=True, io_timeout=None,
                 protocol_version=0):
        self.host, self.port = host, port
        self.io_timeout = DEFAULT_IO_TIMEOUT if io_timeout is None else io_timeout
        self.sock = socket.create_connection((host, port), timeout=io_timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rbuf = bytearray()
        self.events = []          # Event objects in arrival order
        self.closed = False
        self.xid = 0
        self.last_zxid = last_zxid_seen
        self.last_send = time.monotonic()
        w = Writer().int(protocol_version).long(last_zxid_seen).int(timeout_ms).long(session_id).buffer(passwd)
        if send_read_only:
            w.bool(read_only)
        self._send(w.bytes())
        payload = self._recv_frame()
        r = Reader(payload)
        self.protocol_version = r.int()
        self.negotiated_timeout = r.int()
        self.session_id = r.long()
        self.passwd = r.buffer()
        self.read_only = r.bool() if r.remaining() else None
        if self.negotiated_timeout <= 0 or self.session_id == 0:
            self.closed = True   # server refused (e.g. expired session); it will close

    # -- framing
    def _send(self, payload):
        if self.closed:
            raise ConnectionClosed('session closed')
        try:
            self.sock.sendall(struct.pack('>i', len(payload)) + payload)
        except OSError as e:
            self.closed = True
            raise ConnectionClosed(str(e))
        self.last_send = time.monotonic()

    def _fill(self, n, deadline):
        while len(self.rbuf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout('timed out waiting for server')
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError as e:
                chunk = b''
            if not chunk:
                self.closed = True
                raise ConnectionClosed('connection closed by server')
            self.rbuf += chunk

    def _recv_frame(self, timeout=None):
        deadline = time.monotonic() + (self.io_timeout if timeout is None else timeout)
        self._fill(4, deadline)
        n = struct.unpack('>i', self.rbuf[:4])[0]
        if n < 0 or n > 64 * 1024 * 1024:
            raise ZKWireError('bad frame length %d' % n)
        self._fill(4 + n, deadline)
        payload = bytes(self.rbuf[4:4 + n])
        del self.rbuf[:4 + n]
        return payload

    def _handle_notification(self, zxid, body):
        r = Reader(body)
        self.events.append(Event(r.int(), r.int(), r.ustring(), zxid))

    def _read_until(self, xid, opcode, timeout=None):
        while True:
            payload = self._recv_frame(timeout)
            r = Reader(payload)
            rxid, zxid, err = r.int(), r.long(), r.int()
            body = payload[16:]
            if rxid == XID_NOTIFICATION:
                self._handle_notification(zxid, body)
                continue
            if zxid > 0:
                self.last_zxid = max(self.last_zxid, zxid)
            if rxid != xid:
                if rxid == XID_PING:
                    continue  # stray ping reply
                raise ZKWireError('unexpected reply xid %d (waiting for %d)' % (rxid, xid))
            if body:
                try:
                    resp = decode_response(opcode, body)
                except ZKWireError:
                    if err == 0:
                        raise
                    resp = {'undecodable': body.hex()}
            else:
                resp = None
            return Reply(rxid, zxid, err, opcode, resp, payload)

    # -- pipelining
    def send_burst(self, requests):
        """Write several request payloads (RequestHeader + body each) in one sendall."""
        if self.closed:
            raise ConnectionClosed('session closed')
        try:
            self.sock.sendall(b''.join(struct.pack('>i', len(p)) + p for p in requests))
        except OSError as e:
            self.closed = True
            raise ConnectionClosed(str(e))
        self.last_send = time.monotonic()

    def next_reply(self, opcodes, timeout=None):
        """The next reply, whatever its xid (decoded with opcodes[xid]); notifications are kept
        in self.events and stray ping replies skipped, as in _read_until."""
        while True:
            payload = self._recv_frame(timeout)
            r = Reader(payload)
            rxid, zxid, err = r.int(), r.long(), r.int()
            body = payload[16:]
            if rxid == XID_NOTIFICATION:
                self._handle_notification(zxid, body)
                continue
            if rxid == XID_PING and XID_PING not in opcodes:
                continue
            if zxid > 0:
                self.last_zxid = max(self.last_zxid, zxid)
            opcode = opcodes.get(rxid)
            resp = None
            if body:
                try:
                    resp = decode_response(opcode, body) if opcode is not None else {'undecodable': body.hex()}
                except ZKWireError:
                    if err == 0:
                        raise
                    resp = {'undecodable': body.hex()}
            return Reply(rxid, zxid, err, opcode, resp, payload)

    # -- generic request
    def call(self, opcode, body=b'', xid=None, timeout=None):
        """Send RequestHeader{xid, opcode} + body; wait for the reply with that xid."""
        if xid is None:
            self.xid += 1
            xid = self.xid
        self._send(Writer().int(xid).int(opcode).bytes() + body)
        return self._read_until(xid, opcode, timeout)

    def poll_events(self, timeout=0.0):
        """Read any frames already sent by the server (notifications only expected)."""
        deadline = time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.0, deadline - time.monotonic()) or 0.000001)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, BlockingIOError):
                break
            if not chunk:
                self.closed = True
                break
            self.rbuf += chunk
        while len(self.rbuf) >= 4:
            n = struct.unpack('>i', self.rbuf[:4])[0]
            if len(self.rbuf) < 4 + n:
                break
            payload = bytes(self.rbuf[4:4 + n])
            del self.rbuf[:4 + n]
            r = Reader(payload)
            rxid, zxid, _ = r.int(), r.long(), r.int()
            if rxid == XID_NOTIFICATION:
                self._handle_notification(zxid, payload[16:])
        return self.events

    def expect_close(self, timeout=2.0):
        """Wait up to `timeout` for the server to close the connection.

        Notifications received meanwhile are kept; any other frame is
        returned in the list `self.stray`.  Returns True if EOF was seen."""
        self.stray = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                payload = self._recv_frame(max(0.0, deadline - time.monotonic()))
                r = Reader(payload)
                rxid, zxid, _ = r.int(), r.long(), r.int()
                if rxid == XID_NOTIFICATION:
                    self._handle_notification(zxid, payload[16:])
                else:
                    self.stray.append(payload)
        except ConnectionClosed:
            return True
        except (socket.timeout, TimeoutError, OSError):
            return self.closed

    def take_events(self):
        ev, self.events = self.events, []
        return ev

    # -- operations
    def ping(self):
        return self.call(Op.ping, b'', xid=XID_PING)

    def create(self, path, data=b'', acl=OPEN_ACL_UNSAFE, flags=0):
        return self.call(Op.create, enc_create(path, data, acl, flags))

    def create2(self, path, data=b'', acl=OPEN_ACL_UNSAFE, flags=0):
        return self.call(Op.create2, enc_create(path, data, acl, flags))

    def create_ttl(self, path, data=b'', acl=OPEN_ACL_UNSAFE, flags=PERSISTENT_WITH_TTL, ttl=60000):
        return self.call(Op.createTTL, enc_create(path, data, acl, flags, ttl))

    def create_container(self, path, data=b'', acl=OPEN_ACL_UNSAFE, flags=CONTAINER):
        return self.call(Op.createContainer, enc_create(path, data, acl, flags))

    def delete(self, path, version=-1):
        return self.call(Op.delete, enc_path_version(path, version))

    def exists(self, path, watch=False):
        return self.call(Op.exists, enc_path_watch(path, watch))

    def get_data(self, path, watch=False):
        return self.call(Op.getData, enc_path_watch(path, watch))

    def set_data(self, path, data, version=-1):
        return self.call(Op.setData, enc_set_data(path, data, version))

    def get_acl(self, path):
        return self.call(Op.getACL, enc_path(path))

    def set_acl(self, path, acl, version=-1):
        return self.call(Op.setACL, enc_set_acl(path, acl, version))

    def get_children(self, path, watch=False):
        return self.call(Op.getChildren, enc_path_watch(path, watch))

    def get_children2(self, path, watch=False):
        return self.call(Op.getChildren2, enc_path_watch(path, watch))

    def sync(self, path):
        return self.call(Op.sync, enc_path(path))

    def multi(self, ops):
        return self.call(Op.multi, enc_multi(ops))

    def multi_read(self, ops):
        return self.call(Op.multiRead, enc_multi(ops))

    def get_ephemerals(self, prefix='/'):
        return self.call(Op.getEphemerals, enc_path(prefix))

    def get_all_children_number(self, path):
        return self.call(Op.getAllChildrenNumber, enc_path(path))

    def add_watch(self, path, mode=AW_PERSISTENT):
        return self.call(Op.addWatch, enc_path_int(path, mode))

    def remove_watches(self, path, wtype=WT_ANY):
        return self.call(Op.removeWatches, enc_path_int(path, wtype))

    def check_watches(self, path, wtype=WT_ANY):
        return self.call(Op.checkWatches, enc_path_int(path, wtype))

    def set_watches(self, rel_zxid, data=(), exist=(), child=(), xid=XID_SET_WATCHES):
        return self.call(Op.setWatches, enc_set_watches(rel_zxid, data, exist, child), xid=xid)

    def set_watches2(self, rel_zxid, data=(), exist=(), child=(), persistent=(), recursive=(),
                     xid=XID_SET_WATCHES):
        return self.call(Op.setWatches2,
                         enc_set_watches(rel_zxid, data, exist, child, persistent, recursive), xid=xid)

    def add_auth(self, scheme, auth, xid=XID_AUTH):
        return self.call(Op.auth, enc_auth(scheme, auth), xid=xid)

    def who_am_i(self):
        return self.call(Op.whoAmI, b'')

    def close_session(self):
        rep = self.call(Op.closeSession, b'')
        return rep

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- four-letter words

def four_letter(host, port, word, timeout=10.0):
    """Send a four-letter word, return the full text response (server closes)."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(word.encode() if isinstance(word, str) else word)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except ConnectionResetError:
                break
            if not c:
                break
            chunks.append(c)
        return b''.join(chunks).decode('utf-8', 'replace')
    finally:
        s.close()
