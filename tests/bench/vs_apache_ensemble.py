#!/usr/bin/env python3
"""3-member Paddock ensembles vs 3-member Apache ZooKeeper 3.8 ensembles, on one machine, in one run.

Both ensembles run on loopback from the same zoo.cfg settings (forceSync=yes, tickTime 2000,
initLimit 10, syncLimit 5, fresh data dirs on the same disk). Measured, alternating A (Apache) and
B (Paddock) for each point, with the same generator (`paddock bench load`, sessions spread over
the three members):
- sets and gets at 32 sessions x 100 in flight, and lone sets (1 session x 1 in flight);
- failover: kill -9 of the leader -> the first write acknowledged after it (a client connected to
  all members writes continuously), --failovers times each;
- catch-up of a restarted follower: by DIFF (--diff-txns writes while it was down) and by SNAP
  (--snap-znodes znodes written while it was down), from its restart until `srvr` says follower
  and its zxid equals the leader's.

    tools/vs-apache-ensemble [--rounds 2] [--seconds 5] [--snap-znodes 100000]
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'differential'))

sys.path.insert(0, os.path.join(ROOT, 'tests', 'ensemble'))

from servers import JAVA, ZK_JARS  # noqa: E402
from paddock_ensemble import Member as EnsembleMember, four_letter, wait_for  # noqa: E402


def srvr_field(port, name):
    for line in four_letter(port, 'srvr').splitlines():
        if line.startswith(name + ': '):
            return line[len(name) + 2:].strip()
    return None


class Member(EnsembleMember):
    def __init__(self, root, sid):
        super().__init__(root, sid, observer=False)

    def zxid(self):
        value = srvr_field(self.client_port, 'Zxid')
        return int(value, 16) if value else None


class Ensemble:
    def __init__(self, kind, paddock_bin, size=3):
        self.kind = kind
        self.paddock_bin = paddock_bin
        self.root = tempfile.mkdtemp(prefix='vs-apache-ensemble-%s-' % kind, dir=os.environ.get('BENCH_DIR'))
        self.members = [Member(self.root, sid) for sid in range(1, size + 1)]
        servers = ['server.%d=127.0.0.1:%d:%d' % (m.sid, m.quorum_port, m.election_port) for m in self.members]
        for m in self.members:
            lines = ['tickTime=2000', 'initLimit=10', 'syncLimit=5', 'dataDir=%s' % m.data, 'clientPort=%d' % m.client_port,
                     'clientPortAddress=127.0.0.1', '4lw.commands.whitelist=*', 'admin.enableServer=false',
                     'forceSync=yes', 'maxClientCnxns=0', 'reconfigEnabled=false'] + servers
            with open(m.cfg, 'w') as f:
                f.write('\n'.join(lines) + '\n')

    @property
    def hosts(self):
        return ','.join('127.0.0.1:%d' % m.client_port for m in self.members)

    def start(self, m):
        log = open(os.path.join(m.dir, 'server.log'), 'ab')
        if self.kind == 'apache':
            command = [JAVA, '-Xmx2g', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-Dzookeeper.admin.enableServer=false',
                       '-cp', ':'.join(ZK_JARS), 'org.apache.zookeeper.server.quorum.QuorumPeerMain', m.cfg]
        else:
            command = [self.paddock_bin, 'server', '--config', m.cfg]
        m.proc = subprocess.Popen(command, cwd=m.dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def start_all(self):
        for m in self.members:
            self.start(m)
        return self.settled()

    def settled(self, timeout=120):
        def check():
            running = [m for m in self.members if m.proc is not None]
            modes = [m.mode() for m in running]
            if modes.count('leader') == 1 and all(mode in ('leader', 'follower') for mode in modes):
                return next(m for m in running if m.mode() == 'leader')
            return None
        return wait_for(check, timeout, '%s ensemble to settle' % self.kind)

    def kill(self, m):
        m.proc.send_signal(signal.SIGKILL)
        m.proc.wait(timeout=60)
        m.proc = None

    def close(self):
        for m in self.members:
            if m.proc is not None:
                m.proc.kill()
                m.proc.wait(timeout=60)
                m.proc = None
        shutil.rmtree(self.root, ignore_errors=True)


def load(binary, hosts, pid, op, sessions, inflight, seconds, warmup, znodes=1000, root='/bench'):
    command = [binary, 'bench', 'load', '--hosts', hosts, '--op', op, '--sessions', str(sessions), '--inflight', str(inflight),
               '--seconds', str(seconds), '--warmup', str(warmup), '--size', '1024', '--znodes', str(znodes),
               '--server-pid', str(pid), '--root', root, '--json']
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + warmup + 900)
    if out.returncode != 0:
        raise RuntimeError('load failed (%s): %s %s' % (' '.join(command), out.stdout, out.stderr))
    return json.loads(out.stdout)


def failover_seconds(ensemble, trials):
    """kill -9 of the leader -> first acknowledged write; the leader comes back between trials."""
    from kazoo.client import KazooClient
    results = []
    for trial in range(trials):
        leader = ensemble.settled()
        client = KazooClient(hosts=ensemble.hosts, timeout=10, connection_retry={'max_tries': -1, 'delay': 0.01, 'max_delay': 0.05})
        client.start(timeout=60)
        client.ensure_path('/failover')
        client.set('/failover', b'before')
        killed = time.monotonic()
        ensemble.kill(leader)
        while True:
            try:
                client.set('/failover', b'after-%d' % trial)
                break
            except Exception:
                if time.monotonic() - killed > 120:
                    raise RuntimeError('no write within 120 s of the leader kill')
                time.sleep(0.005)
        results.append(time.monotonic() - killed)
        client.stop()
        client.close()
        ensemble.start(leader)
        ensemble.settled()
    return sorted(results)


def catch_up_seconds(binary, ensemble, writes, create):
    """A follower stopped, `writes` znodes created (or set) meanwhile, then restarted: seconds until
    it follows at the leader's zxid."""
    leader = ensemble.settled()
    follower = next(m for m in ensemble.members if m is not leader)
    ensemble.kill(follower)
    op = 'create' if create else 'set'
    # A create run makes `writes` new znodes; a set run rewrites a few.
    if create:
        # bench load creates its --znodes first (pipelined), then measures a moment of gets.
        out = subprocess.run([binary, 'bench', 'load', '--hosts', '127.0.0.1:%d' % leader.client_port, '--op', 'get',
                              '--sessions', '8', '--inflight', '100', '--seconds', '0.2', '--warmup', '0', '--size', '100',
                              '--znodes', str(writes), '--root', '/catchup-%d' % writes, '--json'],
                             capture_output=True, text=True, timeout=1800)
        if out.returncode != 0:
            raise RuntimeError('creating %d znodes failed: %s %s' % (writes, out.stdout, out.stderr))
    else:
        from kazoo.client import KazooClient
        client = KazooClient(hosts='127.0.0.1:%d' % leader.client_port, timeout=10)
        client.start(timeout=60)
        client.ensure_path('/diff')
        for i in range(writes):
            client.set_async('/diff', b'%d' % i)
        client.sync('/')
        client.stop()
        client.close()
    target = leader.zxid()
    started = time.monotonic()
    ensemble.start(follower)
    wait_for(lambda: follower.mode() == 'follower' and (follower.zxid() or 0) >= target, 1800, 'the follower to catch up')
    return time.monotonic() - started, op


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--paddock-bin', default=os.path.join(ROOT, '.build', 'release', 'paddock'))
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--seconds', type=float, default=5)
    ap.add_argument('--warmup', type=float, default=2)
    ap.add_argument('--failovers', type=int, default=3)
    ap.add_argument('--diff-txns', type=int, default=300)
    ap.add_argument('--snap-znodes', type=int, default=100_000)
    ap.add_argument('--only', choices=['load', 'failover', 'catchup'])
    ap.add_argument('--json', action='store_true')
    args = ap.parse_args()
    binary = args.paddock_bin
    points = [('set', 32, 100), ('get', 32, 100), ('set', 1, 1)]
    summary = {'started': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), 'load_average': os.getloadavg(), 'points': []}
    kinds = ['apache', 'paddock']
    if args.only in (None, 'load'):
        ensembles = {kind: Ensemble(kind, binary) for kind in kinds}
        try:
            for kind in kinds:
                ensembles[kind].start_all()
            for op, sessions, inflight in points:
                best = {}
                for _ in range(args.rounds):
                    for kind in kinds:
                        leader = ensembles[kind].settled()
                        result = load(binary, ensembles[kind].hosts, leader.proc.pid, op, sessions, inflight, args.seconds, args.warmup)
                        if kind not in best or result['operationsPerSecond'] > best[kind]['operationsPerSecond']:
                            best[kind] = result
                point = {'op': op, 'sessions': sessions, 'inflight': inflight, 'zookeeper': best['apache'], 'paddock': best['paddock']}
                summary['points'].append(point)
                z, p = point['zookeeper'], point['paddock']
                print('%-4s %2d x %-3d ops/s zk %8.0f paddock %8.0f (x%.2f)  p50/p99 us zk %6d/%-7d paddock %6d/%-7d' % (
                    op, sessions, inflight, z['operationsPerSecond'], p['operationsPerSecond'],
                    p['operationsPerSecond'] / max(1.0, z['operationsPerSecond']), z['latencyMicrosecondsP50'],
                    z['latencyMicrosecondsP99'], p['latencyMicrosecondsP50'], p['latencyMicrosecondsP99']), flush=True)
        finally:
            for e in ensembles.values():
                e.close()
    if args.only in (None, 'failover'):
        summary['failover'] = {}
        for kind in kinds:
            ensemble = Ensemble(kind, binary)
            try:
                ensemble.start_all()
                summary['failover'][kind] = failover_seconds(ensemble, args.failovers)
            finally:
                ensemble.close()
        z, p = summary['failover']['apache'], summary['failover']['paddock']
        print('failover (kill -9 leader -> first acked write), s, sorted trials: zk %s  paddock %s  (median zk %.3f paddock %.3f)' % (
            ['%.3f' % v for v in z], ['%.3f' % v for v in p], z[len(z) // 2], p[len(p) // 2]), flush=True)
    if args.only in (None, 'catchup'):
        summary['catchup'] = {}
        for kind in kinds:
            ensemble = Ensemble(kind, binary)
            try:
                ensemble.start_all()
                diff, _ = catch_up_seconds(binary, ensemble, args.diff_txns, create=False)
                snap, _ = catch_up_seconds(binary, ensemble, args.snap_znodes, create=True)
                summary['catchup'][kind] = {'diff': diff, 'snap': snap}
            finally:
                ensemble.close()
        z, p = summary['catchup']['apache'], summary['catchup']['paddock']
        print('catch-up of a restarted follower, s: DIFF (%d txns) zk %.2f paddock %.2f; SNAP (%d znodes) zk %.2f paddock %.2f' % (
            args.diff_txns, z['diff'], p['diff'], args.snap_znodes, z['snap'], p['snap']), flush=True)
    if args.json:
        print(json.dumps(summary, indent=1))


if __name__ == '__main__':
    main()
