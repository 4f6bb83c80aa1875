"""Elections in mixed ensembles that every member wins in turn: 3 members (Apache, Paddock,
Apache) and 5 (Paddock, Apache, Paddock, Apache, Paddock). Leaders are steered with ZooKeeper's
own vote order (newest zxid, then largest id): the leader is killed, and members that missed
writes are started beside ones that did not. Each leader serves writes that every member of
the other kind must then hold. Every wait is bounded."""

import os
import signal
import sys

import pytest
from kazoo.client import KazooClient

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mixed_ensemble import ApacheMember, PaddockServerMember, ensemble, stop, wait_settled  # noqa: E402

TICK_MS = 200


class Run:
    def __init__(self, members):
        self.members = {m.sid: m for m in members}
        self.written = []
        self.leaders = []

    def running(self):
        return [m for m in self.members.values() if m.proc is not None and m.proc.poll() is None]

    def kill(self, *sids):
        for sid in sids:
            stop(self.members[sid], signal.SIGKILL)

    def start(self, *sids):
        for sid in sids:
            self.members[sid].start()

    def expect_leader(self, sid):
        running = self.running()
        wait_settled(running, 90, 'member %d leading %s' % (sid, sorted(m.sid for m in running)), leader=self.members[sid])
        self.leaders.append((sid, type(self.members[sid]).__name__))

    def write(self, label, count=10):
        hosts = ','.join(m.address for m in self.running())
        client = KazooClient(hosts=hosts, timeout=10)
        client.start(timeout=30)
        try:
            for i in range(count):
                path = '/elect/%s-%02d' % (label, i)
                client.create(path, label.encode(), makepath=True)
                self.written.append(path.rsplit('/', 1)[1])
        finally:
            client.stop()
            client.close()

    def check_everyone(self):
        assert self.written
        for m in self.members.values():
            client = KazooClient(hosts=m.address, timeout=10)
            client.start(timeout=30)
            try:
                client.sync('/')
                assert sorted(client.get_children('/elect')) == sorted(self.written), m.sid
            finally:
                client.stop()
                client.close()
            with open(m.log_path, errors='replace') as f:
                assert 'Digests are not matching' not in f.read(), m.sid


def three_members(run):
    # The two Apache members first: started beside the Paddock member, whichever JVM came up
    # first would form a quorum with it, and 2 would lead if 3's JVM were more than
    # finalizeWait (200 ms) behind. 2 joins the leader 3 once 1 and 3 settle.
    run.start(1, 3)
    run.expect_leader(3)
    run.start(2)
    wait_settled(run.running(), 90, 'member 2 following 3', leader=run.members[3])
    run.write('three')
    run.kill(3)
    run.expect_leader(2)
    run.write('two')
    # 3 missed "two": with 1 beside it, 1's newer history wins.
    run.kill(2)
    run.start(3)
    run.expect_leader(1)
    run.write('one')
    run.start(2)
    wait_settled(run.running(), 90, 'member 2 following 1', leader=run.members[1])


def five_members(run):
    run.start(1, 2, 3, 4, 5)
    run.expect_leader(5)
    run.write('five')
    run.kill(5)
    run.expect_leader(4)
    run.write('four')
    run.kill(4)
    run.expect_leader(3)
    run.write('three')
    # 4 and 5 missed "three": 2 (newest history, largest id among those who have it) wins.
    run.kill(3)
    run.start(4, 5)
    run.expect_leader(2)
    run.write('two')
    # 4 misses "two-more"; then 1 (newest history among 1, 3, 4) wins.
    run.kill(4)
    run.write('two-more')
    run.kill(5, 2)
    run.start(3, 4)
    run.expect_leader(1)
    run.write('one')
    run.start(2, 5)
    wait_settled(run.running(), 90, 'members 2 and 5 following 1', leader=run.members[1])


@pytest.mark.parametrize('layout,steps,winners', [
    ([ApacheMember, PaddockServerMember, ApacheMember], three_members, [3, 2, 1]),
    ([PaddockServerMember, ApacheMember, PaddockServerMember, ApacheMember, PaddockServerMember], five_members,
     [5, 4, 3, 2, 1]),
], ids=['three-apache-paddock-apache', 'five-paddock-apache-alternating'])
def test_every_member_of_a_mixed_ensemble_wins_an_election(layout, steps, winners):
    with ensemble([(kind, sid, False) for sid, kind in enumerate(layout, start=1)], tick_ms=TICK_MS) as members:
        run = Run(members)
        steps(run)
        assert [sid for sid, _ in run.leaders] == winners
        assert {kind for _, kind in run.leaders} == {'ApacheMember', 'PaddockServerMember'}
        run.check_everyone()
        print('leaders in turn:', run.leaders)
