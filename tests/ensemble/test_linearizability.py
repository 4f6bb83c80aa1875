"""Unit tests for linearizability.py: no servers, no network, a few seconds at most."""

import itertools
import os
import random
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from linearizability import Op, check, lost_acknowledged_writes  # noqa: E402

K = '/reg'


def write(client, value, invoke, complete, version=None, ok=True, key=K):
    """A write; complete=None means unknown outcome."""
    if complete is None:
        ok, version = None, None
    return Op(client, 'write', key, value, None, invoke, complete, ok, None, version)


def cas(client, value, expected, invoke, complete, ok=True, version=None, key=K):
    if complete is None:
        ok = None
    elif ok and version is None:
        version = expected + 1
    return Op(client, 'cas', key, value, expected, invoke, complete, ok, None, version if ok else None)


def read(client, value, version, invoke, complete, key=K):
    return Op(client, 'read', key, None, None, invoke, complete, True, value, version)


INIT = (b'', 0)


# ---------------------------------------------------------------- hand-written histories

def test_sequential_history_is_linearizable():
    h = [
        read(1, b'', 0, 0.0, 1.0),
        write(1, b'a', 2.0, 3.0, version=1),
        read(2, b'a', 1, 4.0, 5.0),
        cas(2, b'b', 1, 6.0, 7.0),
        cas(1, b'c', 1, 8.0, 9.0, ok=False),
        read(1, b'b', 2, 10.0, 11.0),
        write(2, b'd', 12.0, 13.0, version=3),
        read(1, b'd', 3, 14.0, 15.0),
    ]
    r = check(h, initial=INIT)
    assert r.ok is True, r.explanation
    assert r.key is None
    assert r.checked_ops == len(h)
    assert r.per_key == {K: True}


def test_concurrent_writes_reads_may_see_either_order():
    # w(a) and w(b) overlap; both reads overlap both writes too.
    base = [write(1, b'a', 0.0, 10.0, version=None), write(2, b'b', 1.0, 11.0, version=None)]
    for seen in [(b'a', 1), (b'b', 1), (b'a', 2), (b'b', 2), (b'', 0)]:
        h = base + [read(3, seen[0], seen[1], 2.0, 12.0)]
        r = check(h, initial=INIT)
        assert r.ok is True, (seen, r.explanation)
    # Reads after both writes completed must agree on the final order: (b, 2) means a then b.
    h = base + [read(3, b'b', 1, 2.0, 9.0), read(3, b'a', 2, 12.0, 13.0)]
    assert check(h, initial=INIT).ok is True
    # But once both writes are done, version 1 can no longer be read.
    h = base + [read(3, b'a', 1, 12.0, 13.0)]
    assert check(h, initial=INIT).ok is False
    # Two reads that contradict each other's order: saw b@1 then a@1 later.
    h = base + [read(3, b'b', 1, 2.0, 3.0), read(4, b'a', 1, 4.0, 5.0)]
    assert check(h, initial=INIT).ok is False


def test_stale_read_after_completed_write_is_caught():
    h = [
        write(1, b'a', 0.0, 1.0, version=1),
        write(1, b'b', 2.0, 3.0, version=2),
        read(2, b'a', 1, 4.0, 5.0),  # stale: b was acknowledged before this read began
    ]
    r = check(h, initial=INIT)
    assert r.ok is False
    assert r.key == K
    assert "read returned (b'a', 1)" in r.explanation
    assert "(b'b', 2)" in r.explanation
    assert 'Longest linearizable prefix found: 2 ops' in r.explanation
    # The same read overlapping the second write is fine.
    h[2] = read(2, b'a', 1, 2.5, 5.0)
    assert check(h, initial=INIT).ok is True


def test_cas_succeeding_twice_against_same_expected_version():
    sequential = [cas(1, b'x', 0, 0.0, 1.0), cas(2, b'y', 0, 2.0, 3.0)]
    concurrent = [cas(1, b'x', 0, 0.0, 5.0), cas(2, b'y', 0, 1.0, 6.0)]
    for h in (sequential, concurrent):
        r = check(h, initial=INIT)
        assert r.ok is False, h
        assert 'cas expected version 0 but the register is already at version 1' in r.explanation
        assert "client 2 cas('/reg', b'y', expected_version=0)" in r.explanation
    # One succeeds and the other fails with badversion: fine.
    ok_h = [cas(1, b'x', 0, 0.0, 5.0), cas(2, b'y', 0, 1.0, 6.0, ok=False)]
    assert check(ok_h, initial=INIT).ok is True


def test_failed_cas_is_a_read_of_the_version():
    # badversion while nobody else could have changed the version 0 -> impossible.
    h = [cas(1, b'x', 0, 0.0, 1.0, ok=False)]
    r = check(h, initial=INIT)
    assert r.ok is False
    assert 'badversion' in r.explanation
    # With a concurrent (or earlier) write, the badversion is explained.
    h2 = h + [write(2, b'w', 0.5, 2.0, version=1)]
    assert check(h2, initial=INIT).ok is True


def test_write_must_report_previous_version_plus_one():
    assert check([write(1, b'a', 0.0, 1.0, version=1)], initial=INIT).ok is True
    r = check([write(1, b'a', 0.0, 1.0, version=5)], initial=INIT)
    assert r.ok is False
    assert 'reported version 5' in r.explanation
    # Two sequential writes both claiming version 1 cannot both be right.
    h = [write(1, b'a', 0.0, 1.0, version=1), write(2, b'b', 2.0, 3.0, version=1)]
    assert check(h, initial=INIT).ok is False


def test_unknown_write_seen_by_later_read():
    h = [
        write(1, b'ghost', 0.0, None),
        read(2, b'', 0, 1.0, 2.0),  # not yet applied
        read(2, b'ghost', 1, 10.0, 11.0),  # applied between the reads
        write(3, b'z', 12.0, 13.0, version=2),  # and its version bump is accounted for
    ]
    r = check(h, initial=INIT)
    assert r.ok is True, r.explanation
    # An unknown write cannot take effect before it was invoked.
    early = [read(2, b'ghost', 1, 0.0, 1.0), write(1, b'ghost', 5.0, None)]
    assert check(early, initial=INIT).ok is False


def test_unknown_write_never_seen():
    h = [
        write(1, b'ghost', 0.0, None),
        read(2, b'', 0, 1.0, 2.0),
        write(3, b'a', 3.0, 4.0, version=1),
        read(2, b'a', 1, 5.0, 6.0),
        cas(3, b'b', 1, 7.0, 8.0),
        read(2, b'b', 2, 9.0, 10.0),
    ]
    r = check(h, initial=INIT)
    assert r.ok is True, r.explanation
    # But it may not take effect twice: seen, then gone with an unchanged version is impossible.
    bad = [write(1, b'ghost', 0.0, None), read(2, b'ghost', 1, 1.0, 2.0), read(2, b'', 0, 3.0, 4.0)]
    assert check(bad, initial=INIT).ok is False


def test_unknown_cas_only_applies_when_version_matches():
    h = [cas(1, b'c', 0, 0.0, None), read(2, b'c', 1, 5.0, 6.0)]
    assert check(h, initial=INIT).ok is True
    h = [write(3, b'a', 0.0, 1.0, version=1), cas(1, b'c', 0, 2.0, None), read(2, b'c', 2, 5.0, 6.0)]
    assert check(h, initial=INIT).ok is False


def test_many_unknown_writes_never_seen_stay_cheap():
    # 60 blind unknown writes overlapping everything: symmetric, so the search stays small.
    h = [write(100 + j, b'u%d' % j, 0.1 * j, None) for j in range(60)]
    h += [read(1, b'', 0, 0.0, 0.05)]
    t = 0.1
    version = 0
    for j in range(200):
        version += 1
        h.append(write(1, b'v%d' % j, t, t + 0.01, version=version))
        h.append(read(2, b'v%d' % j, version, t + 0.02, t + 0.03))
        t += 0.05
    r = check(h, initial=INIT)
    assert r.ok is True, r.explanation
    # Cheap, counted in configurations explored (401 when written): about one per op, where
    # trying the unknown writes in their orders would explore billions.
    assert 0 < r.states <= 1000, r.states
    # ... and a final read that needs exactly 7 of them applied late is still found.
    h.append(read(2, b'v199', None, t, t + 0.01))
    h.append(write(1, b'final', t + 0.02, t + 0.03, version=version + 8))
    r = check(h, initial=INIT)
    assert r.ok is True, r.explanation
    assert 0 < r.states <= 1000, r.states


def test_read_of_a_value_never_written_is_caught():
    h = [write(1, b'a', 0.0, 1.0, version=1), read(2, b'zzz', 1, 0.5, 2.0)]
    r = check(h, initial=INIT)
    assert r.ok is False
    assert "b'zzz'" in r.explanation


def test_keys_are_checked_independently():
    h = [
        write(1, b'a', 0.0, 1.0, version=1, key='/r1'),
        read(2, b'a', 1, 2.0, 3.0, key='/r1'),
        write(1, b'a', 0.0, 1.0, version=1, key='/r2'),
        read(2, b'', 0, 2.0, 3.0, key='/r2'),  # stale on /r2 only
    ]
    r = check(h, initial=INIT)
    assert r.ok is False
    assert r.key == '/r2'
    assert r.per_key == {'/r1': True, '/r2': False}
    # A value read on one key says nothing about the other.
    h2 = [write(1, b'a', 0.0, 1.0, version=1, key='/r1'), read(2, b'a', 1, 2.0, 3.0, key='/r2')]
    assert check(h2, initial=INIT).ok is False


def test_initial_state_per_key_and_absent_convention():
    absent = (None, -1)
    h = [
        read(1, None, -1, 0.0, 1.0, key='/new'),
        read(1, b'seed', 4, 0.0, 1.0, key='/old'),
        write(2, b'x', 2.0, 3.0, version=5, key='/old'),
    ]
    assert check(h, initial={'/new': absent, '/old': (b'seed', 4)}).ok is True
    assert check(h, initial=INIT).ok is False
    with pytest.raises(ValueError):
        check(h, initial={'/new': absent})


def test_failed_writes_and_unknown_reads_constrain_nothing():
    h = [
        Op(1, 'write', K, b'nope', None, 0.0, 1.0, False, None, None),
        Op(2, 'read', K, None, None, 0.0, None, None, None, None),
        Op(3, 'read', K, None, None, 0.0, 1.0, False, None, None),
        read(4, b'', 0, 2.0, 3.0),
    ]
    r = check(h, initial=INIT)
    assert r.ok is True
    assert r.checked_ops == 4


def test_malformed_ops_are_rejected():
    with pytest.raises(ValueError):
        check([Op(1, 'delete', K, None, None, 0.0, 1.0, True)])
    with pytest.raises(ValueError):
        check([Op(1, 'cas', K, b'x', None, 0.0, 1.0, True)])
    with pytest.raises(ValueError):
        check([write(1, b'x', 2.0, 1.0, version=1)])
    with pytest.raises(ValueError):
        check([Op(1, 'read', K, None, None, 0.0, 1.0, None, b'', 0)])


def test_inconclusive_when_state_budget_is_exceeded():
    h = [write(c, b'w%d' % c, 0.0, 100.0) for c in range(12)]
    h.append(read(99, b'never', 1, 0.0, 100.0))  # forces the whole space to be explored
    r = check(h, initial=INIT, max_states=50)
    assert r.ok is None
    assert r.key == K
    assert 'inconclusive' in r.explanation and 'max_states=50' in r.explanation
    # With enough budget it is decided (and is a violation).
    r = check(h, initial=INIT)
    assert r.ok is False


# ---------------------------------------------------------------- lost acknowledged writes

def test_lost_acknowledged_writes():
    w1 = write(1, b'a', 0.0, 1.0, version=1)
    w2 = write(1, b'b', 2.0, 3.0, version=2)
    c3 = cas(2, b'c', 2, 4.0, 5.0)  # version 3
    unknown = write(3, b'u', 6.0, None)
    failed = cas(2, b'd', 0, 6.0, 7.0, ok=False)
    other = write(1, b'z', 0.0, 1.0, version=1, key='/other')
    h = [w1, w2, c3, unknown, failed, other]
    assert lost_acknowledged_writes(h, {K: (b'c', 3), '/other': (b'z', 1)}) == []
    assert lost_acknowledged_writes(h, {K: (b'u', 4), '/other': (b'z', 1)}) == []
    # The store rolled back to version 1: the acknowledged version-2 write and the cas are lost.
    assert lost_acknowledged_writes(h, {K: (b'a', 1), '/other': (b'z', 1)}) == [w2, c3]
    # A register that disappeared entirely lost every acknowledged write on it.
    assert lost_acknowledged_writes(h, {K: (b'c', 3)}) == [other]


# ---------------------------------------------------------------- randomized histories

def simulate(rng, n_ops, clients=5, keys=(K,), p_unknown=0.0, p_cas=0.3, p_read=0.4):
    """A truly linearizable history: ops get random overlapping intervals and a hidden
    linearization point inside each; an atomic register applied in that order decides results.
    Unknown-outcome ops take effect at a random instant after invocation, or never."""
    specs = []  # (lin_point or None, op)
    clock = [rng.uniform(0, 1) for _ in range(clients)]
    seq = 0
    for _ in range(n_ops):
        c = rng.randrange(clients)
        invoke = clock[c] + rng.uniform(0.0, 0.5)
        duration = rng.uniform(0.01, 2.0)
        key = rng.choice(keys)
        x = rng.random()
        kind = 'read' if x < p_read else 'cas' if x < p_read + p_cas else 'write'
        seq += 1
        value = None if kind == 'read' else ('c%d-%d' % (c, seq)).encode()
        if rng.random() < p_unknown:
            op = Op(c, kind, key, value, None, invoke, None, None, None, None)
            lin = invoke + rng.uniform(0.0, 5.0) if rng.random() < 0.5 else None
            clock[c] = invoke + duration  # client times out and moves on
        else:
            op = Op(c, kind, key, value, None, invoke, invoke + duration, None, None, None)
            lin = rng.uniform(invoke, invoke + duration)
            clock[c] = invoke + duration
        specs.append((lin, op))
    state = {k: INIT for k in keys}
    for lin, op in sorted((s for s in specs if s[0] is not None), key=lambda s: s[0]):
        value, version = state[op.key]
        if op.kind == 'cas':
            op.expected_version = version if rng.random() < 0.6 else max(0, version + rng.choice((-2, -1, 1)))
        if op.kind == 'read':
            op.ok, op.result_value, op.result_version = True, value, version
        elif op.kind == 'write' or op.expected_version == version:
            state[op.key] = (op.value, version + 1)
            op.ok, op.result_version = True, version + 1
        else:
            op.ok = False
        if op.complete is None:  # the client never learns the outcome
            op.ok, op.result_value, op.result_version = None, None, None
    for lin, op in specs:
        if lin is None and op.kind == 'cas':
            op.expected_version = rng.randrange(0, 5)
    history = [op for _, op in specs]
    rng.shuffle(history)  # the checker must not depend on input order
    return history, state


@pytest.mark.parametrize('seed', range(25))
def test_random_linearizable_histories_pass_and_corrupted_read_fails(seed):
    rng = random.Random(seed)
    keys = ('/a', '/b', '/c')
    history, final = simulate(rng, 240, clients=rng.randint(2, 6), keys=keys,
                              p_unknown=0.08 if seed % 2 else 0.0)
    r = check(history, initial=INIT)
    assert r.ok is True, r.explanation
    assert r.checked_ops == len(history)
    assert lost_acknowledged_writes(history, final) == []

    reads = [op for op in history if op.kind == 'read' and op.ok]
    assert reads
    victim = rng.choice(reads)
    victim.result_value = b'value that was never written'
    r = check(history, initial=INIT)
    assert r.ok is False
    assert r.key == victim.key
    assert 'value that was never written' in r.explanation


@pytest.mark.parametrize('seed', range(10))
def test_random_history_with_stale_read_injected_fails(seed):
    rng = random.Random(1000 + seed)
    history, _ = simulate(rng, 150, clients=4)
    # Append, after everything, a read returning the initial state although writes succeeded.
    end = max(op.complete for op in history) + 1.0
    assert any(op.kind in ('write', 'cas') and op.ok for op in history)
    history.append(read(9, b'', 0, end, end + 1.0))
    r = check(history, initial=INIT)
    assert r.ok is False
    assert "read returned (b'', 0)" in r.explanation


def test_performance_2000_ops_concurrency_5():
    """The search's cost, counted in configurations explored (not wall-clock time, which a
    loaded machine would make flaky): near one per op for a linearizable history (2,229 for
    this seed when written), and a violation late in the history is found within a small
    multiple of that (9,495)."""
    rng = random.Random(42)
    history, _ = simulate(rng, 2000, clients=5, p_unknown=0.02)
    r = check(history, initial=INIT)
    assert r.ok is True, r.explanation
    assert r.checked_ops == 2000
    assert 0 < r.states <= 2 * 2000, r.states
    # A violation late in the history is found quickly too.
    late = sorted((op for op in history if op.kind == 'read' and op.ok), key=lambda o: o.invoke)[-20]
    late.result_version += 1
    r = check(history, initial=INIT)
    assert r.ok is False
    assert 0 < r.states <= 10 * 2000, r.states


# ---------------------------------------------------------------- brute-force cross-check

def _brute_force(history, init):
    """Independent oracle: try every order of every subset of unknown ops plus all known ones."""
    def step(state, op):
        value, version = state
        if op.kind == 'read':
            if op.complete is None or not op.ok:
                return state
            if op.result_value != value or op.result_version not in (None, version):
                return None
            return state
        if op.complete is not None and not op.ok:
            if op.kind == 'cas' and version == op.expected_version:
                return None
            return state
        if op.kind == 'cas' and version != op.expected_version:
            return None
        if op.complete is not None and op.result_version not in (None, version + 1):
            return None
        return (op.value, version + 1)

    known = [op for op in history if op.complete is not None]
    unknown = [op for op in history if op.complete is None]
    for r in range(len(unknown) + 1):
        for subset in itertools.combinations(unknown, r):
            for order in itertools.permutations(known + list(subset)):
                # real-time order: nothing placed later may have completed before an earlier invoke
                if any(b.complete is not None and b.complete < a.invoke
                       for x, a in enumerate(order) for b in order[x + 1:]):
                    continue
                state = init
                for op in order:
                    state = step(state, op)
                    if state is None:
                        break
                else:
                    return True
    return False


def _small_random_history(rng, n):
    h = []
    for i in range(n):
        kind = rng.choice(('read', 'write', 'cas'))
        invoke = rng.uniform(0, 10)
        complete = None if rng.random() < 0.35 else invoke + rng.uniform(0, 4)
        value = None if kind == 'read' else rng.choice((b'a', b'b', b'', b'u%d' % i))
        expected = rng.randrange(0, 3) if kind == 'cas' else None
        ok = None if complete is None else rng.random() < 0.75
        rv = rver = None
        if ok and kind == 'read':
            rv = rng.choice((b'a', b'b', b'', b'u%d' % rng.randrange(n)))
            rver = rng.choice((0, 1, 2, None))
        elif ok:
            rver = rng.choice((1, 2, 3, None)) if kind == 'write' else rng.choice((expected + 1, None))
        h.append(Op(i, kind, K, value, expected, invoke, complete, ok, rv, rver))
    return h


def test_agrees_with_brute_force_on_small_histories():
    rng = random.Random(7)
    verdicts = {True: 0, False: 0}
    for _ in range(1500):
        h = _small_random_history(rng, rng.randint(1, 6))
        expected = _brute_force(h, INIT)
        r = check(h, initial=INIT)
        assert r.ok is expected, '\n'.join(map(repr, h))
        verdicts[expected] += 1
    # Both verdicts must be well represented for the comparison to mean anything.
    assert verdicts[True] > 300 and verdicts[False] > 300, verdicts


def test_a_cas_with_version_minus_one_is_refused_as_input():
    """setData(version=-1) is unconditional in ZooKeeper; a history calling it a CAS is wrong."""
    import pytest
    op = Op(client=1, kind='cas', key='/r', value=b'a', expected_version=-1, invoke=0.0, complete=1.0, ok=True,
            result_version=1)
    with pytest.raises(ValueError):
        check([op], initial=(b'init', 0))
