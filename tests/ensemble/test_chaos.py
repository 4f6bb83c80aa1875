"""Bounded chaos runs against real 3- and 5-member Paddock ensembles (tests/ensemble/chaos.py):
kill -9, SIGSTOP/SIGCONT and restarts of members (the leader included), partitions and one-way
link cuts, dying sessions; the history must be linearizable, no acknowledged write lost, every
member at the same digest, every dead session's ephemerals gone everywhere and closed once.
Longer runs: tools/chaos --minutes N. A failure prints its seed: CHAOS_SEED=N replays the plan."""

import os
import random
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chaos  # noqa: E402

SECONDS = int(os.environ.get('CHAOS_SECONDS', '40'))


@pytest.mark.parametrize('members', [3, 5])
def test_chaos(members):
    seed = int(os.environ.get('CHAOS_SEED', random.randrange(1 << 30)))
    outcome = chaos.run(members=members, seconds=SECONDS, seed=seed)
    assert outcome['acked'] > 0 and outcome['reads'] > 0 and outcome['sessions'] > 0
    assert sum(outcome['faults'][k] for k in ('kill', 'pause', 'partition', 'one-way')) >= 4
    assert not outcome['problems'], 'seed %d: %s' % (seed, outcome['problems'])
