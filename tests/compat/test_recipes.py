"""kazoo recipes: each exercises a typical mix of sequential/ephemeral
creates, child watches and versioned writes."""

import threading

from kazoo.recipe.barrier import Barrier, DoubleBarrier
from kazoo.recipe.cache import TreeCache, TreeEvent
from kazoo.recipe.counter import Counter
from kazoo.recipe.election import Election
from kazoo.recipe.lock import Lock, ReadLock, Semaphore, WriteLock
from kazoo.recipe.party import Party, ShallowParty
from kazoo.recipe.queue import LockingQueue, Queue
from kazoo.recipe.watchers import ChildrenWatch, DataWatch

from rawzk import wait_until

WAIT_S = 15.0


def start_thread(target, *args):
    thread = threading.Thread(target=target, args=args, daemon=True)
    thread.start()
    return thread


def test_lock_mutual_exclusion_and_handoff(make_zk, base):
    a, b = make_zk(), make_zk()
    lock_a = Lock(a, base + "/lock", "a")
    lock_b = Lock(b, base + "/lock", "b")
    assert lock_a.acquire(timeout=WAIT_S)
    assert not lock_b.acquire(blocking=False)
    assert lock_a.contenders() == ["a"]

    acquired = threading.Event()
    start_thread(lambda: lock_b.acquire(timeout=WAIT_S) and acquired.set())
    wait_until(lambda: len(lock_a.contenders()) == 2, WAIT_S, "second contender queued")
    assert lock_a.contenders() == ["a", "b"]
    assert not acquired.is_set()
    lock_a.release()
    assert acquired.wait(WAIT_S), "waiting lock was not handed over on release"
    lock_b.release()


def test_lock_released_when_holder_session_closes(make_zk, base):
    a, b = make_zk(), make_zk()
    assert Lock(a, base + "/lock").acquire(timeout=WAIT_S)
    acquired = threading.Event()
    lock_b = Lock(b, base + "/lock")
    start_thread(lambda: lock_b.acquire(timeout=WAIT_S) and acquired.set())
    wait_until(lambda: len(b.get_children(base + "/lock")) == 2, WAIT_S, "second contender queued")
    a.stop()
    assert acquired.wait(WAIT_S), "lock not passed on when the holder's session closed"
    lock_b.release()


def test_read_write_locks(make_zk, base):
    a, b, c = make_zk(), make_zk(), make_zk()
    r1, r2 = ReadLock(a, base + "/rw"), ReadLock(b, base + "/rw")
    w = WriteLock(c, base + "/rw")
    assert r1.acquire(timeout=WAIT_S) and r2.acquire(timeout=WAIT_S), "readers share"
    assert not w.acquire(blocking=False)
    r1.release()
    r2.release()
    assert w.acquire(timeout=WAIT_S)
    w.release()


def test_semaphore(make_zk, base):
    clients = [make_zk() for _ in range(3)]
    sems = [Semaphore(c, base + "/sem", max_leases=2) for c in clients]
    assert sems[0].acquire(timeout=WAIT_S)
    assert sems[1].acquire(timeout=WAIT_S)
    assert not sems[2].acquire(blocking=False)
    assert len(sems[0].lease_holders()) == 2
    sems[0].release()
    assert sems[2].acquire(timeout=WAIT_S)
    sems[1].release()
    sems[2].release()


def test_election(make_zk, base):
    a, b = make_zk(), make_zk()
    leaders = []
    a_leading = threading.Event()
    a_may_resign = threading.Event()
    b_leading = threading.Event()

    def lead_a():
        leaders.append("a")
        a_leading.set()
        a_may_resign.wait(WAIT_S)

    def lead_b():
        leaders.append("b")
        b_leading.set()

    election_a = Election(a, base + "/election", "a")
    election_b = Election(b, base + "/election", "b")
    start_thread(election_a.run, lead_a)
    assert a_leading.wait(WAIT_S)
    start_thread(election_b.run, lead_b)
    wait_until(lambda: len(election_a.contenders()) == 2, WAIT_S, "two contenders")
    assert election_a.contenders() == ["a", "b"]
    assert not b_leading.is_set()
    a_may_resign.set()
    assert b_leading.wait(WAIT_S), "leadership did not pass to the next contender"
    assert leaders == ["a", "b"]


def test_barrier(make_zk, base):
    a, b = make_zk(), make_zk()
    barrier_a = Barrier(a, base + "/barrier")
    barrier_b = Barrier(b, base + "/barrier")
    barrier_a.create()
    assert a.exists(base + "/barrier") is not None
    passed = threading.Event()
    start_thread(lambda: barrier_b.wait(timeout=WAIT_S) and passed.set())
    assert not passed.wait(0.3), "barrier let a waiter through while up"
    barrier_a.remove()
    assert passed.wait(WAIT_S), "waiter not released when the barrier was removed"
    assert barrier_b.wait(timeout=1), "waiting on an absent barrier returns at once"


def test_double_barrier(make_zk, base):
    clients = [make_zk() for _ in range(3)]
    barriers = [DoubleBarrier(c, base + "/double", 3, f"p{i}") for i, c in enumerate(clients)]
    entered, left = [], []
    lock = threading.Lock()

    def participant(barrier, name):
        barrier.enter()
        with lock:
            entered.append(name)
        barrier.leave()
        with lock:
            left.append(name)

    threads = [start_thread(participant, b, i) for i, b in enumerate(barriers[:2])]
    wait_until(lambda: len(clients[0].get_children(base + "/double")) >= 2, WAIT_S,
               "two participants registered")
    assert entered == [], "entered before all participants arrived"
    threads.append(start_thread(participant, barriers[2], 2))
    for thread in threads:
        thread.join(WAIT_S)
        assert not thread.is_alive(), f"double barrier stuck: entered {entered} left {left}"
    assert sorted(entered) == [0, 1, 2] and sorted(left) == [0, 1, 2]


def test_counter(make_zk, base):
    a, b = make_zk(), make_zk()
    counter_a = Counter(a, base + "/counter")
    counter_b = Counter(b, base + "/counter")
    counter_a += 5
    counter_b -= 2
    assert counter_a.value == 3 and counter_b.value == 3

    def bump(counter, n):
        for _ in range(n):
            counter += 1

    threads = [start_thread(bump, Counter(c, base + "/counter"), 20) for c in (a, b)]
    for thread in threads:
        thread.join(WAIT_S * 2)
    assert Counter(a, base + "/counter").value == 43, "lost increments: versioned set is broken"
    float_counter = Counter(a, base + "/float", default=0.5)
    float_counter += 0.25
    assert float_counter.value == 0.75


def test_party(make_zk, base):
    a, b = make_zk(), make_zk()
    party_a = Party(a, base + "/party", "alice")
    party_b = Party(b, base + "/party", "bob")
    party_a.join()
    party_b.join()
    assert sorted(party_a) == ["alice", "bob"]
    assert len(party_a) == 2
    party_b.leave()
    assert list(party_a) == ["alice"]
    shallow = ShallowParty(b, base + "/shallow", "carol")
    shallow.join()
    assert list(ShallowParty(a, base + "/shallow")) == ["carol"]
    b.stop()
    assert list(ShallowParty(a, base + "/shallow")) == [], "party member survived its session"


def test_queue(make_zk, base):
    a, b = make_zk(), make_zk()
    producer = Queue(a, base + "/queue")
    consumer = Queue(b, base + "/queue")
    for item in (b"one", b"two", b"three"):
        producer.put(item)
    producer.put(b"urgent", priority=1)
    assert len(consumer) == 4
    assert [consumer.get() for _ in range(4)] == [b"urgent", b"one", b"two", b"three"]
    assert consumer.get() is None


def test_locking_queue(make_zk, base):
    a, b = make_zk(), make_zk()
    producer = LockingQueue(a, base + "/lq")
    worker = LockingQueue(b, base + "/lq")
    producer.put_all([b"x", b"y"])
    assert worker.get(timeout=WAIT_S) == b"x"
    assert worker.holds_lock()
    assert worker.consume()
    assert worker.get(timeout=WAIT_S) == b"y"
    assert worker.release()  # not consumed: back to the queue
    other = LockingQueue(a, base + "/lq")
    assert other.get(timeout=WAIT_S) == b"y"
    assert other.consume()
    assert len(other) == 0
    got = []
    start_thread(lambda: got.append(worker.get(timeout=WAIT_S)))
    producer.put(b"late")
    wait_until(lambda: got, WAIT_S, "blocked LockingQueue.get to see a later put")
    assert got == [b"late"]


def test_children_watch(make_zk, base):
    a, b = make_zk(), make_zk()
    seen = []

    @ChildrenWatch(a, base)
    def on_children(children):
        seen.append(sorted(children))

    wait_until(lambda: seen and seen[-1] == [], WAIT_S, "initial ChildrenWatch call")
    b.create(base + "/one")
    wait_until(lambda: seen[-1] == ["one"], WAIT_S, "ChildrenWatch after create")
    b.create(base + "/two", ephemeral=True)
    wait_until(lambda: seen[-1] == ["one", "two"], WAIT_S, "ChildrenWatch after second create")
    b.delete(base + "/one")
    wait_until(lambda: seen[-1] == ["two"], WAIT_S, "ChildrenWatch after delete")
    b.stop()
    wait_until(lambda: seen[-1] == [], WAIT_S, "ChildrenWatch after ephemeral owner left")


def test_data_watch(make_zk, base):
    a, b = make_zk(), make_zk()
    seen = []

    @DataWatch(a, base + "/dw")
    def on_data(data, stat):
        seen.append((data, stat.version if stat else None))

    wait_until(lambda: seen == [(None, None)], WAIT_S, "DataWatch call for a missing node")
    b.create(base + "/dw", b"v0")
    wait_until(lambda: seen[-1] == (b"v0", 0), WAIT_S, "DataWatch after create")
    b.set(base + "/dw", b"v1")
    wait_until(lambda: seen[-1] == (b"v1", 1), WAIT_S, "DataWatch after set")
    b.delete(base + "/dw")
    wait_until(lambda: seen[-1] == (None, None), WAIT_S, "DataWatch after delete")


def test_tree_cache(make_zk, base):
    a, b = make_zk(), make_zk()
    b.create(base + "/tc/x", b"1", makepath=True)
    events = []
    cache = TreeCache(a, base + "/tc")
    cache.listen(lambda event: events.append(event.event_type))
    cache.start()
    try:
        wait_until(lambda: TreeEvent.INITIALIZED in events, WAIT_S, "TreeCache initialized")
        assert cache.get_data(base + "/tc/x").data == b"1"
        b.create(base + "/tc/x/y", b"2")
        b.set(base + "/tc/x", b"3")
        wait_until(lambda: cache.get_data(base + "/tc/x/y") is not None
                   and cache.get_data(base + "/tc/x").data == b"3", WAIT_S, "TreeCache updates")
        b.delete(base + "/tc/x/y")
        wait_until(lambda: cache.get_data(base + "/tc/x/y") is None, WAIT_S, "TreeCache removal")
        assert sorted(cache.get_children(base + "/tc")) == ["x"]
    finally:
        cache.close()
