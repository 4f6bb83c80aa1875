"""Zero-downtime migration of a running Apache ZooKeeper 3.8 ensemble to Paddock and back.

Three Apache members serve a writer (a CAS register plus one acknowledged create per step),
a reader and idle sessions, each session holding an ephemeral. Each member in turn (followers
first, the leader last) is stopped and replaced by `paddock server` on the same zoo.cfg, myid and
dataDir: the server imports ZooKeeper's snapshot, log and epochs by itself at startup and syncs
with the ensemble. With all three on Paddock, the same is done back to Apache ZooKeeper
(`paddock data export-zk DIR DIR --force`, then QuorumPeerMain on the same dataDir).

Checked: no acknowledged write is lost (every acknowledged create exists, the register holds
the last acknowledged value or a later one whose reply was lost), no session that kept
heart-beating expired, every session's ephemeral is on every member, reads never went back in
time, all Paddock members agree on ZooKeeper's digest halfway, and all Apache members log the
same digest at one zxid at the end. The writes' outage at each step is printed. Every wait is
bounded; the workload stops by itself."""

import os
import subprocess
import sys
import threading
import time

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import BadVersionError, KazooException, NodeExistsError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mixed_ensemble import (BINARY, ApacheMember, PaddockServerMember, become, ensemble, four_letter,  # noqa: E402
                            log_tail, settled, srvr_field, stop, wait_for, zxid_of)

TICK_MS = 500            # ZooKeeper's session timeout ceiling is 20 ticks: 10 s
SESSION_TIMEOUT_S = 10
WORKLOAD_DEADLINE_S = 420
RETRYABLE = (KazooException, OSError)


class Workload:
    """A writer, a reader and two idle sessions over the whole connect string."""

    def __init__(self, hosts):
        self.hosts = hosts
        self.stop_event = threading.Event()
        self.pause_event = threading.Event()
        self.paused = threading.Event()
        self.lock = threading.Lock()
        self.expired = []          # sessions that expired (state LOST)
        self.successes = []        # monotonic times of acknowledged writes
        self.acked_creates = []
        self.acked_value = 0       # last value whose CAS set was acknowledged
        self.unknown_values = []   # values whose set's reply was lost
        self.read_regressions = []
        self.reads = 0
        self.errors = []
        self.clients = {}
        self.started = time.monotonic()

    def client(self, name):
        client = KazooClient(hosts=self.hosts, timeout=SESSION_TIMEOUT_S, randomize_hosts=True)

        def listener(state, name=name):
            if state == KazooState.LOST:
                with self.lock:
                    self.expired.append((name, time.monotonic() - self.started))
        client.add_listener(listener)
        client.start(timeout=30)
        client.ensure_path('/migration/live')
        client.create('/migration/live/' + name, name.encode(), ephemeral=True)
        self.clients[name] = client
        return client

    def start(self):
        writer = self.client('writer')
        writer.ensure_path('/migration/acked')
        if not writer.exists('/migration/register'):
            writer.create('/migration/register', b'0')
        self.client('reader')
        for i in range(2):
            self.client('idle-%d' % i)
        self.threads = [threading.Thread(target=self.write_loop, daemon=True),
                        threading.Thread(target=self.read_loop, daemon=True)]
        for t in self.threads:
            t.start()

    def running(self):
        return not self.stop_event.is_set() and time.monotonic() - self.started < WORKLOAD_DEADLINE_S

    def write_loop(self):
        client = self.clients['writer']
        value, version = 0, 0
        sequence = 0
        while self.running():
            if self.pause_event.is_set():
                self.paused.set()
                time.sleep(0.02)
                continue
            self.paused.clear()
            try:
                data, stat = client.get('/migration/register')
                value, version = int(data), stat.version
                try:
                    client.set('/migration/register', str(value + 1).encode(), version=version)
                except BadVersionError:
                    continue  # our own earlier set, whose reply was lost, landed
                with self.lock:
                    self.acked_value = value + 1
                    self.successes.append(time.monotonic())
                sequence += 1
                path = '/migration/acked/w%06d' % sequence
                try:
                    client.create(path, b'x')
                except NodeExistsError:
                    pass  # a retry of a create whose reply was lost: it landed
                with self.lock:
                    self.acked_creates.append(path)
                    self.successes.append(time.monotonic())
            except RETRYABLE as e:
                with self.lock:
                    self.unknown_values.append(value + 1)
                    self.errors.append(type(e).__name__)
                time.sleep(0.05)
        self.paused.set()

    def read_loop(self):
        client = self.clients['reader']
        last = 0
        while self.running():
            try:
                data, _ = client.get('/migration/register')
            except RETRYABLE:
                time.sleep(0.05)
                continue
            seen = int(data)
            with self.lock:
                self.reads += 1
                if seen < last:
                    self.read_regressions.append((last, seen))
            last = max(last, seen)
            time.sleep(0.005)

    def pause(self):
        self.pause_event.set()
        wait_for(self.paused.is_set, 30, 'the writer to pause')

    def resume(self):
        self.pause_event.clear()

    def writes_since(self, moment):
        with self.lock:
            return sum(1 for t in self.successes if t >= moment)

    def longest_gap(self, start, end):
        """Longest time without an acknowledged write in [start, end]."""
        with self.lock:
            times = [start] + [t for t in self.successes if start <= t <= end] + [end]
        return max(b - a for a, b in zip(times, times[1:]))

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), 'workload threads did not stop'

    def close(self):
        for client in self.clients.values():
            try:
                client.stop()
                client.close()
            except Exception:
                pass


def wait_serving(members, member, timeout=90):
    """The ensemble has one leader again with `member` in it, and `member` has caught up."""
    def ok():
        leader = settled(members)
        if leader is None:
            return None
        target, mine = zxid_of(leader), zxid_of(member)
        return leader if target is not None and mine is not None and mine >= target - 50 else None
    try:
        return wait_for(ok, timeout, 'member %d serving in a settled ensemble' % member.sid)
    except AssertionError:
        for m in members:
            print('--- member %d (%s, mode %s):\n%s' % (m.sid, type(m).__name__, srvr_field(m, 'Mode'), log_tail(m)))
        raise


def replace(members, member, kind, workload, outages, step):
    """Stops `member`, starts it as `kind` on the same files, waits for it to serve and for
    the writer to make progress; records the writes' longest gap."""
    began = time.monotonic()
    stop(member)
    if kind is ApacheMember:
        # Hand the member's data back to ZooKeeper: committed tree, log tail, epochs, myid.
        result = subprocess.run([BINARY, 'data', 'export-zk', member.data, member.data, '--force'],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        print(result.stdout.strip())
    become(member, kind)
    member.start()
    wait_serving(members, member)
    served = time.monotonic()
    wait_for(lambda: workload.writes_since(served) >= 20, 60, 'writes to continue after step %s' % step)
    outages.append((step, served - began, workload.longest_gap(began, time.monotonic())))


def migration_order(members, kind):
    """Members not yet of `kind`: followers first, the leader last."""
    leader = wait_for(lambda: settled(members), 90, 'the ensemble settled')
    rest = [m for m in members if not isinstance(m, kind)]
    return sorted(rest, key=lambda m: m is leader)


def dump(member):
    """Every znode under /migration as (path, data, version, mzxid) read through `member`."""
    client = KazooClient(hosts=member.address, timeout=SESSION_TIMEOUT_S)
    client.start(timeout=30)
    try:
        client.sync('/')
        found = {}
        stack = ['/migration']
        while stack:
            path = stack.pop()
            data, stat = client.get(path)
            found[path] = (data, stat.version, stat.mzxid, stat.ephemeralOwner)
            stack.extend(path + '/' + child for child in client.get_children(path))
        return found
    finally:
        client.stop()
        client.close()


def apache_digests(member):
    """ZooKeeper's `hash`: '<hex zxid>: <digest>' for the zxids it logged (multiples of 128)."""
    entries = {}
    for line in four_letter(member.client_port, 'hash').splitlines():
        if ':' in line:
            zxid, digest = line.split(':', 1)
            try:
                entries[int(zxid.strip(), 16)] = digest.strip()
            except ValueError:
                pass
    return entries


def test_rolling_migration_apache_to_paddock_and_back_under_load():
    layout = [(ApacheMember, 1, False), (ApacheMember, 2, False), (ApacheMember, 3, False)]
    with ensemble(layout, tick_ms=TICK_MS) as members:
        for m in members:
            m.start()
        wait_for(lambda: settled(members), 90, 'the Apache ensemble to settle')
        hosts = ','.join(m.address for m in members)
        workload = Workload(hosts)
        outages = []
        try:
            workload.start()
            wait_for(lambda: workload.writes_since(0) >= 50, 60, 'the first writes on Apache ZooKeeper')

            for member in migration_order(members, PaddockServerMember):
                replace(members, member, PaddockServerMember, workload, outages, 'member %d to Paddock' % member.sid)
            assert all(isinstance(m, PaddockServerMember) for m in members)
            for m in members:
                with open(m.log_path, errors='replace') as f:
                    assert 'is an Apache ZooKeeper data directory: importing' in f.read(), m.sid
            # All Paddock: the same ZooKeeper digest everywhere once the writer pauses.
            workload.pause()
            wait_for(lambda: len({four_letter(m.client_port, 'hash').strip() for m in members}) == 1
                     and all(four_letter(m.client_port, 'hash').strip() for m in members),
                     30, 'equal digests on the Paddock members: %s' % [four_letter(m.client_port, 'hash') for m in members])
            workload.resume()

            for member in migration_order(members, ApacheMember):
                replace(members, member, ApacheMember, workload, outages, 'member %d back to Apache' % member.sid)
            assert all(isinstance(m, ApacheMember) for m in members)
            wait_for(lambda: workload.writes_since(time.monotonic() - 1) > 0, 30, 'writes on the Apache ensemble')
            workload.stop()

            # Every session kept heart-beating: none expired, every ephemeral is everywhere.
            assert workload.expired == [], workload.expired
            views = {m.sid: dump(m) for m in members}
            for sid, view in views.items():
                live = sorted(p.rsplit('/', 1)[1] for p in view if p.startswith('/migration/live/'))
                assert live == sorted(workload.clients), (sid, live)
            assert views[1] == views[2] == views[3], 'members differ'
            # No acknowledged write lost.
            view = views[1]
            missing = [p for p in workload.acked_creates if p not in view]
            assert workload.acked_creates and not missing, (len(workload.acked_creates), missing[:5])
            final = int(view['/migration/register'][0])
            assert final == workload.acked_value or (final > workload.acked_value and final in workload.unknown_values), \
                (final, workload.acked_value, workload.unknown_values[-5:])
            assert workload.reads > 0 and workload.read_regressions == [], workload.read_regressions[:5]

            # ZooKeeper's digest at one zxid on every Apache member: write until the leader's
            # zxid is a multiple of 128 (ZooKeeper logs its digest at those).
            leader = wait_for(lambda: settled(members), 90, 'the ensemble settled')
            client = KazooClient(hosts=leader.address, timeout=SESSION_TIMEOUT_S)
            client.start(timeout=30)
            try:
                while True:
                    stat = client.set('/migration/register', b'%d' % final)
                    if stat.mzxid % 128 == 0:
                        target = stat.mzxid
                        break
            finally:
                client.stop()
                client.close()
            wait_for(lambda: all(target in apache_digests(m) for m in members), 30,
                     'every Apache member to log its digest at 0x%x' % target)
            digests = {m.sid: apache_digests(m)[target] for m in members}
            assert len(set(digests.values())) == 1, digests
        finally:
            workload.stop_event.set()
            workload.close()
            print('rolling migration: %d acknowledged writes, %d reads, client errors %s' % (
                len(workload.successes), workload.reads,
                {e: workload.errors.count(e) for e in set(workload.errors)}))
            for step, seconds, gap in outages:
                print('  %-28s member serving after %.1f s; longest gap between acknowledged writes %.2f s' % (step, seconds, gap))
        assert len(outages) == 6
        for m in members:
            with open(os.path.join(m.dir, 'server.log'), errors='replace') as f:
                text = f.read()
            assert 'Digests are not matching' not in text, m.sid
