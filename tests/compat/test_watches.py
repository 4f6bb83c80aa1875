"""One-shot watch trigger rules, persistent/recursive watches, removeWatches,
checkWatches and SetWatches re-registration.

The raw client sees exactly which notifications arrive: `drain_events()`
round-trips a ping on the watching connection, and because the server sends
every notification caused by an already-acknowledged write before it answers
a later request, the queue is complete once the ping reply is back.
"""

import threading

import pytest
from kazoo.protocol.states import EventType

from rawzk import (
    OPEN_ACL_UNSAFE, AddWatchMode, Err, Ev, Flags, State, WatcherType, ZKError, wait_until,
)


def ev(*pairs):
    return [(t, p) for t, p in pairs]


def got(client):
    return [(e.type, e.path) for e in client.drain_events()]


@pytest.fixture
def pair(make_raw):
    """(watcher, writer): two raw sessions."""
    return make_raw(), make_raw()


# -- one-shot watches: which op fires which watch ------------------------------------

def test_notification_frame_fields(pair, base):
    w, x = pair
    x.create(base + "/n")
    w.get(base + "/n", watch=True)
    x.set(base + "/n", b"1")
    events = w.drain_events()
    assert len(events) == 1
    event = events[0]
    assert (event.type, event.state, event.path) == (Ev.NODE_DATA_CHANGED, State.SYNC_CONNECTED, base + "/n")
    assert event.zxid == -1, "notifications carry zxid -1 in the reply header"


def test_data_watch_fires_on_set(pair, base):
    w, x = pair
    x.create(base + "/d")
    w.get(base + "/d", watch=True)
    x.set(base + "/d", b"1")
    assert got(w) == ev((Ev.NODE_DATA_CHANGED, base + "/d"))
    x.set(base + "/d", b"2")
    assert got(w) == [], "one-shot watch fired twice"


def test_data_watch_fires_on_delete(pair, base):
    w, x = pair
    x.create(base + "/d")
    w.get(base + "/d", watch=True)
    x.delete(base + "/d")
    assert got(w) == ev((Ev.NODE_DELETED, base + "/d"))


def test_data_watch_ignores_child_changes_and_acl(pair, base):
    w, x = pair
    x.create(base + "/d")
    w.get(base + "/d", watch=True)
    x.create(base + "/d/c")
    x.set_acl(base + "/d", OPEN_ACL_UNSAFE)
    x.set(base + "/d/c", b"1")
    assert got(w) == []
    x.set(base + "/d", b"1")
    assert got(w) == ev((Ev.NODE_DATA_CHANGED, base + "/d")), "the watch was still armed"


def test_exists_watch_on_missing_node_fires_created(pair, base):
    w, x = pair
    assert w.exists(base + "/later", watch=True) is None
    x.create(base + "/later")
    assert got(w) == ev((Ev.NODE_CREATED, base + "/later"))


def test_exists_watch_on_existing_node(pair, base):
    w, x = pair
    x.create(base + "/e")
    w.exists(base + "/e", watch=True)
    x.set(base + "/e", b"1")
    assert got(w) == ev((Ev.NODE_DATA_CHANGED, base + "/e"))
    w.exists(base + "/e", watch=True)
    x.delete(base + "/e")
    assert got(w) == ev((Ev.NODE_DELETED, base + "/e"))


def test_failed_get_sets_no_watch(pair, base):
    """getData/getChildren on a missing node fail with NoNode and leave no watch
    (only exists watches a missing node)."""
    w, x = pair
    with pytest.raises(ZKError):
        w.get(base + "/ghost", watch=True)
    with pytest.raises(ZKError):
        w.get_children(base + "/ghost", watch=True)
    x.create(base + "/ghost")
    x.create(base + "/ghost/c")
    assert got(w) == []


def test_child_watch_rules(pair, base):
    w, x = pair
    x.create(base + "/p")
    w.get_children(base + "/p", watch=True)
    x.set(base + "/p", b"data")  # no child event
    assert got(w) == []
    x.create(base + "/p/c")
    assert got(w) == ev((Ev.NODE_CHILDREN_CHANGED, base + "/p"))
    w.get_children(base + "/p", watch=True)
    x.set(base + "/p/c", b"1")  # a child's data is not a child change
    x.create(base + "/p/c/grandchild")  # nor is a grandchild
    assert got(w) == []
    x.delete(base + "/p/c/grandchild")
    x.delete(base + "/p/c")
    assert got(w) == ev((Ev.NODE_CHILDREN_CHANGED, base + "/p"))
    w.get_children(base + "/p", watch=True)
    x.delete(base + "/p")
    assert got(w) == ev((Ev.NODE_DELETED, base + "/p")), "child watch sees its node deleted"


def test_ephemeral_and_sequential_creates_fire_child_watch(pair, base):
    w, x = pair
    w.get_children(base, watch=True)
    x.create(base + "/s-", b"", flags=Flags.EPHEMERAL_SEQUENTIAL)
    assert got(w) == ev((Ev.NODE_CHILDREN_CHANGED, base))


def test_delete_with_all_watch_kinds_sends_one_event(pair, base):
    w, x = pair
    x.create(base + "/all")
    w.get(base + "/all", watch=True)
    w.exists(base + "/all", watch=True)
    w.get_children(base + "/all", watch=True)
    x.delete(base + "/all")
    assert got(w) == ev((Ev.NODE_DELETED, base + "/all"))


def test_same_watch_registered_twice_fires_once(pair, base):
    w, x = pair
    x.create(base + "/twice")
    w.get(base + "/twice", watch=True)
    w.get(base + "/twice", watch=True)
    w.exists(base + "/twice", watch=True)
    x.set(base + "/twice", b"1")
    assert got(w) == ev((Ev.NODE_DATA_CHANGED, base + "/twice"))


def test_child_delete_order_of_events(pair, base):
    w, x = pair
    x.create(base + "/p")
    x.create(base + "/p/c")
    w.get_children(base + "/p", watch=True)
    w.get(base + "/p/c", watch=True)
    x.delete(base + "/p/c")
    assert got(w) == ev(
        (Ev.NODE_DELETED, base + "/p/c"),
        (Ev.NODE_CHILDREN_CHANGED, base + "/p"),
    )


def test_create_fires_exists_watch_then_parent_child_watch(pair, base):
    w, x = pair
    w.exists(base + "/n", watch=True)
    w.get_children(base, watch=True)
    x.create(base + "/n")
    assert got(w) == ev(
        (Ev.NODE_CREATED, base + "/n"),
        (Ev.NODE_CHILDREN_CHANGED, base),
    )


def test_multi_fires_watches_of_each_op(pair, base):
    from rawzk import Op, create_body, delete_body, set_data_body

    w, x = pair
    x.create(base + "/a")
    x.create(base + "/b")
    w.get(base + "/a", watch=True)
    w.exists(base + "/b", watch=True)
    w.exists(base + "/c", watch=True)
    err, _ = x.multi([
        (Op.SET_DATA, set_data_body(base + "/a", b"1")),
        (Op.SET_DATA, set_data_body(base + "/a", b"2")),
        (Op.DELETE, delete_body(base + "/b")),
        (Op.CREATE, create_body(base + "/c")),
    ])
    assert err == Err.OK
    assert got(w) == ev(
        (Ev.NODE_DATA_CHANGED, base + "/a"),
        (Ev.NODE_DELETED, base + "/b"),
        (Ev.NODE_CREATED, base + "/c"),
    )


def test_failed_multi_fires_nothing(pair, base):
    from rawzk import Op, check_body, set_data_body

    w, x = pair
    x.create(base + "/a")
    w.get(base + "/a", watch=True)
    x.multi([(Op.SET_DATA, set_data_body(base + "/a", b"1")), (Op.CHECK, check_body(base + "/a", 9))])
    assert got(w) == []


def test_own_change_event_arrives_before_reply(raw, base):
    raw.create(base + "/own")
    raw.get(base + "/own", watch=True)
    raw.frames.clear()
    raw.set(base + "/own", b"1")
    assert raw.frames[0] == ("event", Ev.NODE_DATA_CHANGED), \
        f"watch event must precede the reply of the change that fired it: {raw.frames}"
    assert raw.frames[1][0] == "reply"


def test_watches_of_different_sessions_all_fire(make_raw, base):
    watchers = [make_raw() for _ in range(3)]
    writer = make_raw()
    writer.create(base + "/shared")
    for w in watchers:
        w.get(base + "/shared", watch=True)
    writer.set(base + "/shared", b"1")
    for w in watchers:
        assert got(w) == ev((Ev.NODE_DATA_CHANGED, base + "/shared"))


def test_kazoo_watch_callbacks(make_zk, base):
    w, x = make_zk(), make_zk()
    x.create(base + "/k")
    events = []
    done = threading.Event()

    def cb(event):
        events.append((event.type, event.path))
        if len(events) == 3:
            done.set()

    w.get(base + "/k", watch=cb)
    w.get_children(base, watch=cb)
    w.exists(base + "/other", watch=cb)
    x.set(base + "/k", b"1")
    x.create(base + "/other")
    assert done.wait(10), f"kazoo callbacks: {events}"
    assert sorted(events) == sorted([
        (EventType.CHANGED, base + "/k"),
        (EventType.CHILD, base),
        (EventType.CREATED, base + "/other"),
    ])


# -- removeWatches / checkWatches ------------------------------------------------------

def test_remove_and_check_one_shot_watches(pair, base):
    w, x = pair
    x.create(base + "/r")
    assert w.check_watches(base + "/r", WatcherType.ANY) == Err.NO_WATCHER
    w.get(base + "/r", watch=True)
    w.get_children(base + "/r", watch=True)
    assert w.check_watches(base + "/r", WatcherType.DATA) == Err.OK
    assert w.check_watches(base + "/r", WatcherType.CHILDREN) == Err.OK
    assert w.remove_watches(base + "/r", WatcherType.DATA) == Err.OK
    assert w.remove_watches(base + "/r", WatcherType.DATA) == Err.NO_WATCHER
    assert w.check_watches(base + "/r", WatcherType.CHILDREN) == Err.OK
    x.set(base + "/r", b"1")
    assert got(w) == [], "removed data watch still fired (the server sends no removal event)"
    x.create(base + "/r/c")
    assert got(w) == ev((Ev.NODE_CHILDREN_CHANGED, base + "/r"))


def test_remove_any_removes_both_kinds(pair, base):
    w, x = pair
    x.create(base + "/r")
    w.get(base + "/r", watch=True)
    w.get_children(base + "/r", watch=True)
    assert w.remove_watches(base + "/r", WatcherType.ANY) == Err.OK
    assert w.check_watches(base + "/r", WatcherType.ANY) == Err.NO_WATCHER
    x.create(base + "/r/c")
    x.delete(base + "/r/c")
    x.delete(base + "/r")
    assert got(w) == []


def test_exists_watch_is_a_data_watch_for_removal(pair, base):
    w, x = pair
    w.exists(base + "/missing", watch=True)
    assert w.remove_watches(base + "/missing", WatcherType.DATA) == Err.OK
    x.create(base + "/missing")
    assert got(w) == []


def test_remove_watches_without_watch_is_no_watcher(raw, base):
    assert raw.remove_watches(base, WatcherType.ANY) == Err.NO_WATCHER
    assert raw.remove_watches(base + "/nonexistent", WatcherType.DATA) == Err.NO_WATCHER


# -- persistent and persistent-recursive watches (addWatch) ----------------------------------

def mutate_subtree(x, base):
    x.set(base + "/pw", b"1")
    x.create(base + "/pw/a")
    x.set(base + "/pw/a", b"1")
    x.create(base + "/pw/a/b")
    x.delete(base + "/pw/a/b")
    x.delete(base + "/pw/a")
    x.delete(base + "/pw")
    x.create(base + "/pw")


def test_persistent_watch(pair, base):
    w, x = pair
    x.create(base + "/pw")
    w.add_watch(base + "/pw", AddWatchMode.PERSISTENT)
    mutate_subtree(x, base)
    p = base + "/pw"
    assert got(w) == ev(
        (Ev.NODE_DATA_CHANGED, p),
        (Ev.NODE_CHILDREN_CHANGED, p),  # create /pw/a
        (Ev.NODE_CHILDREN_CHANGED, p),  # delete /pw/a
        (Ev.NODE_DELETED, p),
        (Ev.NODE_CREATED, p),
    )
    x.set(p, b"again")
    assert got(w) == ev((Ev.NODE_DATA_CHANGED, p)), "persistent watch must survive firing"


def test_persistent_recursive_watch(pair, base):
    w, x = pair
    x.create(base + "/pw")
    w.add_watch(base + "/pw", AddWatchMode.PERSISTENT_RECURSIVE)
    mutate_subtree(x, base)
    p = base + "/pw"
    assert got(w) == ev(
        (Ev.NODE_DATA_CHANGED, p),
        (Ev.NODE_CREATED, p + "/a"),
        (Ev.NODE_DATA_CHANGED, p + "/a"),
        (Ev.NODE_CREATED, p + "/a/b"),
        (Ev.NODE_DELETED, p + "/a/b"),
        (Ev.NODE_DELETED, p + "/a"),
        (Ev.NODE_DELETED, p),
        (Ev.NODE_CREATED, p),
    ), "recursive watches report no NodeChildrenChanged"


def test_persistent_watch_on_missing_node(pair, base):
    w, x = pair
    w.add_watch(base + "/later", AddWatchMode.PERSISTENT)
    x.create(base + "/later")
    x.delete(base + "/later")
    assert got(w) == ev(
        (Ev.NODE_CREATED, base + "/later"),
        (Ev.NODE_DELETED, base + "/later"),
    )


def test_recursive_watch_on_root_sees_everything_under_it(pair, base):
    w, x = pair
    w.add_watch(base, AddWatchMode.PERSISTENT_RECURSIVE)
    x.create(base + "/deep")
    x.create(base + "/deep/er", b"", flags=Flags.EPHEMERAL)
    assert got(w) == ev(
        (Ev.NODE_CREATED, base + "/deep"),
        (Ev.NODE_CREATED, base + "/deep/er"),
    )


def test_persistent_plus_one_shot_on_same_path_sends_one_event(pair, base):
    w, x = pair
    x.create(base + "/both")
    w.add_watch(base + "/both", AddWatchMode.PERSISTENT)
    w.get(base + "/both", watch=True)
    x.set(base + "/both", b"1")
    assert got(w) == ev((Ev.NODE_DATA_CHANGED, base + "/both"))
    w.add_watch(base, AddWatchMode.PERSISTENT_RECURSIVE)
    x.set(base + "/both", b"2")
    assert got(w) == ev((Ev.NODE_DATA_CHANGED, base + "/both"))


def test_remove_persistent_watches(pair, base):
    w, x = pair
    x.create(base + "/pw")
    w.add_watch(base + "/pw", AddWatchMode.PERSISTENT)
    assert w.check_watches(base + "/pw", WatcherType.ANY) == Err.OK
    assert w.remove_watches(base + "/pw", WatcherType.ANY) == Err.OK
    assert w.remove_watches(base + "/pw", WatcherType.ANY) == Err.NO_WATCHER
    x.set(base + "/pw", b"1")
    assert got(w) == []
    w.add_watch(base + "/pw", AddWatchMode.PERSISTENT_RECURSIVE)
    assert w.remove_watches(base + "/pw", WatcherType.ANY) == Err.OK
    x.create(base + "/pw/c")
    assert got(w) == []


def test_persistent_watch_ends_with_session(make_raw, base):
    w = make_raw()
    x = make_raw()
    x.create(base + "/pw")
    w.add_watch(base + "/pw", AddWatchMode.PERSISTENT_RECURSIVE)
    w.close()
    x.set(base + "/pw", b"1")  # nothing to deliver, nothing to crash on
    x.ping()


# -- SetWatches on reconnect ----------------------------------------------------------

def test_set_watches_fires_for_changes_missed_while_disconnected(make_raw, base):
    w = make_raw(timeout_ms=20000)
    x = make_raw()
    for name in ("changed", "gone", "same"):
        x.create(f"{base}/{name}")
    w.exists(base)
    seen = w.last_zxid  # the zxid this client has seen (from the reply header)
    session_id, passwd = w.session_id, w.passwd
    w.drop()

    x.set(base + "/changed", b"1")
    x.delete(base + "/gone")
    x.create(base + "/new")

    w2 = make_raw(session_id=session_id, passwd=passwd, last_zxid=seen, timeout_ms=20000)
    assert w2.session_id == session_id
    err = w2.set_watches(
        seen,
        data=[base + "/changed", base + "/gone", base + "/same"],
        exist=[base + "/new", base + "/absent"],
        child=[base],
    )
    assert err == Err.OK
    assert sorted(got(w2)) == sorted(ev(
        (Ev.NODE_DATA_CHANGED, base + "/changed"),
        (Ev.NODE_DELETED, base + "/gone"),
        (Ev.NODE_CREATED, base + "/new"),
        (Ev.NODE_CHILDREN_CHANGED, base),
    ))
    # the watches that had nothing to report are armed now
    x.set(base + "/same", b"1")
    x.create(base + "/absent")
    assert got(w2) == ev(
        (Ev.NODE_DATA_CHANGED, base + "/same"),
        (Ev.NODE_CREATED, base + "/absent"),
    )


def test_set_watches2_restores_persistent_watches(make_raw, base):
    w = make_raw()
    x = make_raw()
    x.create(base + "/p")
    x.create(base + "/r")
    err = w.set_watches2(w.last_zxid, persistent=[base + "/p"], persistent_recursive=[base + "/r"])
    assert err == Err.OK
    x.set(base + "/p", b"1")
    x.create(base + "/r/c")
    x.set(base + "/p", b"2")
    assert got(w) == ev(
        (Ev.NODE_DATA_CHANGED, base + "/p"),
        (Ev.NODE_CREATED, base + "/r/c"),
        (Ev.NODE_DATA_CHANGED, base + "/p"),
    )


def test_kazoo_rewatches_after_session_move(make_zk, make_raw, server, base):
    """kazoo re-registers its watches (SetWatches) when it reconnects."""
    w = make_zk()
    x = make_raw()
    x.create(base + "/rw")
    fired = threading.Event()
    w.get(base + "/rw", watch=lambda e: fired.set())
    session_id, passwd = w.client_id
    # Steal the session for a moment: the server closes kazoo's connection,
    # kazoo reconnects to the same session and sends SetWatches.
    thief = make_raw(session_id=session_id, passwd=passwd)
    assert thief.session_id == session_id
    thief.drop()
    wait_until(lambda: w.connected and w.client_id[0] == session_id and w.exists(base + "/rw"),
               20, "kazoo reconnected to its session")
    x.set(base + "/rw", b"1")
    assert fired.wait(10), "kazoo watch did not survive the reconnect"
