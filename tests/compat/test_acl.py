"""ACLs, authentication (digest, ip, super), whoAmI."""

import pytest
from kazoo.exceptions import AuthFailedError, InvalidACLError, NoAuthError
from kazoo.security import ACL as KACL, Id, make_digest_acl

from rawzk import ACL, Err, Perm, ZKError
from servers import SUPER_PASSWORD, SUPER_USER, digest


def code_of(fn):
    try:
        fn()
    except ZKError as error:
        return error.code
    return Err.OK


def acl_tuples(acls):
    return sorted((a.perms, a.scheme, a.id) for a in acls)


def test_default_acl_is_world_anyone_all(zk, base):
    zk.create(base + "/n")
    acls, stat = zk.get_acls(base + "/n")
    assert [(a.perms, a.id.scheme, a.id.id) for a in acls] == [(31, "world", "anyone")]
    assert stat.aversion == 0


def test_set_and_get_acl(make_zk, base):
    zk = make_zk()
    zk.create(base + "/n")
    new = [KACL(Perm.READ | Perm.WRITE, Id("world", "anyone")),
           KACL(Perm.ALL, Id("digest", digest("admin", "pw")))]
    stat = zk.set_acls(base + "/n", new)
    assert stat.aversion == 1
    acls, _ = zk.get_acls(base + "/n")
    # READ via world:anyone lets this client see the ACL, but without ADMIN
    # the digest hashes are masked as "user:x".
    assert sorted((a.perms, a.id.scheme, a.id.id) for a in acls) == sorted([
        (3, "world", "anyone"), (31, "digest", "admin:x")])
    admin = make_zk(auth_data=[("digest", "admin:pw")])
    acls, _ = admin.get_acls(base + "/n")
    assert sorted((a.perms, a.id.scheme, a.id.id) for a in acls) == sorted(
        (a.perms, a.id.scheme, a.id.id) for a in new), "with ADMIN the digest is shown"


def test_identical_acl_entries_are_deduplicated(raw, base):
    raw.create(base + "/dup", b"", [ACL(31, "world", "anyone"), ACL(31, "world", "anyone")])
    assert acl_tuples(raw.get_acl(base + "/dup")[0]) == [(31, "world", "anyone")]
    raw.create(base + "/two", b"", [ACL(1, "world", "anyone"), ACL(2, "world", "anyone")])
    assert acl_tuples(raw.get_acl(base + "/two")[0]) == [(1, "world", "anyone"), (2, "world", "anyone")]


# -- permission checks, one node per permission --------------------------------------

OPS = {
    "getData": lambda c, p: c.get(p),
    "getChildren": lambda c, p: c.get_children(p),
    "getChildren2": lambda c, p: c.get_children2(p),
    "getACL": lambda c, p: c.get_acl(p),
    "getAllChildrenNumber": lambda c, p: c.get_all_children_number(p),
    "exists": lambda c, p: c.exists(p),
    "setData": lambda c, p: c.set(p, b"w"),
    "create child": lambda c, p: c.create(p + "/child"),
    "delete child": lambda c, p: c.delete(p + "/victim"),
    "setACL": lambda c, p: c.set_acl(p, [ACL(Perm.ALL, "world", "anyone")]),
}

ALLOWED = {
    # perm granted to world:anyone -> ops that succeed
    Perm.READ: {"getData", "getChildren", "getChildren2", "getACL", "getAllChildrenNumber", "exists"},
    Perm.WRITE: {"setData", "exists"},
    Perm.CREATE: {"create child", "exists"},
    Perm.DELETE: {"delete child", "exists"},
    Perm.ADMIN: {"getACL", "setACL", "exists"},
    0: {"exists"},
}


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("perm", sorted(ALLOWED), ids=lambda p: f"perm{p}")
def test_permission_matrix(raw, super_raw, base, perm, op):
    path = base + "/guarded"
    super_raw.create(path, b"d")
    super_raw.create(path + "/victim")
    super_raw.set_acl(path, [ACL(perm, "world", "anyone")])
    expected = Err.OK if op in ALLOWED[perm] else Err.NO_AUTH
    assert code_of(lambda: OPS[op](raw, path)) == expected


def test_delete_needs_delete_on_parent_not_node(raw, base):
    raw.create(base + "/p", b"", [ACL(Perm.ALL & ~Perm.DELETE, "world", "anyone")])
    raw.create(base + "/p/c", b"", [ACL(0, "world", "anyone")])
    assert code_of(lambda: raw.delete(base + "/p/c")) == Err.NO_AUTH
    raw.create(base + "/q", b"")
    raw.create(base + "/q/c", b"", [ACL(0, "world", "anyone")])
    raw.delete(base + "/q/c")  # no permission needed on the node itself


# -- invalid ACLs -------------------------------------------------------------------

INVALID_ACLS = {
    "empty": [],
    "null": None,
    "world-not-anyone": [ACL(31, "world", "nobody")],
    "digest-without-colon": [ACL(31, "digest", "nocolon")],
    "ip-garbage": [ACL(31, "ip", "notanip")],
    "ip-bad-prefix": [ACL(31, "ip", "10.0.0.0/33")],
    "unknown-scheme": [ACL(31, "foo", "bar")],
    "super-scheme": [ACL(31, "super", "")],
    "auth-without-authentication": [ACL(31, "auth", "")],
}


@pytest.mark.parametrize("name", sorted(INVALID_ACLS))
def test_invalid_acl(raw, base, name):
    acl = INVALID_ACLS[name]
    assert code_of(lambda: raw.create(base + "/bad", b"", acl)) == Err.INVALID_ACL
    raw.create(base + "/good")
    assert code_of(lambda: raw.set_acl(base + "/good", acl)) == Err.INVALID_ACL
    assert acl_tuples(raw.get_acl(base + "/good")[0]) == [(31, "world", "anyone")]


def test_kazoo_invalid_acl_error(zk, base):
    with pytest.raises(InvalidACLError):
        zk.create(base + "/bad", acl=[KACL(31, Id("world", "somebody"))])


def test_valid_unusual_acls_accepted(raw, base):
    raw.create(base + "/cidr", b"", [ACL(31, "ip", "10.0.0.0/8")])
    raw.create(base + "/dig", b"", [ACL(31, "digest", "user:notreallyahash")])


# -- digest authentication ---------------------------------------------------------------

def test_digest_acl_and_add_auth(make_zk, base):
    owner = make_zk()
    owner.add_auth("digest", "alice:secret")
    owner.create(base + "/d", b"private", acl=[make_digest_acl("alice", "secret", all=True)])
    assert owner.get(base + "/d")[0] == b"private"

    stranger = make_zk()
    with pytest.raises(NoAuthError):
        stranger.get(base + "/d")
    with pytest.raises(NoAuthError):
        stranger.get_acls(base + "/d")
    assert stranger.exists(base + "/d") is not None, "exists is not ACL-checked"

    wrong = make_zk()
    wrong.add_auth("digest", "alice:wrong")  # accepted, but a different identity
    with pytest.raises(NoAuthError):
        wrong.get(base + "/d")

    friend = make_zk(auth_data=[("digest", "alice:secret")])
    assert friend.get(base + "/d")[0] == b"private"


def test_auth_scheme_expands_to_authenticated_ids(make_raw, base):
    client = make_raw()
    assert client.auth("digest", b"alice:pw") == Err.OK
    client.create(base + "/mine", b"", [ACL(Perm.ALL, "auth", "")])
    assert acl_tuples(client.get_acl(base + "/mine")[0]) == [(31, "digest", digest("alice", "pw"))]
    assert client.auth("digest", b"bob:pw2") == Err.OK
    client.create(base + "/ours", b"", [ACL(Perm.READ | Perm.ADMIN, "auth", "")])
    assert acl_tuples(client.get_acl(base + "/ours")[0]) == sorted([
        (17, "digest", digest("alice", "pw")), (17, "digest", digest("bob", "pw2")),
    ]), "the auth scheme expands to every authenticated id except ip"


def test_get_acl_masks_digests_without_admin(make_raw, base):
    """getACL needs READ or ADMIN; a caller without ADMIN sees digest ids as
    "user:x" (hash masked).  Other schemes are shown as they are."""
    owner = make_raw()
    owner.auth("digest", b"alice:pw")
    owner.create(base + "/n", b"", [ACL(Perm.READ, "digest", digest("alice", "pw")),
                                     ACL(Perm.READ, "ip", "127.0.0.1")])
    assert acl_tuples(owner.get_acl(base + "/n")[0]) == [
        (1, "digest", "alice:x"), (1, "ip", "127.0.0.1")]
    stranger = make_raw()
    assert acl_tuples(stranger.get_acl(base + "/n")[0]) == [
        (1, "digest", "alice:x"), (1, "ip", "127.0.0.1")]


def test_kazoo_creator_all_acl(make_zk, base):
    from kazoo.security import CREATOR_ALL_ACL

    client = make_zk(auth_data=[("digest", "carol:pw")])
    client.create(base + "/c", b"x", acl=CREATOR_ALL_ACL)
    acls, _ = client.get_acls(base + "/c")
    assert [(a.perms, a.id.scheme, a.id.id) for a in acls] == [(31, "digest", digest("carol", "pw"))]
    other = make_zk()
    with pytest.raises(InvalidACLError):
        other.create(base + "/d", b"x", acl=CREATOR_ALL_ACL)


def test_unknown_auth_scheme_fails_and_closes(make_raw):
    client = make_raw()
    assert client.auth("nosuchscheme", b"x") == Err.AUTH_FAILED
    assert client.is_closed_by_server(10.0), "connection must close after AuthFailed"


def test_world_auth_scheme_fails(make_raw):
    client = make_raw()
    assert client.auth("world", b"anyone") == Err.AUTH_FAILED


def test_kazoo_add_auth_unknown_scheme(make_zk):
    client = make_zk()
    with pytest.raises(AuthFailedError):
        client.add_auth("nosuchscheme", "x")


# -- ip ACLs --------------------------------------------------------------------------

def test_ip_acl(raw, base):
    raw.create(base + "/local", b"l", [ACL(Perm.ALL, "ip", "127.0.0.1")])
    raw.create(base + "/net", b"n", [ACL(Perm.ALL, "ip", "127.0.0.0/8")])
    raw.create(base + "/far", b"f", [ACL(Perm.ALL, "ip", "10.1.2.3")])
    raw.create(base + "/farnet", b"f", [ACL(Perm.ALL, "ip", "10.1.2.0/24")])
    assert raw.get(base + "/local")[0] == b"l"
    assert raw.get(base + "/net")[0] == b"n"
    assert code_of(lambda: raw.get(base + "/far")) == Err.NO_AUTH
    assert code_of(lambda: raw.get(base + "/farnet")) == Err.NO_AUTH


# -- super -----------------------------------------------------------------------------

def test_super_digest_bypasses_acls(make_raw, base):
    owner = make_raw()
    owner.auth("digest", b"alice:pw")
    owner.create(base + "/locked", b"s", [ACL(Perm.ALL, "digest", digest("alice", "pw"))])
    owner.create(base + "/nothing", b"z", [ACL(0, "world", "anyone")])

    admin = make_raw()
    assert admin.auth("digest", f"{SUPER_USER}:{SUPER_PASSWORD}".encode()) == Err.OK
    assert admin.get(base + "/locked")[0] == b"s"
    assert admin.get(base + "/nothing")[0] == b"z"
    admin.set(base + "/nothing", b"zz")
    admin.set_acl(base + "/locked", [ACL(Perm.READ, "digest", digest("alice", "pw"))])
    assert owner.get(base + "/locked")[0] == b"s"
    assert code_of(lambda: owner.set(base + "/locked", b"x")) == Err.NO_AUTH

    not_super = make_raw()
    assert not_super.auth("digest", f"{SUPER_USER}:wrong".encode()) == Err.OK
    assert code_of(lambda: not_super.get(base + "/locked")) == Err.NO_AUTH


# -- whoAmI -------------------------------------------------------------------------------

def test_who_am_i(make_raw):
    plain = make_raw()
    assert plain.who_am_i() == [("ip", "127.0.0.1")]
    plain.auth("digest", b"alice:pw")
    assert sorted(plain.who_am_i()) == [("digest", "alice"), ("ip", "127.0.0.1")]

    admin = make_raw()
    admin.auth("digest", f"{SUPER_USER}:{SUPER_PASSWORD}".encode())
    assert sorted(admin.who_am_i()) == [("digest", SUPER_USER), ("ip", "127.0.0.1"), ("super", "")]
