"""Containers, TTL nodes, getEphemerals, getAllChildrenNumber, and protocol
edges (unknown opcode, reconfig disabled, frame size limit).

kazoo 2.11 has no API for TTL, containers, getEphemerals,
getAllChildrenNumber, whoAmI, addWatch or removeWatches, so these go through
the raw client (the same bytes a stock Java client sends).
"""

import time

import pytest

from rawzk import (
    OPEN_ACL_UNSAFE, Err, Flags, Op, ZKError, create_body, w_int, w_long, w_string, wait_until,
)

REAP_WAIT_S = 30.0  # the reaper runs every znode.container.checkIntervalMs (1 s here)


def code_of(fn):
    try:
        fn()
    except ZKError as error:
        return error.code
    return Err.OK


# -- containers -----------------------------------------------------------------------

def test_create_container(raw, base):
    path, stat = raw.create_container(base + "/ct", b"d")
    assert path == base + "/ct"
    assert stat.ephemeralOwner == 0, "containers report ephemeralOwner 0 to clients"
    assert stat.dataLength == 1
    # the container flag also works through plain create/create2
    assert raw.create2(base + "/ct2", b"", OPEN_ACL_UNSAFE, Flags.CONTAINER)[0] == base + "/ct2"
    assert raw.create(base + "/ct3", b"", OPEN_ACL_UNSAFE, Flags.CONTAINER) == base + "/ct3"


def test_container_reaped_after_last_child_goes(raw, base):
    raw.create_container(base + "/never")  # never had children: kept
    raw.create_container(base + "/ct")
    raw.create(base + "/ct/child")
    raw.create_container(base + "/busy")
    raw.create(base + "/busy/child")
    raw.delete(base + "/ct/child")
    start = time.monotonic()
    wait_until(lambda: raw.exists(base + "/ct") is None, REAP_WAIT_S,
               "container reaper to delete an emptied container")
    assert raw.exists(base + "/never") is not None, "a container that never had children was reaped"
    assert raw.exists(base + "/busy") is not None, "a container with a child was reaped"
    assert time.monotonic() - start < REAP_WAIT_S


def test_container_reap_fires_watches(make_raw, base):
    w, x = make_raw(), make_raw()
    x.create_container(base + "/ct")
    x.create(base + "/ct/c")
    w.exists(base + "/ct", watch=True)
    w.get_children(base, watch=True)
    x.delete(base + "/ct/c")
    events = w.wait_events(2, REAP_WAIT_S, "NodeDeleted + NodeChildrenChanged from the reaper")
    assert sorted((e.type, e.path) for e in events) == sorted([(2, base + "/ct"), (4, base)])


def test_container_with_ephemeral_child(make_raw, base):
    owner, x = make_raw(), make_raw()
    x.create_container(base + "/ct")
    owner.create(base + "/ct/e", b"", flags=Flags.EPHEMERAL)
    owner.close()  # the ephemeral goes with the session, then the container
    wait_until(lambda: x.exists(base + "/ct") is None, REAP_WAIT_S,
               "reaper to delete a container emptied by session close")


# -- TTL nodes --------------------------------------------------------------------------

def test_create_ttl(raw, base):
    path, stat = raw.create_ttl(base + "/ttl", b"t", ttl=60000)
    assert path == base + "/ttl"
    assert stat.ephemeralOwner == 0, "TTL nodes report ephemeralOwner 0 to clients"
    path, _ = raw.create_ttl(base + "/ttls-", b"", flags=Flags.PERSISTENT_SEQUENTIAL_WITH_TTL, ttl=60000)
    assert path == base + "/ttls-0000000001"
    assert raw.create_ttl(base + "/max", ttl=(1 << 40) - 1)[0] == base + "/max"


@pytest.mark.parametrize("ttl", [0, -1, 1 << 40])
def test_ttl_out_of_range_is_bad_arguments(raw, base, ttl):
    assert code_of(lambda: raw.create_ttl(base + "/bad", ttl=ttl)) == Err.BAD_ARGUMENTS


@pytest.mark.parametrize("flags", [Flags.PERSISTENT, Flags.EPHEMERAL, Flags.CONTAINER,
                                   Flags.PERSISTENT_SEQUENTIAL])
def test_ttl_op_with_non_ttl_mode_is_bad_arguments(raw, base, flags):
    assert code_of(lambda: raw.create_ttl(base + "/bad", flags=flags, ttl=1000)) == Err.BAD_ARGUMENTS


@pytest.mark.parametrize("op", [Op.CREATE, Op.CREATE2])
def test_ttl_mode_without_ttl_op_is_bad_arguments(raw, base, op):
    reply = raw.call(op, create_body(base + "/bad", b"", OPEN_ACL_UNSAFE, Flags.PERSISTENT_WITH_TTL))
    assert reply.err == Err.BAD_ARGUMENTS


@pytest.mark.parametrize("flags", [7, -1, 100])
def test_unknown_create_mode_is_bad_arguments(raw, base, flags):
    reply = raw.call(Op.CREATE2, create_body(base + "/bad", b"", OPEN_ACL_UNSAFE, flags))
    assert reply.err == Err.BAD_ARGUMENTS


def test_ttl_node_expires_when_childless(raw, base):
    raw.create_ttl(base + "/short", ttl=500)
    raw.create_ttl(base + "/parent", ttl=500)
    raw.create(base + "/parent/child")
    raw.create_ttl(base + "/long", ttl=3_600_000)
    wait_until(lambda: raw.exists(base + "/short") is None, REAP_WAIT_S,
               "TTL node (ttl 500 ms) to be deleted")
    assert raw.exists(base + "/long") is not None, "TTL node deleted long before its TTL"
    assert raw.exists(base + "/parent") is not None, "TTL node with a child was deleted"
    raw.delete(base + "/parent/child")
    wait_until(lambda: raw.exists(base + "/parent") is None, REAP_WAIT_S,
               "TTL node to be deleted once its last child is gone")


# -- getEphemerals / getAllChildrenNumber ----------------------------------------------------

def test_get_ephemerals(make_raw, base):
    me, other = make_raw(), make_raw()
    assert me.get_ephemerals("/") == []
    me.create(base + "/e1", b"", flags=Flags.EPHEMERAL)
    me.create(base + "/sub")
    me.create(base + "/sub/e2", b"", flags=Flags.EPHEMERAL)
    seq = me.create(base + "/es-", b"", flags=Flags.EPHEMERAL_SEQUENTIAL)
    other.create(base + "/theirs", b"", flags=Flags.EPHEMERAL)
    assert sorted(me.get_ephemerals("/")) == sorted([base + "/e1", base + "/sub/e2", seq])
    assert sorted(me.get_ephemerals(base + "/sub")) == [base + "/sub/e2"]
    # the prefix is a plain string prefix, not a path component match
    assert sorted(me.get_ephemerals(base + "/e")) == sorted([base + "/e1", seq])
    assert me.get_ephemerals(base + "/nothing") == []
    assert other.get_ephemerals("/") == [base + "/theirs"]


def test_get_all_children_number(raw, base):
    assert raw.get_all_children_number(base) == 0
    raw.create(base + "/a")
    raw.create(base + "/a/b")
    raw.create(base + "/a/b/c")
    raw.create(base + "/d")
    raw.create(base + "/dx")  # not under base + "/d"
    assert raw.get_all_children_number(base) == 5, "counts all descendants, not the node"
    assert raw.get_all_children_number(base + "/a") == 2
    assert raw.get_all_children_number(base + "/d") == 0
    assert raw.get_all_children_number("/zookeeper") == 2
    assert code_of(lambda: raw.get_all_children_number(base + "/missing")) == Err.NO_NODE


# -- protocol edges ---------------------------------------------------------------------

def test_sync_answers_with_the_path_even_if_missing(raw, base):
    assert raw.sync(base + "/does-not-exist") == base + "/does-not-exist"


def test_reconfig_disabled(raw):
    body = w_string("") + w_string("") + w_string("") + w_long(-1)
    assert raw.call(Op.RECONFIG, body).err == Err.RECONFIG_DISABLED
    raw.ping()


@pytest.mark.parametrize("opcode", [10, 23, 99, 108, 200])
def test_unknown_opcode_is_unimplemented_and_closes(make_raw, opcode):
    client = make_raw()
    reply = client.call(opcode, b"")
    assert reply.err == Err.UNIMPLEMENTED
    assert reply.zxid == -1
    assert client.is_closed_by_server(10.0), "connection must close after an unknown opcode"


def test_frame_longer_than_jute_maxbuffer_closes_connection(make_raw):
    client = make_raw()
    client.send_bytes(w_int(2 * 1024 * 1024) + b"\0" * 64)
    assert client.is_closed_by_server(10.0)


def test_one_megabyte_of_data_closes_connection(make_raw, base):
    """A create carrying 1 MiB of data exceeds jute.maxbuffer (0xfffff) as a
    frame: the server drops the connection without a reply."""
    client = make_raw()
    try:
        client.send_request(Op.CREATE, create_body(base + "/huge", b"x" * (1024 * 1024)))
    except (ConnectionResetError, BrokenPipeError):
        # The server may close as soon as it has read the length prefix, while
        # this client is still sending the body; the kernel then answers the
        # unread bytes with a reset. That is the closed connection we expect.
        closed = True
    else:
        closed = client.is_closed_by_server(10.0)
    assert closed, "a frame over jute.maxbuffer must close the connection"
    assert make_raw().exists(base + "/huge") is None


def test_negative_frame_length_closes_connection(make_raw):
    client = make_raw()
    client.send_bytes(w_int(-5))
    assert client.is_closed_by_server(10.0)
