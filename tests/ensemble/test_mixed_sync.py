"""Every sync mode across the two implementations, both ways: a learner of one kind is brought
up to date by a leader of the other by TRUNC (it logged a proposal no quorum accepted, then
lost its leadership), DIFF (it missed a few txns) and SNAP (it missed more than the leader
keeps for DIFF). Members 1 and 2 are of the leader's kind, member 3 of the learner's. Each sync
is checked in the learner's own log (ZooKeeper's words or Paddock's) and by reading its tree.
Every wait is bounded."""

import os
import signal
import sys

import pytest
from kazoo.client import KazooClient

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mixed_ensemble import (ApacheMember, PaddockServerMember, ensemble, log_tail, settled, srvr_field,  # noqa: E402
                            stop, wait_for, zxid_of)

TICK_MS = 200
# How each kind's learner names the sync mode in its log.
LEARNER_SAYS = {
    ApacheMember: {'TRUNC': 'Truncating log to get in sync with the leader', 'DIFF': 'Getting a diff from the leader',
                   'SNAP': 'Getting a snapshot from leader'},
    PaddockServerMember: {'TRUNC': 'syncs us by TRUNC', 'DIFF': 'syncs us by DIFF', 'SNAP': 'syncs us by SNAP'},
}


def client_of(member):
    client = KazooClient(hosts=member.address, timeout=10)
    client.start(timeout=30)
    return client


def log_text(member):
    with open(member.log_path, errors='replace') as f:
        return f.read()


def bytes_in_dir(directory, needle):
    for root, _, files in os.walk(directory):
        for name in files:
            try:
                with open(os.path.join(root, name), 'rb') as f:
                    if needle in f.read():
                        return True
            except OSError:
                pass
    return False


def wait_synced(members, learner, mode, since):
    """`learner` follows again, after saying in its log (past offset `since`) that it was
    synced by `mode`."""
    says = LEARNER_SAYS[type(learner)][mode]
    try:
        wait_for(lambda: settled(members) is not None and srvr_field(learner, 'Mode') == 'follower'
                 and says in log_text(learner)[since:], 90, 'member %d synced by %s' % (learner.sid, mode))
    except AssertionError:
        for m in members:
            print('--- member %d (%s, mode %s):\n%s' % (m.sid, type(m).__name__, srvr_field(m, 'Mode'), log_tail(m)))
        raise


def read_back(member):
    client = client_of(member)
    try:
        client.sync('/')
        children = set(client.get_children('/sync'))
        big = client.get('/sync/big')[0] if 'big' in children else None
        return children, big
    finally:
        client.stop()
        client.close()


def sync_every_way(leader_kind, learner_kind):
    layout = [(leader_kind, 1, False), (leader_kind, 2, False), (learner_kind, 3, False)]
    # snapCount=100: logs roll often, so ZooKeeper's leader cannot serve a far-behind learner
    # from its log files (their size counts against a third of its snapshot's) and sends SNAP.
    with ensemble(layout, tick_ms=TICK_MS, extra=['snapCount=100']) as members:
        one, two, three = members
        for m in members:
            m.start()
        # Empty histories: the largest id, the learner-to-be, leads first.
        wait_for(lambda: settled(members) is three, 90, 'member 3 leading')
        c = client_of(three)
        try:
            c.create('/sync/base', b'committed', makepath=True)
        finally:
            c.stop()
            c.close()

        # TRUNC: member 3 logs a proposal while the others are paused; then all three are
        # killed (the paused ones never read it from their sockets) and 1 and 2 restart first.
        # (The session first: creating one needs a quorum too.)
        c = KazooClient(hosts=three.address, timeout=10)
        c.start(timeout=30)
        for m in (one, two):
            m.proc.send_signal(signal.SIGSTOP)
        c.create_async('/sync/never-committed', b'lost')
        wait_for(lambda: bytes_in_dir(three.data, b'/sync/never-committed'), 30, 'member 3 to log the proposal')
        for m in (one, two, three):
            stop(m, signal.SIGKILL)
        c.stop()
        c.close()
        for m in (one, two):
            m.start()
        wait_for(lambda: settled([one, two]) is two, 90, 'member 2 leading 1')
        since = len(log_text(three))
        three.start()
        wait_synced(members, three, 'TRUNC', since)
        children, _ = read_back(three)
        assert 'base' in children and 'never-committed' not in children, children

        # DIFF: member 3 misses a few txns.
        stop(three)
        c = client_of(two)
        try:
            for i in range(50):
                c.create('/sync/diff-%02d' % i, b'd')
        finally:
            c.stop()
            c.close()
        since = len(log_text(three))
        three.start()
        wait_synced(members, three, 'DIFF', since)
        children, _ = read_back(three)
        assert {'diff-%02d' % i for i in range(50)} <= children

        # SNAP: more txns than the leader keeps for DIFF (500), over several log files.
        stop(three)
        c = client_of(two)
        try:
            c.create('/sync/big', b'')
            value = os.urandom(20 * 1024)
            for i in range(700):
                c.set_async('/sync/big', value[:-1] + bytes([i % 256]))
            c.sync('/')
            last = value[:-1] + bytes([699 % 256])
            wait_for(lambda: c.get('/sync/big')[0] == last, 60, 'the sets to commit')
        finally:
            c.stop()
            c.close()
        since = len(log_text(three))
        three.start()
        wait_synced(members, three, 'SNAP', since)
        children, big = read_back(three)
        assert 'base' in children and 'diff-49' in children and big == last
        assert zxid_of(three) is not None
        for m in members:
            assert 'Digests are not matching' not in log_text(m), m.sid


@pytest.mark.parametrize('leader_kind,learner_kind', [(ApacheMember, PaddockServerMember),
                                                      (PaddockServerMember, ApacheMember)],
                         ids=['apache-leads-paddock', 'paddock-leads-apache'])
def test_trunc_diff_and_snap_across_implementations(leader_kind, learner_kind):
    sync_every_way(leader_kind, learner_kind)
