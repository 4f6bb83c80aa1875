"""Connect/handshake, session resume, close, and expiry."""

import threading
import time

from kazoo.client import KazooClient
from kazoo.protocol.states import EventType, KazooState

from conftest import stop_kazoo
from rawzk import (
    Err, Flags, Op, RawClient, Reader, w_bool, w_buffer, w_int, w_long, wait_until,
)

EXPIRY_WAIT_S = 30.0  # a 4000 ms session expires within timeout + one tick; generous bound


def test_handshake_fields(raw):
    assert raw.protocol_version == 0
    assert raw.negotiated_timeout_ms == 10000
    assert raw.session_id != 0
    assert raw.passwd is not None and len(raw.passwd) == 16
    assert raw.read_only is False


def test_session_ids_are_distinct(make_raw):
    ids = {make_raw().session_id for _ in range(5)}
    assert len(ids) == 5


def test_negotiated_timeout_clamped_to_2_and_20_ticks(make_raw, server):
    tick = server.tick_time_ms
    assert make_raw(timeout_ms=1000).negotiated_timeout_ms == 2 * tick
    assert make_raw(timeout_ms=100000).negotiated_timeout_ms == 20 * tick
    assert make_raw(timeout_ms=5000).negotiated_timeout_ms == 5000


def test_connect_request_without_read_only_byte(server):
    """Old clients omit the trailing readOnly byte; the response then omits it too."""
    client = RawClient(server.host, server.port, connect=False)
    try:
        client.open_socket()
        client.send_frame(w_int(0) + w_long(0) + w_int(10000) + w_long(0) + w_buffer(b"\0" * 16))
        frame = client.read_frame()
        r = Reader(frame)
        assert r.int() == 0
        assert r.int() == 10000
        assert r.long() != 0
        assert len(r.buffer()) == 16
        assert r.remaining() == 0, f"unexpected trailing bytes in {frame!r}"
    finally:
        client.drop()


def test_read_only_request_on_read_write_server(make_raw, base):
    client = make_raw(read_only=True)
    assert client.read_only is False
    assert client.create(base + "/ro") == base + "/ro"


def test_ping(raw):
    reply = raw.call(Op.PING, b"", -2)
    assert reply.xid == -2
    assert reply.err == Err.OK


def test_close_session_replies_then_closes_connection(make_raw):
    client = make_raw()
    reply = client.call(Op.CLOSE_SESSION)
    assert reply.err == Err.OK
    assert client.is_closed_by_server(10.0), "server did not close the connection after closeSession"


def test_future_last_zxid_refused(server):
    """A client that has seen a zxid the server has not is refused (connection closed)."""
    client = RawClient(server.host, server.port, connect=False)
    try:
        client.open_socket()
        client.send_frame(w_int(0) + w_long(0x7FFFFFFF00000000) + w_int(10000) + w_long(0)
                          + w_buffer(b"\0" * 16) + w_bool(False))
        assert client.is_closed_by_server(10.0), "server accepted a client from the future"
    finally:
        client.drop()


def test_kazoo_connect(zk):
    assert zk.state == KazooState.CONNECTED
    session_id, password = zk.client_id
    assert session_id != 0 and len(password) == 16
    assert zk.get_children("/") is not None
    version = zk.server_version()
    assert version >= (3, 6, 0), f"server reports version {version}"


def test_resume_session_with_password_via_kazoo(make_raw, server, base):
    owner = make_raw(timeout_ms=30000)
    owner.create(base + "/eph", b"", flags=Flags.EPHEMERAL)
    session_id, password = owner.session_id, owner.passwd
    owner.drop()  # connection gone, session alive

    resumed = KazooClient(hosts=server.hostport, client_id=(session_id, password), timeout=30)
    resumed.start(timeout=15)
    try:
        assert resumed.client_id[0] == session_id
        stat = resumed.exists(base + "/eph")
        assert stat is not None and stat.ephemeralOwner == session_id
    finally:
        stop_kazoo(resumed)  # closes the session
    other = make_raw()
    assert other.exists(base + "/eph") is None, "ephemeral survived closeSession of resumed session"


def test_resume_moves_session_and_old_connection_is_closed(make_raw):
    first = make_raw(timeout_ms=20000)
    second = make_raw(timeout_ms=20000, session_id=first.session_id, passwd=first.passwd)
    assert second.session_id == first.session_id
    assert second.passwd == first.passwd
    assert second.negotiated_timeout_ms == 20000
    assert first.is_closed_by_server(10.0), "old connection of a moved session stayed open"
    second.ping()


def test_wrong_password_is_expired(make_raw, base):
    first = make_raw()
    first.create(base + "/eph", b"", flags=Flags.EPHEMERAL)
    bad = bytes(b ^ 0xFF for b in first.passwd)
    second = make_raw(session_id=first.session_id, passwd=bad)
    assert second.negotiated_timeout_ms == 0
    assert second.session_id == 0
    assert second.passwd == b"\0" * 16
    assert second.is_closed_by_server(10.0)
    # Apache 3.8 also closes the owner's live connection here (a quirk, not
    # asserted); the session itself survives and resumes with the right password.
    third = make_raw(session_id=first.session_id, passwd=first.passwd)
    assert third.negotiated_timeout_ms == 10000
    stat = third.exists(base + "/eph")
    assert stat is not None and stat.ephemeralOwner == first.session_id


def test_unknown_session_is_expired(make_raw):
    client = make_raw(session_id=0x0123456789AB, passwd=b"\0" * 16)
    assert client.negotiated_timeout_ms == 0
    assert client.session_id == 0
    assert client.is_closed_by_server(10.0)


def test_close_session_removes_ephemerals_and_fires_watches(make_zk, base):
    owner = make_zk()
    watcher = make_zk()
    owner.create(base + "/e1", b"x", ephemeral=True)
    seq = owner.create(base + "/e-", b"", ephemeral=True, sequence=True)
    events = []
    lock = threading.Lock()

    def record(event):
        with lock:
            events.append((event.type, event.path))

    watcher.exists(base + "/e1", watch=record)
    watcher.get(seq, watch=record)
    watcher.get_children(base, watch=record)
    owner.stop()
    assert watcher.exists(base + "/e1") is None
    assert watcher.exists(seq) is None
    wait_until(lambda: len(events) >= 3, 10, "3 watch events after closeSession")
    assert sorted(events) == sorted([
        (EventType.DELETED, base + "/e1"),
        (EventType.DELETED, seq),
        (EventType.CHILD, base),
    ])


def test_session_expiry_removes_ephemerals_and_fires_watches(make_raw, make_zk, base):
    keeper = make_raw(timeout_ms=4000)  # kept alive by pings below
    keeper.create(base + "/kept", b"", flags=Flags.EPHEMERAL)
    victim = make_raw(timeout_ms=4000)
    assert victim.negotiated_timeout_ms == 4000
    victim.create(base + "/eph", b"", flags=Flags.EPHEMERAL)
    victim.create(base + "/eph-", b"", flags=Flags.EPHEMERAL_SEQUENTIAL)
    victim_id, victim_pw = victim.session_id, victim.passwd

    watcher = make_zk()
    deleted = threading.Event()
    children_changed = threading.Event()
    watcher.exists(base + "/eph", watch=lambda e: e.type == EventType.DELETED and deleted.set())
    watcher.get_children(base, watch=lambda e: e.type == EventType.CHILD and children_changed.set())

    dropped_at = time.monotonic()
    victim.drop()  # no closeSession: only expiry can remove the ephemerals
    assert watcher.exists(base + "/eph") is not None, "ephemeral removed on disconnect, not expiry"

    deadline = dropped_at + EXPIRY_WAIT_S
    while not deleted.is_set():
        assert time.monotonic() < deadline, (
            f"ephemeral of an abandoned 4000 ms session not deleted within {EXPIRY_WAIT_S}s"
        )
        keeper.ping()
        deleted.wait(0.5)
    expired_after = time.monotonic() - dropped_at
    assert expired_after >= 2.0, f"session expired after only {expired_after:.2f}s"
    assert children_changed.wait(10), "no NodeChildrenChanged on parent of expired ephemerals"
    assert watcher.get_children(base) == ["kept"]
    keeper.ping()
    assert keeper.exists(base + "/kept") is not None, "pinged session expired too"

    again = make_raw(session_id=victim_id, passwd=victim_pw)
    assert again.negotiated_timeout_ms == 0, "expired session could be resumed"


def test_kazoo_observes_session_expiry(make_zk, make_raw, server, base):
    client = make_zk(timeout=10.0)
    client.create(base + "/mine", b"", ephemeral=True)
    old_id, old_pw = client.client_id
    states = []
    lost = threading.Event()

    def listener(state):
        states.append(state)
        if state == KazooState.LOST:
            lost.set()

    client.add_listener(listener)
    deadline = time.monotonic() + 30
    while not lost.is_set():
        assert time.monotonic() < deadline, f"kazoo never saw LOST; states {states}"
        thief = RawClient(server.host, server.port, session_id=old_id, passwd=old_pw)
        if thief.negotiated_timeout_ms:
            thief.close()  # closeSession on the stolen session
        else:
            thief.drop()
        lost.wait(1.0)
    wait_until(lambda: client.state == KazooState.CONNECTED, 20, "kazoo reconnect with a new session")
    assert client.client_id[0] != old_id
    assert make_raw().exists(base + "/mine") is None
