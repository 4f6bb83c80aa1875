"""multi (transactions) and multiRead."""

import pytest
from kazoo.exceptions import BadVersionError, RolledBackError, RuntimeInconsistency
from kazoo.protocol.states import ZnodeStat

from rawzk import (
    OPEN_ACL_UNSAFE, ACL, Err, Flags, Op, check_body, create_body, create_ttl_body,
    delete_body, path_watch_body, set_data_body,
)


def test_kazoo_transaction_success(zk, base):
    zk.create(base + "/t", b"0")
    tx = zk.transaction()
    tx.check(base + "/t", 0)
    tx.create(base + "/t/a", b"x")
    tx.set_data(base + "/t", b"1")
    tx.create(base + "/t/s-", sequence=True)
    tx.delete(base + "/t/a")
    results = tx.commit()
    assert results[0] is True
    assert results[1] == base + "/t/a"
    assert isinstance(results[2], ZnodeStat) and results[2].version == 1
    assert results[3] == base + "/t/s-0000000001"
    assert results[4] is True
    assert zk.get_children(base + "/t") == ["s-0000000001"]
    assert zk.get(base + "/t")[0] == b"1"


def test_kazoo_transaction_failure_results(zk, base):
    """Ops before the failing one report Ok (kazoo: RolledBackError), the
    failing op its own error, the ops after it RuntimeInconsistency; the
    reply header itself carries no error."""
    zk.create(base + "/t", b"0")
    tx = zk.transaction()
    tx.create(base + "/t/a")
    tx.set_data(base + "/t", b"1", version=7)
    tx.delete(base + "/t")
    tx.check(base + "/t", 0)
    results = tx.commit()
    assert [type(r) for r in results] == [
        RolledBackError, BadVersionError, RuntimeInconsistency, RuntimeInconsistency,
    ]
    assert zk.exists(base + "/t/a") is None, "rolled-back create is visible"
    data, stat = zk.get(base + "/t")
    assert (data, stat.version) == (b"0", 0)


def test_multi_failure_wire_format(raw, base):
    raw.create(base + "/m")
    raw.create(base + "/m/a", b"1")
    before = raw.exists(base + "/m")
    err, results = raw.multi([
        (Op.CREATE, create_body(base + "/m/b")),
        (Op.SET_DATA, set_data_body(base + "/m/a", b"2", 5)),
        (Op.DELETE, delete_body(base + "/m/a")),
        (Op.CHECK, check_body(base + "/m/a", 0)),
    ])
    assert err == Err.OK, "multi reply header err is 0 even when an op failed"
    assert [(r.type, r.err) for r in results] == [
        (Op.ERROR, Err.OK),
        (Op.ERROR, Err.BAD_VERSION),
        (Op.ERROR, Err.RUNTIME_INCONSISTENCY),
        (Op.ERROR, Err.RUNTIME_INCONSISTENCY),
    ]
    assert raw.exists(base + "/m") == before


@pytest.mark.parametrize("failing, code", [
    ("check_missing", Err.NO_NODE),
    ("create_existing", Err.NODE_EXISTS),
    ("delete_nonempty", Err.NOT_EMPTY),
    ("create_no_parent", Err.NO_NODE),
    ("child_of_ephemeral", Err.NO_CHILDREN_FOR_EPHEMERALS),
    ("invalid_acl", Err.INVALID_ACL),
    ("bad_path", Err.BAD_ARGUMENTS),
])
def test_multi_failure_codes(raw, base, failing, code):
    raw.create(base + "/p")
    raw.create(base + "/p/c")
    raw.create(base + "/eph", b"", flags=Flags.EPHEMERAL)
    op = {
        "check_missing": (Op.CHECK, check_body(base + "/nope", 0)),
        "create_existing": (Op.CREATE, create_body(base + "/p")),
        "delete_nonempty": (Op.DELETE, delete_body(base + "/p")),
        "create_no_parent": (Op.CREATE, create_body(base + "/x/y")),
        "child_of_ephemeral": (Op.CREATE, create_body(base + "/eph/c")),
        "invalid_acl": (Op.CREATE, create_body(base + "/acl", b"", [])),
        "bad_path": (Op.CREATE, create_body(base + "/p/")),
    }[failing]
    err, results = raw.multi([(Op.CREATE, create_body(base + "/first")), op,
                              (Op.CREATE, create_body(base + "/last"))])
    assert err == Err.OK
    assert [(r.type, r.err) for r in results] == [
        (Op.ERROR, Err.OK), (Op.ERROR, code), (Op.ERROR, Err.RUNTIME_INCONSISTENCY),
    ]
    assert raw.exists(base + "/first") is None


def test_multi_check_version(raw, base):
    raw.create(base + "/c", b"")
    raw.set(base + "/c", b"1")
    assert raw.multi([(Op.CHECK, check_body(base + "/c", 1))]) == (0, [(Op.CHECK, 0, None)])
    assert raw.multi([(Op.CHECK, check_body(base + "/c", -1))]) == (0, [(Op.CHECK, 0, None)])
    err, results = raw.multi([(Op.CHECK, check_body(base + "/c", 0))])
    assert [(r.type, r.err) for r in results] == [(Op.ERROR, Err.BAD_VERSION)]


def test_multi_ops_see_earlier_ops(raw, base):
    err, results = raw.multi([
        (Op.CREATE, create_body(base + "/a")),
        (Op.CREATE, create_body(base + "/a/b", b"x")),
        (Op.SET_DATA, set_data_body(base + "/a/b", b"y", 0)),
        (Op.CHECK, check_body(base + "/a/b", 1)),
        (Op.DELETE, delete_body(base + "/a/b", 1)),
        (Op.CREATE, create_body(base + "/a/b", b"z")),
    ])
    assert err == Err.OK
    assert [r.err for r in results] == [0] * 6
    assert [r.type for r in results] == [Op.CREATE, Op.CREATE, Op.SET_DATA, Op.CHECK,
                                         Op.DELETE, Op.CREATE]
    data, stat = raw.get(base + "/a/b")
    assert (data, stat.version) == (b"z", 0)


def test_multi_is_one_zxid(raw, base):
    err, _ = raw.multi([(Op.CREATE, create_body(base + "/x")), (Op.CREATE, create_body(base + "/y"))])
    assert err == Err.OK
    reply = raw.last_reply
    sx, sy = raw.exists(base + "/x"), raw.exists(base + "/y")
    assert sx.czxid == sy.czxid == reply.zxid
    assert raw.exists(base).pzxid == sx.czxid


def test_multi_create_variants(raw, base):
    """Surprise: a create2 op inside multi answers like a plain create (result
    type 1, path only), while createContainer/createTTL answer as create2
    (type 15, path + stat)."""
    err, results = raw.multi([
        (Op.CREATE2, create_body(base + "/c2", b"d")),
        (Op.CREATE_CONTAINER, create_body(base + "/ct", b"", OPEN_ACL_UNSAFE, Flags.CONTAINER)),
        (Op.CREATE_TTL, create_ttl_body(base + "/ttl", b"", OPEN_ACL_UNSAFE,
                                        Flags.PERSISTENT_WITH_TTL, 60000)),
        (Op.CREATE, create_body(base + "/s-", b"", OPEN_ACL_UNSAFE, Flags.PERSISTENT_SEQUENTIAL)),
    ])
    assert err == Err.OK
    assert [r.type for r in results] == [Op.CREATE, Op.CREATE2, Op.CREATE2, Op.CREATE]
    assert results[0].value == base + "/c2"
    assert results[1].value[0] == base + "/ct"
    assert results[1].value[1].czxid == raw.exists(base + "/ct").czxid
    assert results[2].value[0] == base + "/ttl"
    assert results[3].value == base + "/s-0000000003"


def test_empty_multi(raw):
    assert raw.multi([]) == (Err.OK, [])


def test_kazoo_empty_transaction(zk):
    assert zk.transaction().commit() == []


def test_read_op_inside_multi_is_marshalling_error(raw, base):
    err, results = raw.multi([(Op.GET_DATA, path_watch_body(base))])
    assert (err, results) == (Err.MARSHALLING_ERROR, [])
    raw.ping()  # connection stays usable


def test_multi_read(raw, base):
    raw.create(base + "/a", b"A")
    raw.create(base + "/b", b"B")
    err, results = raw.multi([
        (Op.GET_DATA, path_watch_body(base + "/a")),
        (Op.GET_CHILDREN, path_watch_body(base)),
        (Op.GET_DATA, path_watch_body(base + "/missing")),
        (Op.GET_DATA, path_watch_body(base + "/b")),
    ], op=Op.MULTI_READ)
    assert err == Err.OK
    assert results[0].type == Op.GET_DATA and results[0].value[0] == b"A"
    assert results[1].type == Op.GET_CHILDREN and sorted(results[1].value) == ["a", "b"]
    assert (results[2].type, results[2].err) == (Op.ERROR, Err.NO_NODE), \
        "a failed read is reported in place and does not abort the others"
    assert results[3].value[0] == b"B"


def test_write_op_inside_multi_read_is_marshalling_error(raw, base):
    err, results = raw.multi([(Op.CREATE, create_body(base + "/w"))], op=Op.MULTI_READ)
    assert (err, results) == (Err.MARSHALLING_ERROR, [])
    assert raw.exists(base + "/w") is None


def test_multi_read_reports_no_auth_in_place(raw, base):
    raw.create(base + "/secret", b"s", [ACL(2, "world", "anyone")])
    raw.create(base + "/open", b"o")
    err, results = raw.multi([
        (Op.GET_DATA, path_watch_body(base + "/secret")),
        (Op.GET_DATA, path_watch_body(base + "/open")),
    ], op=Op.MULTI_READ)
    assert err == Err.OK
    assert (results[0].type, results[0].err) == (Op.ERROR, Err.NO_AUTH)
    assert results[1].value[0] == b"o"
