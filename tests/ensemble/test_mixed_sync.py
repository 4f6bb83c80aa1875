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
from mixed_ensemble import (ApacheMember, PaddockServerMember, ensemble, four_letter, log_tail, pause,  # noqa: E402
                            settled, srvr_field, stop, wait_for, zxid_of)

TICK_MS = 200
# Every wait below is bounded by this many seconds.
WAIT_S = 90
# The session that writes the never-committed proposal outlives the TRUNC step. The restarted
# leader restores it and, once it expires, commits its closeSession: the first txn of the new
# epoch. A learner whose last zxid is of the old epoch then cannot be TRUNCated (ZooKeeper's
# LearnerHandler.queueCommittedProposals: "Cannot send TRUNC to peer ... peer zxid is from
# different epoch") and gets a SNAP. With the default maxSessionTimeout (20 ticks, 4 s) that
# raced member 3's restart. Expiry must come after the waits between the leader's restart and
# member 3's sync (the leader settling, then member 3 syncing), so nothing commits in between.
PENDING_SESSION_TIMEOUT_S = 4 * WAIT_S
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
                 and says in log_text(learner)[since:], WAIT_S, 'member %d synced by %s' % (learner.sid, mode))
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
    # maxSessionTimeout lets PENDING_SESSION_TIMEOUT_S be granted (the default is 20 ticks).
    extra = ['snapCount=100', 'maxSessionTimeout=%d' % (PENDING_SESSION_TIMEOUT_S * 1000)]
    with ensemble(layout, tick_ms=TICK_MS, extra=extra) as members:
        one, two, three = members
        # Member 3, the learner-to-be, leads first. Histories are empty, so among 1 and 3 alone
        # the larger id is the only vote both accept, whichever process starts first; with all
        # three started at once, 1 and 2 could elect 2 before a slower-starting 3 (a JVM) votes.
        three.start()
        one.start()
        wait_for(lambda: settled([one, three]) is three, WAIT_S, 'member 3 leading 1')
        two.start()
        wait_for(lambda: settled(members) is three, WAIT_S, 'member 3 leading')
        c = client_of(three)
        try:
            c.create('/sync/base', b'committed', makepath=True)
        finally:
            c.stop()
            c.close()

        # TRUNC: member 3 logs a proposal while the others are paused; then all three are
        # killed (the paused ones never read it from their sockets) and 1 and 2 restart first.
        # (The session first: creating one needs a quorum too. It must not expire before member 3
        # is synced: see PENDING_SESSION_TIMEOUT_S.)
        c = KazooClient(hosts=three.address, timeout=PENDING_SESSION_TIMEOUT_S)
        c.start(timeout=30)
        granted = 'to=%d,' % (PENDING_SESSION_TIMEOUT_S * 1000)
        assert granted in four_letter(three.client_port, 'cons'), four_letter(three.client_port, 'cons')
        # Only once every thread of 1 and 2 is stopped: a thread that still runs would log the
        # proposal (and ACK it), and the new leader would then have it and sync member 3 by DIFF.
        for m in (one, two):
            pause(m)
        c.create_async('/sync/never-committed', b'lost')
        wait_for(lambda: bytes_in_dir(three.data, b'/sync/never-committed'), 30, 'member 3 to log the proposal')
        for m in (one, two, three):
            stop(m, signal.SIGKILL)
        c.stop()
        c.close()
        for m in (one, two):
            assert not bytes_in_dir(m.data, b'/sync/never-committed'), 'member %d logged the proposal' % m.sid
        for m in (one, two):
            m.start()
        wait_for(lambda: settled([one, two]) is two, WAIT_S, 'member 2 leading 1')
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
        # No member counted a digest mismatch: ZooKeeper's words, then Paddock's.
        for m in members:
            assert 'Digests are not matching' not in log_text(m), m.sid
            assert 'digest mismatch' not in log_text(m), m.sid


@pytest.mark.parametrize('leader_kind,learner_kind', [(ApacheMember, PaddockServerMember),
                                                      (PaddockServerMember, ApacheMember)],
                         ids=['apache-leads-paddock', 'paddock-leads-apache'])
def test_trunc_diff_and_snap_across_implementations(leader_kind, learner_kind):
    sync_every_way(leader_kind, learner_kind)
