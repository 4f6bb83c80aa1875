"""Helpers of the migration tests: a workload that makes every kind of znode (and deletes and
rewrites some, so the txn log matters next to the snapshots), and a full dump of a tree as a
client reads it (data, ACL, Stat, children), read through the raw wire client so null data
stays distinct from empty data.
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(REPO, 'tests', 'differential'))

from kazoo.client import KazooClient  # noqa: E402
from kazoo.security import ACL, Id, make_digest_acl, OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, CREATOR_ALL_ACL  # noqa: E402

import zkwire  # noqa: E402
from zkwire import OPEN_ACL_UNSAFE as OPEN_ACL, Op, Writer, enc_create, enc_path, enc_path_watch  # noqa: E402

PADDOCK_BIN = os.environ.get('PADDOCK_BIN', os.path.join(REPO, '.build', 'debug', 'paddock'))
USER, PASSWORD = 'alice', 'secret'
# Long enough to outlive the whole test: the raw session's ephemerals must survive every restart.
RAW_SESSION_TIMEOUT_MS = 150000
CFG = {
    'snapCount': 400,                 # snapshots every 200-400 txns: several snapshots and logs
    'maxSessionTimeout': 180000,
    'minSessionTimeout': 4000,
}
TTL_MS = 3600 * 1000


def paddock(*args, timeout=120):
    """Runs `paddock data ...`; returns (exit code, stdout, stderr)."""
    proc = subprocess.run([PADDOCK_BIN, 'data'] + list(args), capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def hosts(server):
    return '127.0.0.1:%d' % server.port


def _wait_all(results):
    for r in results:
        r.get(timeout=60)


def load_workload(server, scale=1.0, big_bytes=400 * 1024):
    """Builds the tree on a running server. Returns the raw session (still open) that owns the
    surviving ephemerals; its socket must be closed (without closeSession) before the server stops."""
    services, members = max(2, int(30 * scale)), max(4, int(80 * scale))
    raw = zkwire.Session('127.0.0.1', server.port, timeout_ms=RAW_SESSION_TIMEOUT_MS)
    assert raw.negotiated_timeout == RAW_SESSION_TIMEOUT_MS, raw.negotiated_timeout
    kz = KazooClient(hosts=hosts(server), timeout=30)
    kz.start(timeout=30)
    try:
        kz.add_auth('digest', '%s:%s' % (USER, PASSWORD))
        digest = [make_digest_acl(USER, PASSWORD, all=True)]
        mixed = digest + [ACL(1, Id('world', 'anyone')), ACL(3, Id('ip', '127.0.0.1'))]
        acls = [OPEN_ACL_UNSAFE, mixed, digest, CREATOR_ALL_ACL]
        for path in ('/app', '/seq', '/locks', '/ttl', '/containers', '/eph', '/deep', '/misc'):
            kz.create(path, b'top ' + path.encode())
        # Services and members: persistent nodes with data of many sizes, ACLs of every kind.
        for i in range(services):
            kz.create('/app/svc-%d' % i, ('{"service": %d}' % i).encode(), acl=acls[i % len(acls)])
        pending = []
        for i in range(services):
            for j in range(members):
                data = None if j % 17 == 0 else bytes((i * 7 + j + k) % 256 for k in range(j % 50))
                acl = READ_ACL_UNSAFE if j % 23 == 5 else acls[(i + j) % len(acls)]
                pending.append(kz.create_async('/app/svc-%d/member-%d' % (i, j), data, acl=acl))
        _wait_all(pending)
        # Sequential, TTL (plain and sequential), containers with children.
        _wait_all([kz.create_async('/seq/item-', b'seq %d' % k, sequence=True) for k in range(int(300 * scale))])
        # kazoo has no TTL create: the raw client sends them, pipelined.
        ttl = [(Op.createTTL, enc_create('/ttl/t-%d' % k, b'ttl', OPEN_ACL, zkwire.PERSISTENT_WITH_TTL, TTL_MS))
               for k in range(int(150 * scale))]
        ttl += [(Op.createTTL, enc_create('/ttl/s-', b'ttl seq', OPEN_ACL, zkwire.PERSISTENT_SEQUENTIAL_WITH_TTL, TTL_MS))
                for k in range(int(50 * scale))]
        assert all(reply.err == 0 for reply in _pipelined(raw, ttl))
        for k in range(int(40 * scale)):
            assert raw.create_container('/containers/c-%d' % k, b'container').err == 0
            kz.create('/containers/c-%d/child-a' % k, b'a')
            kz.create('/containers/c-%d/child-b' % k, b'b')
        # Ephemerals: the raw session's survive (a live session); kazoo's go with its closeSession.
        for k in range(int(100 * scale)):
            assert raw.create('/eph/raw-%d' % k, b'eph', flags=zkwire.EPHEMERAL).err == 0
        for k in range(int(20 * scale)):
            assert raw.create('/locks/lock-', b'', flags=zkwire.EPHEMERAL_SEQUENTIAL).err == 0
        _wait_all([kz.create_async('/eph/kazoo-%d' % k, b'gone', ephemeral=True) for k in range(int(50 * scale))])
        path = '/deep'
        for level in range(12):
            path += '/level-%d' % level
            kz.create(path, b'depth %d' % level)
        kz.create('/misc/unicode-\u043a\u043b\u044e\u0447-\u00fc', '\u00e9t\u00e9 \u2603'.encode())
        kz.create('/misc/binary', bytes(range(256)))
        kz.create('/misc/big', os.urandom(big_bytes))
        kz.create('/misc/empty', b'')
        # Deletes and rewrites: the log must be replayed for these to come out right.
        _wait_all([kz.delete_async('/app/svc-%d/member-%d' % (i, j))
                   for i in range(services) for j in range(members) if (i + j) % 4 == 0 and j % 23 != 5])
        _wait_all([kz.create_async('/app/svc-%d/member-%d' % (i, j), b'rewritten', acl=digest)
                   for i in range(services) for j in range(members) if (i + j) % 8 == 0 and j % 23 != 5])
        for rounds in range(3):
            _wait_all([kz.set_async('/app/svc-%d/member-%d' % (i, j), b'v%d' % rounds)
                       for i in range(services) for j in range(members)
                       if (i + j) % 3 == 1 and j % 23 != 5 and rounds <= (j % 3)
                       and ((i + j) % 4 != 0 or (i + j) % 8 == 0)])
        _wait_all([kz.set_acls_async('/app/svc-%d/member-%d' % (i, j), mixed)
                   for i in range(services) for j in range(members) if (i + j) % 10 == 3 and j % 23 != 5])
        _wait_all([kz.delete_async('/seq/item-%010d' % k) for k in range(0, int(300 * scale), 5)])
        _wait_all([kz.delete_async('/ttl/t-%d' % k) for k in range(0, int(150 * scale), 7)])
        for k in range(0, int(40 * scale), 3):
            kz.delete('/containers/c-%d/child-a' % k)
        for k in range(0, int(100 * scale), 9):
            assert raw.delete('/eph/raw-%d' % k).err == 0
        # Multi: one that commits, one that fails (an error txn in the log).
        t = kz.transaction()
        t.create('/misc/multi-a', b'ma')
        t.create('/misc/multi-b', b'mb')
        t.set_data('/misc/binary', b'changed in a multi')
        t.delete('/misc/empty')
        assert not any(isinstance(r, Exception) for r in t.commit())
        t = kz.transaction()
        t.create('/misc/multi-c', b'never')
        t.check('/misc/multi-a', 42)
        assert any(isinstance(r, Exception) for r in t.commit())
        kz.set('/misc/multi-a', b'after')
    finally:
        kz.stop()
        kz.close()
    return raw


def _pipelined(session, requests, batch=200):
    """Sends requests in batches and reads their replies in order (the server answers a
    session's requests in order)."""
    replies = []
    for start in range(0, len(requests), batch):
        chunk = requests[start:start + batch]
        xids = []
        for opcode, body in chunk:
            session.xid += 1
            xids.append(session.xid)
            session._send(Writer().int(session.xid).int(opcode).bytes() + body)
        for xid, (opcode, _) in zip(xids, chunk):
            replies.append(session._read_until(xid, opcode))
    return replies


def dump_tree(server, timeout=120):
    """Every znode as {path: (data, acl, stat, children)}, read with digest auth."""
    session = zkwire.Session('127.0.0.1', server.port, timeout_ms=30000)
    try:
        assert session.add_auth('digest', '%s:%s' % (USER, PASSWORD)).err == 0
        deadline = time.monotonic() + timeout
        tree = {}
        level = ['/']
        while level:
            assert time.monotonic() < deadline, 'dumping the tree took more than %ds' % timeout
            requests = []
            for path in level:
                requests += [(Op.getChildren2, enc_path_watch(path)), (Op.getData, enc_path_watch(path)),
                             (Op.getACL, enc_path(path))]
            replies = _pipelined(session, requests)
            next_level = []
            for index, path in enumerate(level):
                children, data, acl = replies[3 * index:3 * index + 3]
                for reply in (children, data, acl):
                    assert reply.err == 0, 'reading %s: %r' % (path, reply)
                names = sorted(children.resp['children'])
                tree[path] = (data.resp['data'], sorted(acl.resp['acl']), tuple(data.resp['stat']), tuple(names))
                next_level += [(path.rstrip('/') + '/' + name) for name in names]
            level = next_level
        return tree
    finally:
        session.close()


def diff_trees(expected, actual, limit=10):
    """Human-readable differences, at most `limit`."""
    problems = []
    for path in sorted(set(expected) | set(actual)):
        if path not in actual:
            problems.append('%s: missing' % path)
        elif path not in expected:
            problems.append('%s: unexpected' % path)
        elif expected[path] != actual[path]:
            e, a = expected[path], actual[path]
            fields = ['data', 'acl', 'stat', 'children']
            what = [f for f, x, y in zip(fields, e, a) if x != y]
            detail = ''
            if 'stat' in what:
                detail = ' '.join('%s %r->%r' % (n, x, y) for n, x, y in zip(zkwire.STAT_FIELDS, e[2], a[2]) if x != y)
            problems.append('%s: %s differ %s' % (path, '/'.join(what), detail))
        if len(problems) >= limit:
            break
    return problems


def reattach(server, raw):
    """Reconnects to the raw session by id and password: the session must still be valid."""
    session = zkwire.Session('127.0.0.1', server.port, timeout_ms=RAW_SESSION_TIMEOUT_MS,
                             session_id=raw.session_id, passwd=raw.passwd, last_zxid_seen=raw.last_zxid)
    assert session.session_id == raw.session_id and session.negotiated_timeout > 0, \
        'session 0x%x was not kept (negotiated timeout %d)' % (raw.session_id, session.negotiated_timeout)
    assert session.ping().err == 0
    return session


def drop(session):
    """Closes the socket without closing the session (its ephemerals stay)."""
    session.close()


def server_zxid(server):
    text = zkwire.four_letter('127.0.0.1', server.port, 'srvr')
    for line in text.splitlines():
        if line.startswith('Zxid:'):
            return int(line.split(':', 1)[1].strip(), 16)
    raise AssertionError('no Zxid in srvr output: %r' % text)
