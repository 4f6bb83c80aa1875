"""Path validation and the reserved /zookeeper subtree.

kazoo normalises paths client-side ("//" -> "/", rejects "." and ".."), so
invalid paths go through the raw client, exactly as a non-validating client
would send them.

Apache 3.8 validates a path only where PrepRequestProcessor does (writes),
and for create it looks up the parent *before* validating the full path, so
an invalid path whose parent does not exist gets NoNode, not BadArguments.
Reads never validate (except exists, which rejects NUL).
"""

import pytest

from rawzk import Err, Flags, ZKError


def code_of(fn):
    try:
        fn()
    except ZKError as error:
        return error.code
    return Err.OK


# Paths whose parent exists (base), so validation is what decides.
INVALID_CHILD_SUFFIXES = [
    "/",          # trailing slash (non-sequential)
    "/.",         # relative component
    "/..",
    "/a\x00b",    # NUL
    "/a\x01",     # control characters \u0001-\u001f
    "/a\x7f",     # \u007f-\u009f
    "/a\u0085",
    "/a\ue000",   # \ud800-\uf8ff
    "/a\ufff5",   # \ufff0-\uffff
]


@pytest.mark.parametrize("suffix", INVALID_CHILD_SUFFIXES, ids=repr)
def test_create_invalid_path_is_bad_arguments(raw, base, suffix):
    assert code_of(lambda: raw.create(base + suffix)) == Err.BAD_ARGUMENTS
    assert raw.get_children(base) == []


@pytest.mark.parametrize("path", ["", "a", "//"], ids=repr)
def test_create_malformed_path_is_bad_arguments(raw, path):
    """No slash at all, or a parent ("/" for "//") that exists: BadArguments."""
    assert code_of(lambda: raw.create(path)) == Err.BAD_ARGUMENTS


def test_create_under_missing_relative_parent_is_no_node(raw, base):
    """'/x/./b' has parent '/x/.' which cannot exist: the parent lookup fails first."""
    assert code_of(lambda: raw.create(base + "/./b")) == Err.NO_NODE
    assert code_of(lambda: raw.create(base + "/../b")) == Err.NO_NODE
    assert code_of(lambda: raw.create(base + "//b")) == Err.NO_NODE
    assert code_of(lambda: raw.create("a/b")) == Err.NO_NODE


@pytest.mark.parametrize("path", ["", "a", "/a/", "//", "/a/./b", "/a\x00b", "/a\x01"], ids=repr)
def test_set_data_invalid_path_is_bad_arguments(raw, path):
    assert code_of(lambda: raw.set(path, b"x")) == Err.BAD_ARGUMENTS


@pytest.mark.parametrize("path", ["", "a", "/a\x00b"], ids=repr)
def test_delete_invalid_path_is_bad_arguments(raw, path):
    assert code_of(lambda: raw.delete(path)) == Err.BAD_ARGUMENTS


def test_exists_with_nul_is_bad_arguments(raw, base):
    assert code_of(lambda: raw.exists(base + "/a\x00b")) == Err.BAD_ARGUMENTS


@pytest.mark.parametrize("path", ["a", "/a/", "//", "/a/./b", "/a\x01"], ids=repr)
def test_reads_of_invalid_paths_are_no_node(raw, path):
    assert raw.exists(path) is None
    assert code_of(lambda: raw.get(path)) == Err.NO_NODE
    assert code_of(lambda: raw.get_children(path)) == Err.NO_NODE


def test_kazoo_create_with_nul_is_rejected_by_server(zk, base):
    from kazoo.exceptions import BadArgumentsError

    with pytest.raises(BadArgumentsError):
        zk.create(base + "/a\x00b")


def test_sequential_may_end_in_relative_looking_name(raw, base):
    """'.' and '..' are invalid names, but with a sequence suffix they are fine."""
    assert raw.create(base + "/.", b"", flags=Flags.PERSISTENT_SEQUENTIAL) == base + "/.0000000000"


# -- /zookeeper ---------------------------------------------------------------------

def test_zookeeper_subtree_exists(zk):
    assert "zookeeper" in zk.get_children("/")
    assert set(zk.get_children("/zookeeper")) >= {"quota", "config"}
    assert zk.exists("/zookeeper/quota") is not None
    assert zk.exists("/zookeeper/config") is not None


def test_zookeeper_config_is_read_only(raw):
    acls, stat = raw.get_acl("/zookeeper/config")
    assert [(a.perms, a.scheme, a.id) for a in acls] == [(1, "world", "anyone")]
    assert code_of(lambda: raw.set("/zookeeper/config", b"x")) == Err.NO_AUTH


@pytest.mark.parametrize("path", ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"])
def test_system_nodes_cannot_be_deleted(raw, path):
    assert code_of(lambda: raw.delete(path)) == Err.BAD_ARGUMENTS
    assert raw.exists(path) is not None


def test_create_zookeeper_is_node_exists(raw):
    assert code_of(lambda: raw.create("/zookeeper")) == Err.NODE_EXISTS


def test_children_under_zookeeper_are_ordinary_nodes(raw):
    """Only the system nodes themselves are protected; new children of
    /zookeeper (and quota nodes under /zookeeper/quota) can be written."""
    path = "/zookeeper/compat-suite-probe"
    raw.create(path, b"v")
    try:
        assert raw.get(path)[0] == b"v"
        raw.set(path, b"w")
    finally:
        raw.delete(path)
    assert raw.exists(path) is None


def test_empty_path_reads_alias_root(raw):
    """Apache quirk: DataTree keeps "" as an alias of "/", and reads do not
    validate paths, so getData/exists/getChildren("") answer for the root."""
    assert raw.exists("") == raw.exists("/")
    assert sorted(raw.get_children("")) == sorted(raw.get_children("/"))
