"""Paddock's ZAB core against Apache ZooKeeper 3.8 itself, over real TCP: two Apache members and
`paddock debug zab-peer` (Paddock's election and quorum ports around the real ZabNode, with an
in-memory log) form a three-member ensemble. Paddock must take part in fast leader election,
follow the Apache leader through discovery and sync, apply every committed txn, and acknowledge
proposals so that, with the other Apache follower killed, the leader and Paddock still make a
quorum and writes still commit. Every wait is bounded."""

import os
import signal
import socket
import sys
import time

import pytest
from kazoo.client import KazooClient

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mixed_ensemble import (TICK_MS, ApacheMember, PaddockPeer, PaddockServerMember, ensemble,  # noqa: E402
                            settled, wait_for)


def test_paddock_follows_an_apache_leader_and_its_acks_make_the_quorum():
    with ensemble([(PaddockPeer, 1, False), (ApacheMember, 2, False), (ApacheMember, 3, False)]) as members:
        follow_an_apache_leader(members[0], members[1:])


def start_apache_three_first(paddock, apache):
    """Apache member 3 (`apache[1]`) leads Paddock, then Apache member 2 (`apache[0]`) joins it."""
    apache[1].start()
    wait_for(lambda: apache[1].mode() == 'leader', 60, 'Apache 3 leading')
    wait_for(lambda: paddock.last_role() == 'following 3', 30, 'Paddock following 3 (roles seen: %s)' % paddock.lines)
    apache[0].start()
    wait_for(lambda: apache[0].mode() == 'follower', 60, 'Apache 2 following')
    assert apache[1].mode() == 'leader'


def follow_an_apache_leader(paddock, apache):
    paddock.start()
    # With empty logs the largest id wins the election: Apache member 3 leads, 2 and Paddock follow.
    # 3 starts first: had both JVMs started together, Paddock and whichever came up first would
    # make a quorum, and 2 could lead if 3 came up more than finalizeWait (200 ms) later.
    start_apache_three_first(paddock, apache)
    leader = apache[1]
    client = KazooClient(hosts='127.0.0.1:%d' % leader.client_port, timeout=10)
    client.start(timeout=30)
    try:
        for i in range(20):
            client.create('/mixed/a%02d' % i, b'x' * i, makepath=True)
        target = leader.zxid()
        wait_for(lambda: paddock.applied_zxid() >= target, 30, 'Paddock to apply through 0x%x' % target)
        # Without Apache's other follower, only Paddock's ACKs can make the quorum.
        apache[0].proc.send_signal(signal.SIGKILL)
        apache[0].proc.wait(timeout=30)
        for i in range(10):
            client.create('/mixed/b%02d' % i, b'y', makepath=True)
        target = leader.zxid()
        assert leader.mode() == 'leader'
        wait_for(lambda: paddock.applied_zxid() >= target, 30, 'Paddock to apply through 0x%x' % target)
        assert len(client.get_children('/mixed')) == 30
    finally:
        client.stop()
        client.close()
    applied = [line for line in paddock.read_lines() if line.startswith('paddock: applied ')]
    assert applied, 'Paddock applied nothing'


def test_paddock_observes_an_apache_ensemble():
    """OBSERVERINFO, sync and INFORM: Paddock as a non-voting observer of three Apache voters
    applies every committed txn; the ensemble's quorum never depends on it."""
    with ensemble([(ApacheMember, 1, False), (ApacheMember, 2, False), (ApacheMember, 3, False), (PaddockPeer, 4, True)]) as members:
        apache, paddock = members[:3], members[3]
        for m in apache:
            m.start()
        paddock.start()
        leader = wait_for(lambda: next((m for m in apache if m.mode() == 'leader'), None), 60, 'an Apache leader')
        wait_for(lambda: paddock.last_role() == 'observing %d' % leader.sid, 30,
                 'Paddock observing %d (roles seen: %s)' % (leader.sid, paddock.lines))
        client = KazooClient(hosts='127.0.0.1:%d' % leader.client_port, timeout=10)
        client.start(timeout=30)
        try:
            for i in range(25):
                client.create('/observed/n%02d' % i, b'z', makepath=True)
            target = leader.zxid()
        finally:
            client.stop()
            client.close()
        wait_for(lambda: paddock.applied_zxid() >= target, 30, 'Paddock (observer) to apply through 0x%x' % target)
        assert paddock.last_role() == 'observing %d' % leader.sid


def test_apache_members_follow_a_paddock_leader():
    """Discovery and sync run the other way: with equal (empty) histories the largest id wins,
    so Paddock (sid 3) leads and the two Apache members must follow it through FOLLOWERINFO,
    LEADERINFO, ACKEPOCH, DIFF, NEWLEADER and UPTODATE, and stay followers while it pings them.
    (No client writes: forwarded client requests need the session layer, not wired yet.)"""
    with ensemble([(ApacheMember, 1, False), (ApacheMember, 2, False), (PaddockPeer, 3, False)]) as members:
        apache, paddock = members[:2], members[2]
        paddock.start()
        for m in apache:
            m.start()
        wait_for(lambda: paddock.last_role() == 'leading epoch 1', 60, 'Paddock leading (roles seen: %s)' % paddock.lines)
        wait_for(lambda: all(m.mode() == 'follower' for m in apache), 60, 'both Apache members following Paddock')
        # Still followers a few syncLimits later: pings and their replies keep the quorum.
        deadline = time.monotonic() + 3 * 5 * TICK_MS / 1000.0
        while time.monotonic() < deadline:
            assert paddock.last_role() == 'leading epoch 1', paddock.lines
            time.sleep(0.1)
        assert all(m.mode() == 'follower' for m in apache)


def hostile_election_bytes():
    """What a broken or hostile peer might send to an election port, each on its own connection."""
    import struct
    handshake = lambda sid, address=b'127.0.0.1:1': struct.pack('>qqi', -65536, sid, len(address)) + address
    return [
        struct.pack('>q', -7) + b'garbage',                      # unknown protocol version
        struct.pack('>qqi', -65536, 3, 1 << 20),                 # address length over 2048
        handshake(99),                                           # a server id not in zoo.cfg
        handshake(3) + struct.pack('>i', 600 * 1024),            # frame over 512 KiB
        handshake(3) + struct.pack('>i', 12) + b'\x00' * 12,     # notification shorter than 28 bytes
        handshake(3) + struct.pack('>i', 48) + struct.pack('>iqqqqii', 9, 1, 0, 1, 0, 2, 4) + b'xxxx',  # unknown state
        bytes(range(256)) * 4,                                   # noise
    ]


def test_hostile_election_peers_close_only_their_connection():
    """Malformed or hostile bytes on the election port close that connection, never the member:
    afterwards the member still forms an ensemble with two Apache members and follows or leads."""
    with ensemble([(PaddockPeer, 1, False), (ApacheMember, 2, False), (ApacheMember, 3, False)]) as members:
        paddock, apache = members[0], members[1:]
        paddock.start()
        wait_for(lambda: paddock.last_role() == 'looking', 30, 'Paddock looking')
        for payload in hostile_election_bytes():
            with socket.create_connection(('127.0.0.1', paddock.election_port), timeout=5) as s:
                try:
                    s.sendall(payload)
                    s.settimeout(5)
                    s.recv(1)  # the member closes (or drops) the connection
                except OSError:
                    pass
            assert paddock.proc.poll() is None, 'a hostile election connection stopped the member'
        with open(os.path.join(paddock.dir, 'paddock.log')) as f:
            refused = [line for line in f if 'closing election connection' in line or 'unknown server id' in line]
        # unknown version, oversized address, unknown id, oversized frame, short notification, noise
        assert len(refused) >= 5, refused
        start_apache_three_first(paddock, apache)


def test_paddock_server_leads_apache_followers_then_follows_an_apache_leader():
    """The server layer's payloads are ZooKeeper's: `paddock server` (largest id) leads two
    Apache 3.8 followers, clients write through every member, Apache logs no digest error for
    Paddock's proposals; after kill -9 of Paddock an Apache member leads with every write."""
    layout = [(ApacheMember, 1, False), (ApacheMember, 2, False), (PaddockServerMember, 3, False)]
    with ensemble(layout) as members:
        for m in members:
            m.start()
        wait_for(lambda: members[2].mode() == 'leader' and members[0].mode() == 'follower' and members[1].mode() == 'follower',
                 90, 'Paddock leading two Apache followers')
        written = []
        for m in members:
            client = KazooClient(hosts='127.0.0.1:%d' % m.client_port, timeout=10)
            client.start(timeout=30)
            try:
                for i in range(5):
                    client.create('/mixedserver/%d-%d' % (m.sid, i), b'v', makepath=True)
                    written.append('%d-%d' % (m.sid, i))
            finally:
                client.stop()
                client.close()
        members[2].proc.send_signal(signal.SIGKILL)
        members[2].proc.wait(timeout=30)
        wait_for(lambda: 'leader' in (members[0].mode(), members[1].mode()), 90, 'an Apache member to lead')
        client = KazooClient(hosts='127.0.0.1:%d' % members[0].client_port, timeout=10)
        client.start(timeout=30)
        try:
            client.sync('/')
            assert sorted(client.get_children('/mixedserver')) == sorted(written)
        finally:
            client.stop()
            client.close()
        assert len(written) == 15
        for m in members[:2]:
            with open(os.path.join(m.dir, 'server.log'), errors='replace') as f:
                text = f.read()
            assert 'Digests are not matching' not in text and 'digest mismatch' not in text.lower(), m.sid


def test_paddock_refuses_what_it_does_not_understand_by_name():
    """Bytes from a peer that Paddock does not understand close that connection only, and the
    log names why: an election protocol version it does not speak, a learner of a quorum
    protocol older than ZooKeeper 3.4's (version mismatch), an unknown packet type. The Apache
    followers keep following and writes keep committing."""
    import struct

    def quorum_packet(kind, zxid, data):
        return struct.pack('>iqi', kind, zxid, len(data)) + data + struct.pack('>i', -1)

    layout = [(ApacheMember, 1, False), (ApacheMember, 2, False), (PaddockServerMember, 3, False)]
    with ensemble(layout) as members:
        for m in members:
            m.start()
        paddock = members[2]
        wait_for(lambda: paddock.mode() == 'leader' and all(m.mode() == 'follower' for m in members[:2]),
                 90, 'Paddock leading two Apache followers')
        hostile = [
            (paddock.election_port, struct.pack('>q', -7) + b'garbage', 'unrecognized election protocol version -7'),
            (paddock.quorum_port, quorum_packet(11, 0, struct.pack('>qiq', 1, 0, 0)),
             'server 1 speaks quorum protocol version 0x0'),
            (paddock.quorum_port, quorum_packet(99, 0, b''), 'unknown packet type 99'),
        ]
        for port, payload, named in hostile:
            with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
                s.sendall(payload)
                s.settimeout(10)
                try:
                    while s.recv(4096):
                        pass
                except OSError:
                    pass
            wait_for(lambda: named in open(paddock.log_path, errors='replace').read(), 30, 'the log to name: ' + named)
        with open(paddock.log_path, errors='replace') as f:
            assert 'version mismatch' in f.read()
        assert paddock.mode() == 'leader' and all(m.mode() == 'follower' for m in members[:2])
        client = KazooClient(hosts=members[0].address, timeout=10)
        client.start(timeout=30)
        try:
            client.create('/after-refusals', b'')
        finally:
            client.stop()
            client.close()


@pytest.mark.parametrize('voter_kind,observer_kind', [(ApacheMember, PaddockServerMember),
                                                      (PaddockServerMember, ApacheMember)],
                         ids=['paddock-observes-apache', 'apache-observes-paddock'])
def test_server_observes_voters_of_the_other_kind(voter_kind, observer_kind):
    """`paddock server` as the observer of three Apache voters, and Apache as the observer of
    three Paddock voters: a client of the observer reads what was written elsewhere, and its
    writes (forwarded to the leader) reach every voter."""
    layout = [(voter_kind, 1, False), (voter_kind, 2, False), (voter_kind, 3, False), (observer_kind, 4, True)]
    with ensemble(layout) as members:
        for m in members:
            m.start()
        voters, observer = members[:3], members[3]
        wait_for(lambda: settled(voters) is not None and observer.mode() == 'observer', 90,
                 'three %s voters and a %s observer' % (voter_kind.__name__, observer_kind.__name__))
        leader = wait_for(lambda: settled(voters), 60, 'the voters settled')
        writer = KazooClient(hosts=leader.address, timeout=10)
        writer.start(timeout=30)
        watcher = KazooClient(hosts=observer.address, timeout=10)
        watcher.start(timeout=30)
        try:
            for i in range(20):
                writer.create('/observed/v%02d' % i, b'v', makepath=True)
            watcher.sync('/observed')
            assert len(watcher.get_children('/observed')) == 20
            for i in range(20):
                watcher.create('/observed/o%02d' % i, b'o')
        finally:
            writer.stop()
            writer.close()
            watcher.stop()
            watcher.close()
        for m in voters:
            client = KazooClient(hosts=m.address, timeout=10)
            client.start(timeout=30)
            try:
                client.sync('/observed')
                assert len(client.get_children('/observed')) == 40, m.sid
            finally:
                client.stop()
                client.close()
        assert observer.mode() == 'observer'
