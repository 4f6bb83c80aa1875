#!/usr/bin/env python3
"""Bounded chaos against a real Paddock ensemble, checked for linearizability.

Clients write, compare-and-set (setData with a version) and read (sync, then getData) a few
registers while a controller kills -9, pauses (SIGSTOP/SIGCONT) and restarts members, the
leader included, and cuts links between members. Links are cut by proxies this harness puts
between every ordered pair of members: member j's zoo.cfg names member i's quorum and
election ports as a proxy of the pair (j, i), and a cut pair closes and refuses its
connections (both directions of the pair for a partition, one for a one-way cut). Meanwhile
short-lived sessions create ephemerals and die without closing.

At the end the faults are healed, every member is running, and the checks are:
- the history of every register is linearizable (tests/ensemble/linearizability.py: Wing &
  Gong search with memoization), synced reads included; operations whose outcome the client
  could not know (connection loss) may or may not have happened;
- no acknowledged write is lost (each register's final version covers every acked one);
- every member holds the same zxid and tree digest (`hash`), and every log verifies;
- every ephemeral of an expired session is gone on every member, and no member's log closes a
  session twice.

Usage: python3 tests/ensemble/chaos.py --members 3 --seconds 60 [--seed N]
"""

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import BadVersionError, ConnectionLoss, OperationTimeoutError, SessionExpiredError  # noqa: E402
from kazoo.handlers.threading import KazooTimeoutError  # noqa: E402

import linearizability  # noqa: E402
from paddock_ensemble import BINARY, PaddockEnsemble, four_letter, wait_for  # noqa: E402

REGISTERS = ['/reg%d' % i for i in range(4)]


class LinkProxies:
    """One TCP proxy per ordered member pair and port kind, on an asyncio loop of its own."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.cut = set()          # (from_sid, to_sid) pairs whose connections are refused
        self.connections = {}     # (from, to) -> set of writers
        self.servers = []

    def add(self, src, dst, target_port):
        """A proxy for connections from member `src` to member `dst`; returns its port."""
        async def handle(reader, writer):
            if (src, dst) in self.cut:
                writer.close()
                return
            try:
                up_reader, up_writer = await asyncio.open_connection('127.0.0.1', target_port)
            except OSError:
                writer.close()
                return
            group = self.connections.setdefault((src, dst), set())
            group.update((writer, up_writer))

            async def pump(r, w):
                try:
                    while True:
                        data = await r.read(65536)
                        if not data or (src, dst) in self.cut:
                            break
                        w.write(data)
                        await w.drain()
                except (OSError, asyncio.CancelledError):
                    pass
                finally:
                    w.close()
            await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
            group.discard(writer)
            group.discard(up_writer)

        async def start():
            server = await asyncio.start_server(handle, '127.0.0.1', 0)
            self.servers.append(server)
            return server.sockets[0].getsockname()[1]
        return asyncio.run_coroutine_threadsafe(start(), self.loop).result(timeout=10)

    def set_cut(self, pairs):
        def apply():
            self.cut = set(pairs)
            for pair in pairs:
                for w in list(self.connections.get(pair, ())):
                    w.close()
        self.loop.call_soon_threadsafe(apply)

    def close(self):
        def stop():
            for server in self.servers:
                server.close()
            self.loop.stop()
        self.loop.call_soon_threadsafe(stop)
        self.thread.join(timeout=10)


class ChaosEnsemble(PaddockEnsemble):
    """A PaddockEnsemble whose members reach each other only through LinkProxies."""

    def __init__(self, root, voters, tick_ms, proxies):
        super().__init__(root, voters=voters, tick_ms=tick_ms)
        for m in self.members:
            lines = []
            for other in self.members:
                if other is m:
                    q, e = other.quorum_port, other.election_port
                else:
                    q = proxies.add(m.sid, other.sid, other.quorum_port)
                    e = proxies.add(m.sid, other.sid, other.election_port)
                lines.append('server.%d=127.0.0.1:%d:%d' % (other.sid, q, e))
            with open(m.cfg) as f:
                kept = [l for l in f.read().splitlines() if not l.startswith('server.')]
            with open(m.cfg, 'w') as f:
                f.write('\n'.join(kept + lines) + '\n')


class History:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = []

    def add(self, op):
        with self.lock:
            self.ops.append(op)


def close_quietly(zk):
    try:
        zk.stop()
        zk.close()
    except Exception:
        pass


def client_loop(cid, hosts, history, stop, rng_seed):
    rng = random.Random(rng_seed)
    seq = 0
    zk = None
    while not stop.is_set():
        if zk is None:
            zk = KazooClient(hosts=hosts, timeout=6.0, connection_retry=None, command_retry=None)
            try:
                zk.start(timeout=10)
            except Exception:
                close_quietly(zk)
                zk = None
                time.sleep(0.2)
                continue
        key = rng.choice(REGISTERS)
        kind = rng.choice(['write', 'cas', 'read', 'read'])
        seq += 1
        value = ('%d-%d' % (cid, seq)).encode()
        op = linearizability.Op(client=cid, kind=kind, key=key, value=value if kind != 'read' else None,
                                expected_version=None, invoke=time.monotonic(), complete=None, ok=None,
                                result_value=None, result_version=None)
        try:
            if kind == 'write':
                stat = zk.set(key, value, version=-1)
                op.ok, op.result_version = True, stat.version
            elif kind == 'cas':
                # The version to compare against: the one a fresh read saw (it is not part of
                # the checked op, only how the client picks its expectation).
                _, seen = zk.get(key)
                op.expected_version = seen.version if rng.random() < 0.8 else seen.version + rng.choice([-1, 1])
                if op.expected_version < 0:
                    # setData's version -1 means "any version" (an unconditional write), not a CAS.
                    op.expected_version = seen.version + 1
                op.invoke = time.monotonic()
                try:
                    stat = zk.set(key, value, version=op.expected_version)
                    op.ok, op.result_version = True, stat.version
                except BadVersionError:
                    op.ok = False
            else:
                zk.sync(key)
                data, stat = zk.get(key)
                op.ok, op.result_value, op.result_version = True, data, stat.version
            op.complete = time.monotonic()
        except (ConnectionLoss, OperationTimeoutError, SessionExpiredError, KazooTimeoutError, Exception) as error:
            # The outcome is unknown: it may take effect at any later time, or never.
            op.complete = None
            if kind == 'read' or (kind == 'cas' and op.expected_version is None):
                op = None  # a read with no answer, or a cas never sent, constrains nothing
            if isinstance(error, SessionExpiredError) or not zk.connected:
                close_quietly(zk)
                zk = None
        if op is not None:
            history.add(op)
    if zk is not None:
        close_quietly(zk)


EPHEMERAL_CLIENT = r'''
import sys, os
from kazoo.client import KazooClient
c = KazooClient(hosts=sys.argv[1], timeout=2.0)
c.start(timeout=20)
c.ensure_path('/eph')
c.create('/eph/' + sys.argv[2], b'', ephemeral=True)
print('%x' % c.client_id[0], flush=True)
os._exit(0)
'''


def run(members=3, seconds=60, seed=None, clients=5, log=print, root=None):
    seed = seed if seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    log('chaos: seed %d, %d members, %d s, %d clients' % (seed, members, seconds, clients))
    owned = root is None
    root = root or tempfile.mkdtemp(prefix='paddock-chaos-')
    proxies = LinkProxies()
    ensemble = ChaosEnsemble(root, voters=members, tick_ms=500, proxies=proxies)
    stop = threading.Event()
    history = History()
    faults = {'kill': 0, 'pause': 0, 'partition': 0, 'one-way': 0, 'leader faults': 0}
    sessions = []
    try:
        ensemble.start_all(timeout=90)
        hosts = ensemble.connect_string
        setup = KazooClient(hosts=hosts, timeout=10)
        setup.start(timeout=30)
        for key in REGISTERS:
            setup.create(key, b'init')
        setup.stop()
        setup.close()
        workers = [threading.Thread(target=client_loop, args=(c, hosts, history, stop, rng.randrange(1 << 30)), daemon=True)
                   for c in range(clients)]
        for w in workers:
            w.start()
        deadline = time.monotonic() + seconds

        def ephemeral_sessions():
            # Short-lived sessions that create an ephemeral and die without closing.
            number = 0
            while not stop.is_set() and time.monotonic() < deadline - 2:
                number += 1
                try:
                    out = subprocess.run([sys.executable, '-c', EPHEMERAL_CLIENT, hosts, 'e%d' % number],
                                         capture_output=True, text=True, timeout=30)
                    if out.returncode == 0:
                        sessions.append((int(out.stdout.split()[-1], 16), 'e%d' % number))
                except subprocess.TimeoutExpired:
                    pass
                stop.wait(1.0)
        spawner = threading.Thread(target=ephemeral_sessions, daemon=True)
        spawner.start()
        # Every kind of fault in turn, in a shuffled order each round.
        plan = []
        while time.monotonic() < deadline:
            if not plan:
                plan = ['kill', 'pause', 'partition', 'one-way']
                rng.shuffle(plan)
            action = plan.pop()
            running = ensemble.running()
            leader = next((m for m in running if m.mode() == 'leader'), None)
            victim = leader if leader is not None and rng.random() < 0.5 else rng.choice(ensemble.members)
            if victim is leader and action in ('kill', 'pause', 'partition'):
                faults['leader faults'] += 1
            hold = rng.uniform(0.5, 3.0)
            if action == 'kill' and victim.proc is not None:
                ensemble.kill(victim)
                faults['kill'] += 1
                time.sleep(hold)
                ensemble.start(victim)
            elif action == 'pause' and victim.proc is not None:
                ensemble.pause(victim)
                faults['pause'] += 1
                time.sleep(hold)
                ensemble.resume(victim)
            elif action == 'partition':
                pairs = {(victim.sid, o.sid) for o in ensemble.members if o is not victim}
                pairs |= {(b, a) for a, b in pairs}
                proxies.set_cut(pairs)
                faults['partition'] += 1
                time.sleep(hold)
                proxies.set_cut(set())
            elif action == 'one-way':
                other = rng.choice([o for o in ensemble.members if o is not victim])
                proxies.set_cut({(victim.sid, other.sid)})
                faults['one-way'] += 1
                time.sleep(hold)
                proxies.set_cut(set())
            time.sleep(rng.uniform(0.2, 1.0))
        # Heal: every link up, every member running and resumed.
        proxies.set_cut(set())
        for m in ensemble.members:
            if m.proc is None:
                ensemble.start(m)
        stop.set()
        for w in workers + [spawner]:
            w.join(timeout=60)
        try:
            ensemble.wait_settled(timeout=120, members=ensemble.members)
        except AssertionError:
            # What each member says and its last log lines, for the report.
            for m in ensemble.members:
                log('chaos: member %d: mode %s, running %s\n  %s' % (
                    m.sid, m.mode(), m.proc is not None and m.proc.poll() is None, '\n  '.join(m.log().splitlines()[-15:])))
            raise
        return finish(ensemble, history, sessions, faults, log)
    finally:
        stop.set()
        ensemble.close()
        proxies.close()
        if owned and os.environ.get('CHAOS_KEEP') != '1':
            subprocess.run(['rm', '-rf', root])


def finish(ensemble, history, sessions, faults, log):
    hosts = ensemble.connect_string
    final = {}
    # Expired sessions' ephemerals: gone everywhere, within a bounded wait.
    views = []
    for m in ensemble.members:
        c = KazooClient(hosts=m.address, timeout=10)
        c.start(timeout=30)
        views.append(c)
    try:
        def ephemerals_gone():
            for c in views:
                c.sync('/')
                if c.exists('/eph') and c.get_children('/eph'):
                    return False
            return True
        wait_for(ephemerals_gone, 60, 'the ephemerals of dead sessions to expire on every member')
        for key in REGISTERS:
            views[0].sync(key)
            data, stat = views[0].get(key)
            final[key] = (data, stat.version)
        # Quiesce, then every member at the same zxid and digest.
        marker = views[0].create('/chaos-end-', b'', sequence=True)
        for c in views:
            c.sync('/')
            assert c.exists(marker) is not None
        hashes = wait_for(lambda: (lambda hs: hs if len(set(hs)) == 1 else None)(
            [four_letter(m.client_port, 'hash').strip() for m in ensemble.members]), 30, 'equal digests on every member')
    finally:
        for c in views:
            c.stop()
            c.close()
    ops = history.ops
    acked_writes = [op for op in ops if op.kind in ('write', 'cas') and op.ok]
    unknown = [op for op in ops if op.complete is None]
    reads = [op for op in ops if op.kind == 'read']
    log('chaos: %d ops (%d acknowledged writes, %d synced reads, %d unknown outcomes); faults %s; %d dead sessions'
        % (len(ops), len(acked_writes), len(reads), len(unknown), faults, len(sessions)))
    log('chaos: every member at %s' % hashes[0])
    problems = []
    if not acked_writes:
        problems.append('no write was acknowledged')
    if not sessions:
        problems.append('no short-lived session created an ephemeral')
    if sum(faults[k] for k in ('kill', 'pause', 'partition', 'one-way')) == 0:
        problems.append('no fault was injected')
    result = linearizability.check(ops, initial=(b'init', 0))
    if result.ok is not True:
        problems.append('history not linearizable (%s): key %s: %s' % (result.ok, result.key, result.explanation))
    lost = linearizability.lost_acknowledged_writes(ops, final)
    if lost:
        problems.append('%d acknowledged writes lost: %s' % (len(lost), lost[:5]))
    # Logs: each verifies; no session closed twice on any member.
    ensemble.close()
    for m in ensemble.members:
        verify = subprocess.run([BINARY, 'data', 'verify', m.data], capture_output=True, text=True, timeout=120)
        if verify.returncode != 0:
            problems.append('member %d: data verify failed: %s' % (m.sid, verify.stdout[-2000:]))
        dump = subprocess.run([BINARY, 'data', 'dump', m.data], capture_output=True, text=True, timeout=120).stdout
        closes = {}
        for line in dump.splitlines():
            if ' closeSession' in line:
                session = line.split(' session ')[1].split()[0]
                closes[session] = closes.get(session, 0) + 1
        twice = {s: n for s, n in closes.items() if n > 1}
        if twice:
            problems.append('member %d closed sessions more than once: %s' % (m.sid, twice))
    return {'ops': len(ops), 'acked': len(acked_writes), 'reads': len(reads), 'unknown': len(unknown),
            'faults': faults, 'sessions': len(sessions), 'problems': problems, 'checked_ops': result.checked_ops}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--members', type=int, default=3)
    parser.add_argument('--seconds', type=int, default=60)
    parser.add_argument('--clients', type=int, default=5)
    parser.add_argument('--seed', type=int)
    args = parser.parse_args()
    outcome = run(members=args.members, seconds=args.seconds, seed=args.seed, clients=args.clients)
    for problem in outcome['problems']:
        print('chaos: PROBLEM: %s' % problem)
    print('chaos: %s' % ('ok' if not outcome['problems'] else 'FAILED'))
    sys.exit(1 if outcome['problems'] else 0)


if __name__ == '__main__':
    main()
