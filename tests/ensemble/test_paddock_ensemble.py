"""Paddock ensembles of real `paddock server` processes: election, replication through any
member, failover after kill -9 of the leader, a restarted member caught up by DIFF and a far
behind one by SNAP, observers, a minority that stops serving, sessions that move between members
and expire once on every member. Every wait is bounded; each test counts what it checks."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from paddock_ensemble import BINARY, ROOT, PaddockEnsemble, claim_ports, four_letter, wait_for  # noqa: E402


@pytest.fixture
def root():
    with tempfile.TemporaryDirectory(prefix='paddock-ensemble-') as directory:
        yield directory


@pytest.fixture
def ensemble(root):
    group = PaddockEnsemble(root, voters=3)
    group.start_all()
    yield group
    group.close()


def client(hosts, timeout=10.0, **kwargs):
    c = KazooClient(hosts=hosts, timeout=timeout, **kwargs)
    c.start(timeout=30)
    return c


def tree_of(c, path='/'):
    """Every znode under path (except /zookeeper) with its data."""
    nodes = {}
    for child in c.get_children(path):
        full = (path.rstrip('/') + '/' + child)
        if full == '/zookeeper':
            continue
        data, _ = c.get(full)
        nodes[full] = data
        nodes.update(tree_of(c, full))
    return nodes


def dump(member):
    """The member's log as (zxid, rest-of-line) pairs, from the offline tool."""
    out = subprocess.run([BINARY, 'data', 'dump', member.data], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line.startswith('0x')]


def test_writes_through_any_member_reach_every_member(ensemble):
    leader = ensemble.leader()
    assert sorted(m.mode() for m in ensemble.members) == ['follower', 'follower', 'leader']
    clients = [client(m.address) for m in ensemble.members]
    try:
        written = 0
        for i, c in enumerate(clients):
            for j in range(20):
                c.create('/m%d-%d' % (i, j), b'%d' % j)
                written += 1
        clients[0].set('/m2-3', b'changed')
        for c in clients:
            c.sync('/')
        trees = [tree_of(c) for c in clients]
        assert len(trees[0]) == written == 60
        assert trees[0] == trees[1] == trees[2]
        assert trees[0]['/m2-3'] == b'changed'
        assert 'Mode: leader' in four_letter(leader.client_port, 'srvr')
        def mntr(member):
            return dict(line.split('\t', 1) for line in four_letter(member.client_port, 'mntr').splitlines() if '\t' in line)
        led = mntr(leader)
        assert led['zk_server_state'] == 'leader' and led['zk_peer_state'] == 'leading - broadcast'
        assert led['zk_learners'] == '2' and led['zk_synced_followers'] == '2' and led['zk_synced_observers'] == '0'
        assert led['zk_pending_syncs'] == '0' and led['zk_quorum_size'] == '3'
        assert int(led['zk_cnt_election_time']) >= 1 and int(led['zk_cnt_leader_sync_time']) >= 1
        for m in ensemble.members:
            if m is not leader:
                rows = mntr(m)
                assert rows['zk_server_state'] == 'follower' and rows['zk_peer_state'] == 'following - broadcast'
                assert int(rows['zk_cnt_follower_sync_time']) >= 1 and 'zk_synced_followers' not in rows
        hashes = {four_letter(m.client_port, 'hash') for m in ensemble.members}
        assert len(hashes) == 1, hashes
    finally:
        for c in clients:
            c.stop()
    # Every member logged the same txns in the same order (the offline tool reads each log). The
    # sessions' closes were acknowledged once a quorum had them: the kill waits for the third.
    wait_for(lambda: len({four_letter(m.client_port, 'srvr').partition('Zxid: ')[2].split('\n')[0] for m in ensemble.members}) == 1,
             30, 'every member at the same zxid')
    ensemble.close()
    logs = [dump(m) for m in ensemble.members]
    assert len(logs[0]) >= 60
    assert logs[0] == logs[1] == logs[2]
    for m in ensemble.members:
        verify = subprocess.run([BINARY, 'data', 'verify', m.data], capture_output=True, text=True, timeout=60)
        assert verify.returncode == 0, verify.stdout + verify.stderr


def test_leader_killed_then_new_leader_serves_and_old_one_catches_up_by_diff(ensemble):
    old = ensemble.leader()
    c = client(ensemble.connect_string)
    try:
        acked = []
        for i in range(50):
            c.create('/before-%d' % i, b'x')
            acked.append('/before-%d' % i)
        ensemble.kill(old)
        new = ensemble.wait_settled(timeout=60)
        assert new.sid != old.sid
        deadline = time.monotonic() + 60
        while True:
            try:
                c.create('/after', b'y')
                break
            except Exception:
                assert time.monotonic() < deadline, 'no write succeeded after the leader was killed'
                time.sleep(0.05)
        for i in range(50):
            c.create('/after-%d' % i, b'z')
        ensemble.start(old)
        wait_for(lambda: old.mode() == 'follower', 60, 'the old leader to follow')
        assert "installed the leader's snapshot" not in old.log(), 'a member 50 txns behind is caught up by DIFF'
        back = client(old.address)
        try:
            back.sync('/')
            tree = tree_of(back)
            assert all(path in tree for path in acked), 'an acknowledged write was lost'
            assert '/after' in tree and '/after-49' in tree
        finally:
            back.stop()
    finally:
        c.stop()


def test_member_far_behind_is_caught_up_by_snap(ensemble):
    leader = ensemble.leader()
    follower = [m for m in ensemble.members if m is not leader][0]
    ensemble.stop(follower)
    c = client(leader.address)
    try:
        # More than the 500 committed txns the leader keeps for DIFF.
        for i in range(700):
            c.create_async('/far-%d' % i, b'%d' % i)
        c.sync('/')
        wait_for(lambda: len(c.get_children('/')) >= 701, 60, 'the writes to commit')
        ensemble.start(follower)
        wait_for(lambda: follower.mode() == 'follower', 60, 'the restarted member to follow')
        assert "installed the leader's snapshot" in follower.log()
        back = client(follower.address)
        try:
            back.sync('/')
            assert len([n for n in back.get_children('/') if n.startswith('far-')]) == 700
            assert back.get('/far-699')[0] == b'699'
            back.create('/after-snap', b'')
        finally:
            back.stop()
    finally:
        c.stop()
    # The snapshot it installed is on disk: it restarts from it with everything.
    ensemble.stop(follower)
    ensemble.start(follower)
    wait_for(lambda: follower.mode() == 'follower', 60, 'the member to follow again')
    again = client(follower.address)
    try:
        again.sync('/')
        assert again.exists('/far-0') is not None and again.exists('/after-snap') is not None
    finally:
        again.stop()


def test_snap_streamed_while_writes_continue_ends_at_the_leaders_digest(ensemble):
    """The leader streams its snapshot from the live tree while clients keep writing (creates,
    sets, deletes): the learner's fuzzy tree plus the txns after the stream's start must give the
    leader's tree exactly. The leader's log says how many messages waited behind the stream (the
    writes that landed meanwhile); the test needs some, then compares every member's digest."""
    import threading
    leader = ensemble.leader()
    follower = [m for m in ensemble.members if m is not leader][0]
    ensemble.stop(follower)
    c = client(leader.address)
    stop = threading.Event()
    written = []
    writing = threading.Event()
    try:
        c.create('/fuzzy', b'')
        for batch in range(20):
            for r in [c.create_async('/fuzzy/n%d-%d' % (batch, i), b'x' * 50) for i in range(1000)]:
                r.get(timeout=60)

        def writer():
            w = client(leader.address)
            try:
                i = 0
                while not stop.is_set():
                    ops = [w.create_async('/fuzzy/w%d' % i, b'w'), w.set_async('/fuzzy/n%d-%d' % (i % 20, i % 1000), b'%d' % i),
                           w.delete_async('/fuzzy/n%d-%d' % ((i + 7) % 20, (i * 13) % 1000))]
                    for r in ops:
                        try:
                            r.get(timeout=30)
                        except NoNodeError:
                            pass
                    i += 1
                    writing.set()
                written.append(i)
            finally:
                w.stop()

        thread = threading.Thread(target=writer)
        thread.start()
        # The writer is under way before the follower's sync begins.
        wait_for(writing.is_set, 60, 'the writer to complete a round of writes')
        ensemble.start(follower)
        wait_for(lambda: follower.mode() == 'follower', 120, 'the restarted member to follow')
        stop.set()
        thread.join(timeout=60)
        assert written and written[0] > 0, 'the writer made no writes'
        assert "installed the leader's snapshot" in follower.log()
        held = [line for line in leader.log().splitlines() if 'sent the snapshot at' in line]
        assert held, 'the leader logged no snapshot stream'
        waited = int(held[-1].rsplit('then ', 1)[1].split()[0])
        assert waited > 0, 'no write landed while the snapshot was streamed: %s' % held[-1]
        c.sync('/')
        wait_for(lambda: len(set(four_letter(m.client_port, 'hash').strip() for m in ensemble.members)) == 1
                 and all(four_letter(m.client_port, 'hash').strip() for m in ensemble.members),
                 30, 'every member at the same digest: %s' % [four_letter(m.client_port, 'hash') for m in ensemble.members])
    finally:
        stop.set()
        c.stop()


def test_minority_stops_serving_and_majority_restores_it(ensemble):
    leader = ensemble.leader()
    others = [m for m in ensemble.members if m is not leader]
    survivor = others[0]
    ensemble.kill(leader)
    ensemble.kill(others[1])
    wait_for(lambda: 'not currently serving' in four_letter(survivor.client_port, 'srvr'), 60,
             'the lone member to stop serving')
    with pytest.raises(Exception):
        c = KazooClient(hosts=survivor.address, timeout=2)
        try:
            c.start(timeout=3)
        finally:
            c.stop()
    ensemble.start(others[1])
    ensemble.wait_settled(timeout=60, members=[survivor, others[1]])
    c = client(survivor.address)
    try:
        c.create('/majority-again', b'')
        assert c.exists('/majority-again') is not None
    finally:
        c.stop()


def test_session_moves_between_members_and_its_ephemerals_expire_once_everywhere(root):
    ensemble = PaddockEnsemble(root, voters=3, tick_ms=500)
    try:
        ensemble.start_all()
        first, second, third = ensemble.members
        # A client in another process creates an ephemeral through one member, then moves its
        # session to another member, then dies without closing it.
        script = r'''
import sys, time
from kazoo.client import KazooClient
a = KazooClient(hosts=sys.argv[1], timeout=8.0); a.start(timeout=30)
a.create('/owner', b'', ephemeral=True)
sid, password = a.client_id
b = KazooClient(hosts=sys.argv[2], timeout=8.0, client_id=(sid, password)); b.start(timeout=30)
assert b.client_id[0] == sid
b.create('/owner2', b'', ephemeral=True)
print('%x' % sid, flush=True)
import os; os._exit(0)
'''
        out = subprocess.run([sys.executable, '-c', script, first.address, second.address],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        session = int(out.stdout.split()[-1], 16)
        assert session >> 56 in (1, 2, 3), 'session ids carry the creating member id'
        c = client(third.address)
        try:
            c.sync('/')
            assert c.exists('/owner') and c.exists('/owner2')
            wait_for(lambda: c.sync('/') is not None and c.exists('/owner') is None and c.exists('/owner2') is None,
                     60, 'the dead session to expire')
        finally:
            c.stop()
        for m in ensemble.members:
            view = client(m.address)
            try:
                view.sync('/')
                assert view.exists('/owner') is None and view.exists('/owner2') is None
            finally:
                view.stop()
        ensemble.close()
        for m in ensemble.members:
            closes = [line for line in dump(m) if 'session 0x%x ' % session in line and 'closeSession' in line]
            assert len(closes) == 1, (m.sid, closes)
    finally:
        ensemble.close()


def test_observer_serves_reads_and_forwards_writes(root):
    ensemble = PaddockEnsemble(root, voters=3, observers=1)
    try:
        ensemble.start_all()
        observer = ensemble.members[3]
        assert observer.mode() == 'observer'
        c = client(observer.address)
        try:
            for i in range(10):
                c.create('/via-observer-%d' % i, b'o')
            c.sync('/')
            assert len([n for n in c.get_children('/') if n.startswith('via-observer')]) == 10
        finally:
            c.stop()
        # Observers do not vote: with two of three voters gone nothing commits, and the
        # observer stops serving like everyone else.
        leader = ensemble.leader()
        voters = [m for m in ensemble.members[:3] if m is not leader]
        ensemble.kill(leader)
        ensemble.kill(voters[0])
        wait_for(lambda: observer.mode() is None, 60, 'the observer to stop serving without a quorum')
    finally:
        ensemble.close()


def tool_ensemble_base_port(members):
    """A base port for `tools/ensemble up` (member N: client base+N, quorum base+100+N, election
    base+200+N, admin base+300+N) whose every port is free now and was never handed out to
    another member of this process; they are marked handed out."""
    import random
    for _ in range(1000):
        base = random.randrange(20000, 31600, 100)  # below Linux's ephemeral range (32768-60999)
        if claim_ports([base + offset + n for offset in (0, 100, 200, 300) for n in range(1, members + 1)]):
            return base
    raise AssertionError('no free block of ports for tools/ensemble after 1000 tries')


def test_tools_ensemble_up_status_down(root):
    directory = os.path.join(root, 'ens')
    base = tool_ensemble_base_port(4)
    tool = os.path.join(ROOT, 'tools', 'ensemble')
    up = subprocess.run([tool, 'up', '3', '--observers', '1', '--dir', directory, '--binary', BINARY,
                         '--base-port', str(base), '--admin-base-port', str(base + 300), '--tick-time', '500'],
                        capture_output=True, text=True, timeout=120)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        roles = [line.split()[4] for line in up.stdout.splitlines() if line.startswith('member ')]
        assert sorted(roles) == ['follower', 'follower', 'leader', 'observer'], up.stdout
        assert 'connect string: 127.0.0.1:%d' % (base + 1) in up.stdout
        status = subprocess.run([tool, 'status', '--dir', directory], capture_output=True, text=True, timeout=60)
        assert status.returncode == 0 and status.stdout.count('running') == 4, status.stdout
    finally:
        down = subprocess.run([tool, 'down', '--dir', directory], capture_output=True, text=True, timeout=120)
    assert down.returncode == 0 and down.stdout.count('stopped') == 4, down.stdout + down.stderr
    with open(os.path.join(directory, 'ensemble.json')) as f:
        pids = [m['pid'] for m in json.load(f)['members']]
    for pid in pids:
        assert not os.path.exists('/proc/%d/status' % pid) or 'zombie' in open('/proc/%d/status' % pid).read()


def quorum_packet(kind, zxid, data=b''):
    """A jute QuorumPacket: int type, long zxid, buffer data, vector<Id> authinfo (empty)."""
    import struct
    return struct.pack('>iqi', kind, zxid, len(data)) + data + struct.pack('>i', 0)


def test_hostile_learner_on_the_quorum_port_cannot_crash_the_leader(ensemble):
    """A process that connects to the leader's quorum port claiming a follower's id and sends
    ACKs of absurd zxids, malformed requests and noise only loses its own connection."""
    import random
    import socket
    import struct
    leader = ensemble.leader()
    victim = [m for m in ensemble.members if m is not leader][0]
    ensemble.kill(victim)
    c = client(leader.address)
    rng = random.Random(7)
    sent = 0
    try:
        for round_ in range(12):
            # Proposals outstanding while the hostile ACKs arrive.
            for i in range(20):
                c.create_async('/hostile-%d-%d' % (round_, i), b'x')
            with socket.create_connection(('127.0.0.1', leader.quorum_port), timeout=5) as s:
                learner_info = struct.pack('>qiq', victim.sid, 0x10000, 0)
                s.sendall(quorum_packet(11, 0, learner_info))
                packets = [
                    quorum_packet(18, 0, struct.pack('>i', -1)),                  # ACKEPOCH
                    quorum_packet(3, -(1 << 63)),                                  # ACK, Int64.min
                    quorum_packet(3, (1 << 63) - 1),                               # ACK, Int64.max
                    quorum_packet(3, rng.randrange(-(1 << 63), 1 << 63)),
                    quorum_packet(1, 0, bytes(rng.randrange(256) for _ in range(rng.randrange(40)))),  # REQUEST
                    quorum_packet(6, 0, b'\x00\x01'),                               # REVALIDATE, short
                    quorum_packet(5, 0, bytes(rng.randrange(256) for _ in range(rng.randrange(40)))),  # PING
                    bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
                ]
                for packet in packets:
                    try:
                        s.sendall(packet)
                        sent += 1
                    except OSError:
                        break
        assert sent > 12
        c.sync('/')
        wait_for(lambda: leader.proc.poll() is None and leader.mode() == 'leader', 30, 'the leader to keep leading')
        c.create('/after-hostile', b'')
        assert len([n for n in c.get_children('/') if n.startswith('hostile-')]) == 240
    finally:
        c.stop()


def test_seven_voters_and_an_observer(root):
    """The largest ensemble the issue names: 7 voters plus an observer elect one leader, writes
    through every member reach all of them, and after kill -9 of the leader and of two more
    voters the remaining four (a majority of seven) elect again and keep every acknowledged write."""
    ensemble = PaddockEnsemble(root, voters=7, observers=1)
    try:
        ensemble.start_all(timeout=120)

        # One look at every member's mode (a member may still be moving between roles right
        # after the first settled moment on a loaded machine: wait, bounded, for a whole picture).
        def six_followers_and_the_observer():
            modes = [m.mode() for m in ensemble.members]
            return modes.count('leader') == 1 and modes.count('follower') == 6 and modes[7] == 'observer'
        wait_for(six_followers_and_the_observer, 60, 'one leader, six followers and the observer')
        acked = []
        for m in ensemble.members:
            c = client(m.address)
            try:
                for i in range(5):
                    c.create('/seven-%d-%d' % (m.sid, i), b'')
                    acked.append('/seven-%d-%d' % (m.sid, i))
            finally:
                c.stop()
        leader = ensemble.leader()
        others = [m for m in ensemble.members[:7] if m is not leader]
        for victim in [leader] + others[:2]:
            ensemble.kill(victim)
        survivors = [m for m in ensemble.members if m.proc is not None]
        ensemble.wait_settled(timeout=120, members=survivors)
        for m in survivors:
            c = client(m.address)
            try:
                c.sync('/')
                present = {'/' + n for n in c.get_children('/')}
                assert all(path in present for path in acked), 'member %d lost an acknowledged write' % m.sid
            finally:
                c.stop()
        assert len(acked) == 40
    finally:
        ensemble.close()
