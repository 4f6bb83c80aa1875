"""Linearizability checker for histories of versioned-register operations.

A chaos test records what its clients did against a replicated store in which each ZooKeeper
znode is used as a register holding ``(value, version)``; this module decides whether that
history is linearizable (Herlihy & Wing): whether every operation can be given one instant
between its invocation and its completion such that, taken in that order, the operations are
a legal sequential run of the register and each observed the result it actually reported.

The search is Wing & Gong's, with the memoization of Lowe (and Porcupine): a depth-first search
over "which operation takes effect next", caching every (set of linearized operations as an int
bitmask, register state) pair already explored so that no configuration is explored twice.
Linearizability is compositional (Herlihy & Wing's locality, "P-compositionality"), so the
history is split by register key and each key is checked on its own.

The model, per key (``state = (value, version)``, initial state chosen by the caller):

``write(key, value)``
    Unconditional set. On success the state becomes ``(value, version + 1)``; if the op recorded
    ``result_version`` it must equal that new version. A definite failure has no effect.
``cas(key, value, expected_version)``
    Conditional set. Succeeds only if the state's version equals ``expected_version``, and then
    the state becomes ``(value, expected_version + 1)`` (``result_version``, if recorded, must
    equal that). A definite failure (``ok=False``, ZooKeeper's BadVersion) is linearized as a
    read that saw a version different from ``expected_version``; it changes nothing.
``read(key)``
    Must return exactly the state: ``result_value`` equal to the value, and ``result_version``
    equal to the version (``result_version=None`` means "version not recorded", compared
    by value only). A failed read constrains nothing.

Unknown outcomes: an op with ``complete=None`` (timeout, connection loss) may or may not have
taken effect, at any instant after its invocation. Its return time is +infinity and it is never
forced: the search may place it anywhere after its invocation or leave it out altogether. It has
no observed result, so an unknown cas takes effect only if the version matches at the instant
chosen, and an unknown read constrains nothing.

The search (per key, iterative, no recursion): ops sorted by invocation; completed ops form a
doubly-linked list of call/return events (Porcupine's "lift"/"unlift"), unknown ops a second
list. At each step the candidates are the ops invoked before the earliest pending return:
completed ones first, then unknown ones. A candidate consistent with the model is linearized
and the (bitmask, state) pair cached; on a dead end the search backtracks. Sound reductions
that keep typical chaos histories (thousands of ops per key, ~10 concurrent clients, some
timeouts) to a few thousand configurations, all checked against a brute-force oracle in the
tests:

* versions never decrease, so a configuration whose version is past the version some pending
  completed op needs (a read's version, a cas's expected version, a write's reported version
  minus one) is dead, and while the version equals it no unknown op may be inserted;
* values no read ever returned are indistinguishable and are merged into one sentinel value;
* unknown writes of such never-read values are interchangeable: only the earliest unapplied
  one is tried, and the memo keeps for each configuration the fewest of them applied (fewer
  applied leaves more available, so it dominates);
* an unknown op that alone wrote a value that reads saw with some version may only take effect
  producing that version; such ops and unknown cas ops carry no memo bit (given the version,
  whether they were applied no longer matters).

``max_states`` bounds the configurations explored per key; past it the result is inconclusive
(``ok=None``) rather than running for ever. Memory is roughly one bitmask of n bits per
configuration.

Values (written, read and initial) must be hashable: bytes, str, int, tuples, None.

An absent znode can be modelled by any convention the caller applies consistently, e.g. initial
state ``(None, -1)`` and reads of an absent node recorded as ``result_value=None,
result_version=-1``; the checker only compares values and versions.

Note that plain ZooKeeper reads are only sequentially consistent (a follower may answer from a
stale view), so a test that wants to check reads for linearizability must make them
linearizable first (e.g. ``sync`` before the read) or expect this checker to flag stale reads.

Example::

    history = [
        Op(client=1, kind='write', key='/r0', value=b'a', expected_version=None,
           invoke=0.0, complete=1.0, ok=True, result_version=1),
        Op(client=2, kind='read', key='/r0', value=None, expected_version=None,
           invoke=2.0, complete=3.0, ok=True, result_value=b'a', result_version=1),
    ]
    result = check(history, initial=(b'', 0))
    assert result.ok, result.explanation
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

__all__ = ['Op', 'CheckResult', 'check', 'lost_acknowledged_writes']

KINDS = ('write', 'cas', 'read')


@dataclass
class Op:
    """One client operation as recorded by the test.

    ``client``: process / client id (informational only; per-client order is implied by the
    times). ``kind``: ``'write'``, ``'cas'`` or ``'read'``. ``key``: the register (znode path).
    ``value``: the value written by a write or cas (None for reads). ``expected_version``: the
    version a cas requires (None otherwise). ``invoke``: monotonic time the request was sent.
    ``complete``: monotonic time the reply arrived, or None if the outcome is unknown (timeout,
    connection loss). ``ok``: True for success, False for a definite failure (e.g. a cas that
    got BadVersion), None when the outcome is unknown. ``result_value`` / ``result_version``:
    what a successful read returned; ``result_version`` is also the new version reported by a
    successful write or cas (None if not recorded).
    """

    client: int
    kind: str
    key: str
    value: object | None
    expected_version: int | None
    invoke: float
    complete: float | None = None
    ok: bool | None = None
    result_value: object | None = None
    result_version: int | None = None

    @property
    def unknown(self) -> bool:
        """True if the client never learned the outcome (``complete is None``)."""
        return self.complete is None

    def describe(self) -> str:
        """A one-line human-readable rendering, used in explanations."""
        if self.kind == 'read':
            call = 'read(%r)' % (self.key,)
        elif self.kind == 'write':
            call = 'write(%r, %r)' % (self.key, self.value)
        else:
            call = 'cas(%r, %r, expected_version=%r)' % (self.key, self.value, self.expected_version)
        if self.complete is None:
            span, outcome = '[%.6f, ?]' % self.invoke, 'outcome unknown'
        else:
            span = '[%.6f, %.6f]' % (self.invoke, self.complete)
            if not self.ok:
                outcome = 'failed (badversion)' if self.kind == 'cas' else 'failed'
            elif self.kind == 'read':
                outcome = '-> (%r, %r)' % (self.result_value, self.result_version)
            else:
                outcome = 'ok, version %r' % (self.result_version,)
        return 'client %s %s %s %s' % (self.client, call, span, outcome)


@dataclass
class CheckResult:
    """Outcome of :func:`check`.

    ``ok``: True (linearizable), False (not linearizable), None (inconclusive: the search hit
    ``max_states`` before deciding). ``key``: the first key that failed (or, if none failed,
    the first that was inconclusive); None when ok. ``explanation``: human-readable summary; for
    a failure, the longest linearizable prefix found and the ops that could not be placed after
    it. ``checked_ops``: number of recorded ops in the keys that were checked. ``per_key``: key
    -> True / False / None for every key checked (checking stops at the first failing key).
    ``states``: total number of (bitmask, state) configurations explored.
    """

    ok: bool | None
    key: str | None
    explanation: str
    checked_ops: int
    per_key: dict = field(default_factory=dict)
    states: int = 0


# Op codes used by the search (completed ops unless marked unknown).
_READ, _WRITE, _WRITE_UNKNOWN, _CAS, _CAS_FAILED, _CAS_UNKNOWN = range(6)


class _Unread:
    """Canonical stand-in for every value that no read ever returned (they are indistinguishable)."""

    def __repr__(self):
        return '<value never read>'


_UNREAD = _Unread()


def _validate(op: Op) -> None:
    if op.kind not in KINDS:
        raise ValueError('unknown op kind %r (expected one of %s): %r' % (op.kind, KINDS, op))
    if op.kind == 'cas' and op.expected_version is None:
        raise ValueError('cas without expected_version: %r' % (op,))
    if op.kind == 'cas' and op.expected_version < 0:
        # ZooKeeper's setData with version -1 matches any version: record it as a write.
        raise ValueError('cas with expected_version %d is an unconditional setData: %r' % (op.expected_version, op))
    if op.invoke is None or (isinstance(op.invoke, float) and math.isnan(op.invoke)):
        raise ValueError('op without invoke time: %r' % (op,))
    for v in (op.value, op.result_value):
        try:
            hash(v)
        except TypeError:
            raise ValueError('values must be hashable (bytes, str, int, tuple, None): %r' % (op,)) from None
    if op.complete is not None:
        if op.complete < op.invoke:
            raise ValueError('op completes before it is invoked: %r' % (op,))
        if op.ok is None:
            raise ValueError('completed op must have ok=True or ok=False: %r' % (op,))


def _constrains(op: Op) -> bool:
    """False for ops that can be linearized anywhere without effect (so can be dropped)."""
    if op.kind == 'read':
        return op.complete is not None and bool(op.ok)
    if op.kind == 'write':
        return op.complete is None or bool(op.ok)
    return True  # cas: success, badversion and unknown all matter


def _raw_step(state, op: Op):
    """Apply ``op`` to ``state`` with real values. Returns (legal, new_state, reason)."""
    value, version = state
    if op.kind == 'read':
        if op.complete is None or not op.ok:
            return True, state, 'no constraint'
        if op.result_value != value or (op.result_version is not None and op.result_version != version):
            return False, state, 'read returned (%r, %r) but the register holds (%r, %r)' % (
                op.result_value, op.result_version, value, version)
        return True, state, ''
    if op.kind == 'write':
        if op.complete is not None and not op.ok:
            return True, state, 'no effect'
        new = (op.value, version + 1)
        if op.complete is not None and op.result_version is not None and op.result_version != version + 1:
            return False, state, 'write reported version %r but would produce version %r here' % (
                op.result_version, version + 1)
        return True, new, ''
    # cas
    if op.complete is not None and not op.ok:
        if version == op.expected_version:
            return False, state, 'cas failed with badversion but the version is %r, as expected' % (version,)
        return True, state, ''
    if version != op.expected_version:
        return False, state, 'cas expected version %r but the register is at version %r' % (
            op.expected_version, version)
    new = (op.value, op.expected_version + 1)
    if op.complete is not None and op.result_version is not None and op.result_version != new[1]:
        return False, state, 'cas reported version %r but would produce version %r' % (
            op.result_version, new[1])
    return True, new, ''


def _pin(op: Op) -> float:
    """The version a completed op requires just before it takes effect (inf if none)."""
    if op.complete is None or not op.ok:
        return math.inf
    if op.kind == 'read':
        return math.inf if op.result_version is None else op.result_version
    if op.kind == 'cas':
        return op.expected_version
    return math.inf if op.result_version is None else op.result_version - 1


def _initial_for(initial, key):
    if isinstance(initial, Mapping):
        if key not in initial:
            raise ValueError('no initial state given for key %r' % (key,))
        state = initial[key]
    else:
        state = initial
    value, version = state
    try:
        hash(value)
    except TypeError:
        raise ValueError('initial value for key %r must be hashable: %r' % (key, value)) from None
    return value, version


def _check_key(key, ops: list[Op], init_state, max_states: int):
    """Check one register's history. Returns (ok, explanation, states_explored)."""
    ops = sorted((op for op in ops if _constrains(op)),
                 key=lambda op: (op.invoke, math.inf if op.complete is None else op.complete))
    n = len(ops)
    if n == 0:
        return True, 'key %r: nothing to check' % (key,), 0

    observed = set()
    for op in ops:
        if op.kind == 'read':
            observed.add(op.result_value)

    def canon(v):
        return v if v in observed else _UNREAD

    # Per-op tables, indexed by position in invoke order.
    code = [0] * n
    val = [None] * n  # canonical value written, or value a read must see
    exp = [None] * n
    rver = [None] * n
    cls = [-1] * n  # symmetry class of unknown ops whose value nobody read
    pin = [math.inf] * n  # version the register must hold just before a completed op
    # An unknown op that is the only possible writer of a value some read returned with a
    # version can only usefully take effect producing exactly that version.
    target = [None] * n
    writers: dict = {}
    seen_versions: dict = {}
    for op in ops:
        if op.kind == 'read':
            if op.result_version is not None:
                seen_versions.setdefault(op.result_value, set()).add(op.result_version)
        else:
            writers[op.value] = writers.get(op.value, 0) + 1
    class_ids: dict = {}
    class_members: list[list[int]] = []
    for i, op in enumerate(ops):
        rver[i] = op.result_version
        exp[i] = op.expected_version
        pin[i] = _pin(op)
        if op.kind == 'read':
            code[i], val[i] = _READ, op.result_value
        elif op.kind == 'write':
            val[i] = canon(op.value)
            code[i] = _WRITE_UNKNOWN if op.complete is None else _WRITE
        else:
            val[i] = canon(op.value)
            if op.complete is None:
                code[i] = _CAS_UNKNOWN
            else:
                code[i] = _CAS if op.ok else _CAS_FAILED
        # Unknown ops with the same effect (value never read, same kind and expected version)
        # are interchangeable; only the earliest-invoked unapplied one of each class is tried.
        if code[i] in (_WRITE_UNKNOWN, _CAS_UNKNOWN) and val[i] is not _UNREAD:
            if writers[op.value] == 1 and op.value != init_state[0]:
                target[i] = seen_versions.get(op.value)
        if code[i] in (_WRITE_UNKNOWN, _CAS_UNKNOWN) and val[i] is _UNREAD:
            ck = ('w',) if code[i] == _WRITE_UNKNOWN else ('c', exp[i])
            c = class_ids.get(ck)
            if c is None:
                c = class_ids[ck] = len(class_members)
                class_members.append([])
            class_members[c].append(i)
            cls[i] = c
    class_pos = [0] * len(class_members)
    for members in class_members:
        members.append(-1)  # sentinel so class_members[c][class_pos[c]] never overflows

    # Memo-key bit of each op. An unknown cas, or an unknown op that can only produce one
    # given version, gets none: once the version has passed that point the op can never take
    # effect again, and before it the op cannot have taken effect, so given the state's version
    # whether it was applied tells nothing about the future and would only multiply the states.
    # Unknown writes of never-read values (class wc) get none either: which of them were
    # applied is canonical (earliest first), and fewer applied dominates more applied (more
    # remain available), so the memo keeps, per key, the fewest applied already explored.
    wc = class_ids.get(('w',), -1)
    bits = [0 if code[i] == _CAS_UNKNOWN or (target[i] is not None and len(target[i]) == 1)
            or (wc >= 0 and cls[i] == wc) else 1 << i for i in range(n)]

    # Main doubly-linked list of call/return events of completed ops (node 0 is the head).
    events = []
    for i, op in enumerate(ops):
        if op.complete is not None:
            events.append((op.invoke, 0, i))
            events.append((op.complete, 1, i))
    events.sort()  # on equal times calls sort before returns: such ops count as concurrent
    m = len(events)
    node_op = [-1] * (m + 1)
    node_call = [False] * (m + 1)
    node_time = [0.0] * (m + 1)
    match = [-1] * (m + 1)
    call_node = {}
    for pos, (t, is_ret, i) in enumerate(events, start=1):
        node_op[pos], node_call[pos], node_time[pos] = i, not is_ret, t
        if is_ret:
            match[call_node[i]] = pos
        else:
            call_node[i] = pos
    nxt = list(range(1, m + 2))
    nxt[m] = -1
    prv = list(range(-1, m))

    # Separate list of unknown-outcome ops, in invoke order (node 0 is the head).
    unknown = [i for i, op in enumerate(ops) if op.complete is None]
    u = len(unknown)
    u_op = [-1] + unknown
    u_time = [0.0] + [ops[i].invoke for i in unknown]
    unxt = list(range(1, u + 2))
    unxt[u] = -1
    uprv = list(range(-1, u))

    # Min-segment-tree over the version pins of the completed ops not yet linearized:
    # versions never decrease, so once the register's version exceeds the smallest pin the
    # configuration is dead, and while it equals it no unknown op (each bumps the version) helps.
    pinned = [i for i in range(n) if pin[i] != math.inf]
    size = 1
    while size < len(pinned):
        size *= 2
    tree = [math.inf] * (2 * size)
    leaf = [0] * n
    for j, i in enumerate(pinned):
        leaf[i] = size + j
        tree[size + j] = pin[i]
    for j in range(size - 1, 0, -1):
        tree[j] = min(tree[2 * j], tree[2 * j + 1])

    def set_pin(i, value):
        j = leaf[i]
        tree[j] = value
        j >>= 1
        while j:
            a, b = tree[2 * j], tree[2 * j + 1]
            tree[j] = a if a < b else b
            j >>= 1

    state = (canon(init_state[0]), init_state[1])
    mask = 0
    cache: dict = {}  # (mask, state) -> fewest blind unknown writes applied when explored
    explored = 0
    stack = []  # frames: (node, in_unknown_list, state_before, limit)
    best: list[int] = []
    best_done = -1
    done = 0  # completed ops currently linearized
    MAIN, UNK = 0, 1
    phase = MAIN
    node = nxt[0]
    limit = 0.0

    while True:
        if nxt[0] == -1:
            return True, 'key %r: linearizable (%d ops, %d states explored)' % (key, n, explored), explored

        if phase == MAIN:
            if not node_call[node]:
                # The earliest pending return: every candidate must be invoked before it.
                limit = node_time[node]
                phase = UNK
                node = unxt[0]
                if tree[1] <= state[1]:
                    node = -1  # no unknown op can help (see the pin tree above)
                continue
            i = node_op[node]
        else:
            if node == -1 or u_time[node] > limit:
                # Every candidate at this depth was tried: backtrack.
                if done > best_done:
                    best_done = done
                    best = [frame[0] if not frame[1] else -frame[0] for frame in stack]
                    while best and best[-1] < 0:  # trailing unknown ops explain nothing
                        best.pop()
                if not stack:
                    break
                node, was_unknown, state, limit = stack.pop()
                if was_unknown:
                    i = u_op[node]
                    unxt[uprv[node]] = node
                    if unxt[node] != -1:
                        uprv[unxt[node]] = node
                    if cls[i] >= 0:
                        class_pos[cls[i]] -= 1
                    mask ^= bits[i]
                    phase = UNK
                    node = unxt[node]
                else:
                    i = node_op[node]
                    r = match[node]
                    nxt[prv[r]] = r
                    if nxt[r] != -1:
                        prv[nxt[r]] = r
                    nxt[prv[node]] = node
                    prv[nxt[node]] = node
                    mask ^= bits[i]
                    done -= 1
                    if leaf[i]:
                        set_pin(i, pin[i])
                    phase = MAIN
                    node = nxt[node]
                continue
            i = u_op[node]
            c = cls[i]
            if c >= 0 and class_members[c][class_pos[c]] != i:
                node = unxt[node]
                continue

        # Try to linearize op i next.
        k = code[i]
        version = state[1]
        if k == _READ:
            legal = state[0] == val[i] and (rver[i] is None or rver[i] == version)
            new_state = state
        elif k == _WRITE or k == _WRITE_UNKNOWN:
            new_state = (val[i], version + 1)
            if k == _WRITE:
                legal = rver[i] is None or rver[i] == version + 1
            else:
                legal = target[i] is None or version + 1 in target[i]
        elif k == _CAS_FAILED:
            legal = version != exp[i]
            new_state = state
        else:  # _CAS, _CAS_UNKNOWN
            if k == _CAS:
                legal = version == exp[i] and (rver[i] is None or rver[i] == version + 1)
            else:
                legal = version == exp[i] and (target[i] is None or version + 1 in target[i])
            new_state = (val[i], version + 1)

        if legal:
            new_mask = mask | bits[i]
            ck = (new_mask, new_state)
            blind = 0
            if wc >= 0:
                blind = class_pos[wc] + 1 if phase == UNK and c == wc else class_pos[wc]
            seen = cache.get(ck)
            if seen is None or blind < seen:
                cache[ck] = blind
                explored += 1
                if explored > max_states:
                    return None, ('key %r: inconclusive, the search exceeded max_states=%d '
                                  '(%d ops; deepest linearizable prefix so far: %d ops)'
                                  % (key, max_states, n, max(len(best), len(stack)))), explored
                stack.append((node, phase == UNK, state, limit))
                state = new_state
                mask = new_mask
                if phase == UNK:
                    unxt[uprv[node]] = unxt[node]
                    if unxt[node] != -1:
                        uprv[unxt[node]] = uprv[node]
                    if c >= 0:
                        class_pos[c] += 1
                else:
                    done += 1
                    if leaf[i]:
                        set_pin(i, math.inf)
                    nxt[prv[node]] = nxt[node]
                    prv[nxt[node]] = prv[node]  # a call is always followed by its return
                    r = match[node]
                    nxt[prv[r]] = nxt[r]
                    if nxt[r] != -1:
                        prv[nxt[r]] = prv[r]
                if tree[1] < new_state[1]:
                    phase, node = UNK, -1  # a pending op needs an older version: dead end
                else:
                    phase, node = MAIN, nxt[0]
                continue
        node = unxt[node] if phase == UNK else nxt[node]

    # Not linearizable: explain using the deepest prefix reached.
    prefix = [node_op[f] if f > 0 else u_op[-f] for f in best]
    return False, _explain(key, ops, init_state, prefix), explored


def _explain(key, ops: list[Op], init_state, prefix: list[int], show: int = 20) -> str:
    completed = [i for i, op in enumerate(ops) if op.complete is not None]
    placed = set(prefix)
    lines = ['key %r is NOT linearizable (%d constraining ops, %d with a known outcome).'
             % (key, len(ops), len(completed)),
             'Longest linearizable prefix found: %d ops (%d of %d completed ops placed).'
             % (len(prefix), sum(1 for i in prefix if ops[i].complete is not None), len(completed))]
    state = tuple(init_state)
    trail = []
    for i in prefix:
        _, state, _ = _raw_step(state, ops[i])
        trail.append('  %s   => register (%r, %r)' % (ops[i].describe(), state[0], state[1]))
    lines.append('Initial register state: (%r, %r)' % (init_state[0], init_state[1]))
    if len(trail) > show:
        lines.append('  ... %d earlier ops of the prefix omitted ...' % (len(trail) - show))
    lines.extend(trail[-show:])
    lines.append('Register state after the prefix: (%r, %r)' % (state[0], state[1]))
    pending = [i for i in completed if i not in placed]
    if not pending:
        return '\n'.join(lines)
    stranded = [i for i in pending if _pin(ops[i]) < state[1]]
    if stranded:
        lines.append('These ops can no longer be placed: each needs an older version than the '
                     'register holds, and versions never decrease:')
        for i in stranded[:show]:
            op = ops[i]
            if op.kind == 'read':
                need = 'read returned (%r, %r)' % (op.result_value, op.result_version)
            elif op.kind == 'cas':
                need = 'cas expected version %r' % (op.expected_version,)
            else:
                need = 'write reported version %r' % (op.result_version,)
            lines.append('  - %s: %s but the register is already at version %r'
                         % (op.describe(), need, state[1]))
        if len(stranded) > show:
            lines.append('  ... and %d more' % (len(stranded) - show))
        return '\n'.join(lines)
    deadline = min(ops[i].complete for i in pending)
    blocking = [i for i in pending if ops[i].complete == deadline]
    lines.append('These ops could not be placed next (the next one must be linearized before %.6f, '
                 'when %s returned):' % (deadline, ops[blocking[0]].describe()))
    candidates = [i for i in pending if ops[i].invoke <= deadline]
    for i in candidates[:show]:
        legal, _, reason = _raw_step(state, ops[i])
        if legal:
            reason = 'legal here, but every continuation after it leads to a dead end'
        lines.append('  - %s: %s' % (ops[i].describe(), reason))
    if len(candidates) > show:
        lines.append('  ... and %d more' % (len(candidates) - show))
    optional = sum(1 for i, op in enumerate(ops)
                   if op.complete is None and i not in placed and op.invoke <= deadline)
    if optional:
        lines.append('(%d unplaced unknown-outcome ops invoked by then were also tried at every '
                     'point and could not help.)' % optional)
    return '\n'.join(lines)


def check(history: Iterable[Op], initial: Any = (None, 0), max_states: int = 2_000_000) -> CheckResult:
    """Check that ``history`` is linearizable, key by key.

    ``initial`` is the register state ``(value, version)`` of every key before the history, or a
    mapping key -> ``(value, version)`` (every key of the history must then be present).
    ``max_states`` bounds the number of (bitmask, state) configurations explored per key; when a
    key exceeds it the result for that key is inconclusive (``ok=None``) instead of running on.

    Keys are checked in order of their first invocation; checking stops at the first key that is
    not linearizable. The result is ok=False if some key failed, else ok=None if some key was
    inconclusive, else ok=True. Raises ValueError on malformed ops (unknown kind, cas without
    expected_version, completion before invocation, completed op with ok=None).
    """
    history = list(history)
    by_key: dict[str, list[Op]] = {}
    for op in sorted(history, key=lambda o: o.invoke):
        _validate(op)
        by_key.setdefault(op.key, []).append(op)
    per_key: dict = {}
    checked = 0
    states = 0
    first_inconclusive = None
    inconclusive_text = ''
    for key, ops in by_key.items():
        init_state = _initial_for(initial, key)
        ok, text, explored = _check_key(key, ops, init_state, max_states)
        per_key[key] = ok
        checked += len(ops)
        states += explored
        if ok is False:
            return CheckResult(False, key, text, checked, per_key, states)
        if ok is None and first_inconclusive is None:
            first_inconclusive, inconclusive_text = key, text
    if first_inconclusive is not None:
        return CheckResult(None, first_inconclusive, inconclusive_text, checked, per_key, states)
    return CheckResult(True, None, 'linearizable: %d ops over %d keys (%d states explored)'
                       % (checked, len(by_key), states), checked, per_key, states)


def lost_acknowledged_writes(history: Iterable[Op], final_state: Mapping[str, Any]) -> list[Op]:
    """Acknowledged successful writes / cas whose effect the final state has lost.

    ``final_state`` maps key -> ``(value, version)`` as read back after the test (quiesced,
    healed). Versions only grow, so for every key the final version must be at least the version
    each acknowledged successful write or cas reported (``result_version``, or
    ``expected_version + 1`` for a cas that did not record it). Returns, in invocation order, the
    acknowledged ops whose version exceeds the final version of their key; a key missing from
    ``final_state`` (or mapped to None) counts as lost entirely. Acknowledged writes that
    recorded no version cannot be judged and are skipped.
    """
    lost = []
    for op in history:
        if op.kind not in ('write', 'cas') or op.complete is None or not op.ok:
            continue
        version = op.result_version
        if version is None and op.kind == 'cas' and op.expected_version is not None:
            version = op.expected_version + 1
        if version is None:
            continue
        final = final_state.get(op.key)
        if final is None or final[1] is None or final[1] < version:
            lost.append(op)
    lost.sort(key=lambda o: o.invoke)
    return lost
