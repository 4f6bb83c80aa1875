"""Create (every mode), get/set/delete/exists, children, versions, stat fields, errors."""

import time

import pytest
from kazoo.exceptions import (
    BadVersionError, NoChildrenForEphemeralsError, NodeExistsError, NoNodeError,
    NotEmptyError,
)

from rawzk import Err, Flags, Op, ZKError, create_body, delete_body, set_data_body, w_string


def now_ms():
    return int(time.time() * 1000)


def assert_fresh_stat(stat, data_len, owner=0):
    assert stat.czxid > 0
    assert stat.mzxid == stat.czxid
    assert stat.pzxid == stat.czxid
    assert stat.ctime == stat.mtime
    assert abs(stat.ctime - now_ms()) < 60_000, "ctime is not wall-clock milliseconds"
    assert stat.version == 0
    assert stat.cversion == 0
    assert stat.aversion == 0
    assert stat.ephemeralOwner == owner
    assert stat.dataLength == data_len
    assert stat.numChildren == 0


# -- create -------------------------------------------------------------------

def test_create_persistent(zk, base):
    assert zk.create(base + "/p", b"hello") == base + "/p"
    data, stat = zk.get(base + "/p")
    assert data == b"hello"
    assert_fresh_stat(stat, 5)


def test_create2_returns_stat_of_new_node(zk, raw, base):
    path, stat = zk.create(base + "/c2", b"abc", include_data=True)
    assert path == base + "/c2"
    assert_fresh_stat(stat, 3)
    assert zk.exists(base + "/c2") == stat
    rpath, rstat = raw.create2(base + "/c2raw", b"")
    assert rpath == base + "/c2raw"
    assert_fresh_stat(rstat, 0)
    assert rstat.czxid > stat.czxid


def test_create_reply_zxid_is_the_txn_zxid(raw, base):
    reply = raw.call(Op.CREATE2, create_body(base + "/z"))
    assert reply.err == Err.OK
    _, stat = raw.get(base + "/z")
    assert reply.zxid == stat.czxid


def test_null_data_stays_null_and_empty_stays_empty(raw, base):
    raw.create(base + "/null", None)
    raw.create(base + "/empty", b"")
    null_data, null_stat = raw.get(base + "/null")
    empty_data, empty_stat = raw.get(base + "/empty")
    assert null_data is None, "null data must come back as a -1 length buffer"
    assert empty_data == b""
    assert null_stat.dataLength == 0 and empty_stat.dataLength == 0


def test_create_ephemeral(zk, base):
    path, stat = zk.create(base + "/e", b"x", ephemeral=True, include_data=True)
    assert path == base + "/e"
    assert_fresh_stat(stat, 1, owner=zk.client_id[0])


def test_ephemeral_cannot_have_children(zk, raw, base):
    zk.create(base + "/e", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(base + "/e/child")
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create(base + "/e/child", sequence=True)
    with pytest.raises(ZKError) as err:
        raw.create(base + "/e/c", b"", flags=Flags.EPHEMERAL)
    assert err.value.code == Err.NO_CHILDREN_FOR_EPHEMERALS


def test_sequential_has_ten_digit_suffix(zk, base):
    first = zk.create(base + "/s-", sequence=True)
    second = zk.create(base + "/s-", sequence=True)
    assert first == base + "/s-0000000000"
    assert second == base + "/s-0000000001"
    other = zk.create(base + "/t-", sequence=True)
    assert other == base + "/t-0000000002", "the counter is per parent, not per prefix"


def test_sequential_suffix_counts_child_creations_not_deletions(raw, base):
    """The suffix is the parent's count of child creations (stored cversion).
    The client-visible cversion is 2*creations - numChildren, i.e. it also
    counts deletions, so the two differ once a child was deleted."""
    raw.create(base + "/a")
    raw.delete(base + "/a")
    assert raw.exists(base).cversion == 2
    assert raw.create(base + "/s", b"", flags=Flags.PERSISTENT_SEQUENTIAL) == base + "/s0000000001"
    stat = raw.exists(base)
    assert (stat.cversion, stat.numChildren) == (3, 1)
    raw.create(base + "/b")
    raw.create(base + "/c")
    raw.delete(base + "/b")
    raw.delete(base + "/c")
    assert raw.exists(base).cversion == 7
    assert raw.create(base + "/s", b"", flags=Flags.PERSISTENT_SEQUENTIAL) == base + "/s0000000004"


def test_sequential_with_trailing_slash_names_child_by_number(raw, base):
    assert raw.create(base + "/", b"", flags=Flags.PERSISTENT_SEQUENTIAL) == base + "/0000000000"
    with pytest.raises(ZKError) as err:
        raw.create(base + "/", b"", flags=Flags.PERSISTENT)
    assert err.value.code == Err.BAD_ARGUMENTS


def test_sequential_name_collision_is_node_exists(raw, base):
    raw.create(base + "/x0000000001")  # creation #0 of base's children
    with pytest.raises(ZKError) as err:
        raw.create(base + "/x", b"", flags=Flags.PERSISTENT_SEQUENTIAL)  # counter 1
    assert err.value.code == Err.NODE_EXISTS
    # the failed create did not consume the counter
    assert raw.create(base + "/y", b"", flags=Flags.PERSISTENT_SEQUENTIAL) == base + "/y0000000001"


def test_ephemeral_sequential(zk, base):
    path, stat = zk.create(base + "/es-", b"", ephemeral=True, sequence=True, include_data=True)
    assert path == base + "/es-0000000000"
    assert stat.ephemeralOwner == zk.client_id[0]


def test_create_existing_is_node_exists(zk, base):
    zk.create(base + "/dup")
    with pytest.raises(NodeExistsError):
        zk.create(base + "/dup")


def test_create_without_parent_is_no_node(zk, base):
    with pytest.raises(NoNodeError):
        zk.create(base + "/missing/child")


def test_create_root_is_node_exists(raw):
    with pytest.raises(ZKError) as err:
        raw.create("/")
    assert err.value.code == Err.NODE_EXISTS


def test_makepath_creates_parents(zk, base):
    zk.create(base + "/a/b/c", b"deep", makepath=True)
    assert zk.get(base + "/a/b/c")[0] == b"deep"
    assert zk.get_children(base + "/a") == ["b"]


# -- get / set / exists / delete ----------------------------------------------------

def test_exists_missing_is_none(zk, base):
    assert zk.exists(base + "/nope") is None


def test_get_missing_is_no_node(zk, base):
    with pytest.raises(NoNodeError):
        zk.get(base + "/nope")
    with pytest.raises(NoNodeError):
        zk.set(base + "/nope", b"x")
    with pytest.raises(NoNodeError):
        zk.delete(base + "/nope")
    with pytest.raises(NoNodeError):
        zk.get_children(base + "/nope")


def test_set_with_versions(zk, raw, base):
    _, created = zk.create(base + "/v", b"0", include_data=True)
    stat = zk.set(base + "/v", b"11", version=0)
    assert stat.version == 1
    assert stat.dataLength == 2
    assert stat.czxid == created.czxid
    assert stat.mzxid > created.mzxid
    assert stat.ctime == created.ctime
    assert stat.mtime >= created.mtime
    assert stat.pzxid == created.pzxid, "setData must not touch pzxid"
    with pytest.raises(BadVersionError):
        zk.set(base + "/v", b"x", version=0)
    with pytest.raises(BadVersionError):
        zk.set(base + "/v", b"x", version=5)
    stat = zk.set(base + "/v", b"any", version=-1)
    assert stat.version == 2
    reply = raw.call(Op.SET_DATA, set_data_body(base + "/v", b"r", 2))
    assert reply.err == Err.OK
    assert raw.get(base + "/v")[1].mzxid == reply.zxid


def test_set_same_data_still_bumps_version(zk, base):
    zk.create(base + "/same", b"d")
    assert zk.set(base + "/same", b"d").version == 1


def test_delete_with_versions(zk, base):
    zk.create(base + "/d", b"")
    zk.set(base + "/d", b"1")
    with pytest.raises(BadVersionError):
        zk.delete(base + "/d", version=0)
    zk.delete(base + "/d", version=1)
    assert zk.exists(base + "/d") is None
    zk.create(base + "/d2")
    zk.delete(base + "/d2", version=-1)
    assert zk.exists(base + "/d2") is None


def test_delete_non_empty_is_not_empty(zk, base):
    zk.create(base + "/parent/child", makepath=True)
    with pytest.raises(NotEmptyError):
        zk.delete(base + "/parent")
    zk.delete(base + "/parent", recursive=True)
    assert zk.exists(base + "/parent") is None


def test_delete_version_checked_before_not_empty(raw, base):
    raw.create(base + "/p")
    raw.create(base + "/p/c")
    with pytest.raises(ZKError) as err:
        raw.delete(base + "/p", 7)
    assert err.value.code == Err.BAD_VERSION


def test_large_data_below_jute_maxbuffer(zk, base):
    blob = bytes(range(256)) * 4000  # 1,024,000 bytes < 1,048,575
    zk.create(base + "/big", blob)
    data, stat = zk.get(base + "/big")
    assert data == blob
    assert stat.dataLength == len(blob)


# -- children --------------------------------------------------------------------------

def test_get_children_with_stat(zk, base):
    for name in ("b", "a", "c"):
        zk.create(f"{base}/{name}")
    children, stat = zk.get_children(base, include_data=True)
    assert sorted(children) == ["a", "b", "c"]
    assert stat.numChildren == 3
    assert stat.cversion == 3
    assert stat == zk.exists(base)


def test_get_children2_raw(raw, base):
    raw.create(base + "/k")
    children, stat = raw.get_children2(base)
    assert children == ["k"]
    assert stat.numChildren == 1


def test_children_of_leaf_is_empty(zk, base):
    zk.create(base + "/leaf")
    assert zk.get_children(base + "/leaf") == []


# -- stat bookkeeping ---------------------------------------------------------------------

def test_parent_stat_tracks_children(raw, base):
    before = raw.exists(base)
    create_reply = raw.call(Op.CREATE, create_body(base + "/c1"))
    assert create_reply.err == Err.OK
    after_create = raw.exists(base)
    assert after_create.numChildren == before.numChildren + 1
    assert after_create.cversion == before.cversion + 1
    assert after_create.pzxid == create_reply.zxid
    assert after_create.mzxid == before.mzxid, "child create must not change parent mzxid"
    assert after_create.version == before.version
    child = raw.exists(base + "/c1")
    assert child.czxid == create_reply.zxid

    delete_reply = raw.call(Op.DELETE, delete_body(base + "/c1"))
    assert delete_reply.err == Err.OK
    assert delete_reply.zxid > create_reply.zxid
    after_delete = raw.exists(base)
    assert after_delete.numChildren == before.numChildren
    assert after_delete.cversion == before.cversion + 2
    assert after_delete.pzxid == delete_reply.zxid
    assert after_delete.mzxid == before.mzxid


def test_zxids_increase_monotonically(raw, base):
    zxids = []
    for i in range(5):
        reply = raw.call(Op.CREATE, create_body(f"{base}/n{i}"))
        assert reply.err == Err.OK
        zxids.append(reply.zxid)
    assert zxids == sorted(zxids) and len(set(zxids)) == 5
    assert all(b == a + 1 for a, b in zip(zxids, zxids[1:])), "standalone zxids are consecutive"


def test_read_reply_header_carries_last_zxid(raw, base):
    write = raw.call(Op.CREATE, create_body(base + "/r"))
    read = raw.call(Op.EXISTS, w_string(base + "/r") + b"\x00")
    assert read.err == Err.OK
    assert read.zxid >= write.zxid


def test_set_acl_bumps_aversion_only(zk, base):
    from kazoo.security import OPEN_ACL_UNSAFE as KAZOO_OPEN

    _, created = zk.create(base + "/acl", b"x", include_data=True)
    stat = zk.set_acls(base + "/acl", KAZOO_OPEN)
    assert stat.aversion == 1
    assert stat.version == 0
    assert stat.mzxid == created.mzxid, "setACL does not change mzxid"
    assert stat.pzxid == created.pzxid
    with pytest.raises(BadVersionError):
        zk.set_acls(base + "/acl", KAZOO_OPEN, version=0)
    assert zk.set_acls(base + "/acl", KAZOO_OPEN, version=1).aversion == 2


def test_sync_returns_path(zk, raw, base):
    zk.sync(base)  # kazoo returns the path too
    assert zk.sync(base) == base
    assert raw.sync(base) == base
