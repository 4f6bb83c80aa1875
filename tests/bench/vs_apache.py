#!/usr/bin/env python3
"""Paddock vs Apache ZooKeeper 3.8, measured the same way on one machine in one run.

Both servers run standalone from the same zoo.cfg (forceSync=yes, fresh data dirs on the same
disk). Each load point runs against A (Apache) and B (Paddock) in alternation, A B A B ...,
`--rounds` times, with the same `paddock bench load` generator, and the best of each side is
reported with Paddock/ZooKeeper ratios. Then: RSS after loading --rss-znodes znodes of 100 B,
and the restart time of a --restart-znodes x 1 KiB tree (until `srvr` answers Mode: standalone).

    tools/vs-apache                    # the default matrix (a few minutes)
    tools/vs-apache --full             # the whole matrix of issue 5 (about an hour)
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'differential'))

from servers import ApacheServer, PaddockServer, four_letter  # noqa: E402

BENCH_CFG = {'forceSync': 'yes', 'maxClientCnxns': 0}


class BenchApacheServer(ApacheServer):
    """Apache ZooKeeper with a heap big enough for the memory point (the test harness uses 512 MiB)."""

    heap = '2g'

    def command(self):
        return [('-Xmx%s' % self.heap) if part.startswith('-Xmx') else part for part in super().command()]


def load(binary, port, pid, op, sessions, inflight, seconds, warmup, size=1024, znodes=1000, random_values=False):
    command = [binary, 'bench', 'load', '--hosts', '127.0.0.1:%d' % port, '--op', op, '--sessions', str(sessions),
               '--inflight', str(inflight), '--seconds', str(seconds), '--warmup', str(warmup), '--size', str(size),
               '--znodes', str(znodes), '--server-pid', str(pid), '--json'] + (['--random-values'] if random_values else [])
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + warmup + 600)
    if out.returncode != 0:
        raise RuntimeError('load failed (%s): %s %s' % (' '.join(command), out.stdout, out.stderr))
    return json.loads(out.stdout)


def device_of(path):
    """The block device (its /sys/block name) holding `path`, e.g. vda."""
    st = os.stat(path)
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    for name in os.listdir('/sys/block'):
        with open('/sys/block/%s/dev' % name) as f:
            if f.read().strip() == '%d:%d' % (major, minor):
                return name
        for part in os.listdir('/sys/block/%s' % name):
            dev = '/sys/block/%s/%s/dev' % (name, part)
            if os.path.exists(dev):
                with open(dev) as f:
                    if f.read().strip() == '%d:%d' % (major, minor):
                        return name
    raise RuntimeError('no block device for %s' % path)


def sectors_written(device):
    """Sectors (512 B) the block device has written since boot (/sys/block/DEV/stat field 7)."""
    with open('/sys/block/%s/stat' % device) as f:
        return int(f.read().split()[6])


def disk_bytes_per_write(binary, server, device, seconds, idle_seconds=5):
    """Device bytes written per acknowledged 1 KiB set of random bytes (set 32 x 100), the
    device's idle rate (measured just before) subtracted; the run includes the server's
    snapshots and purges, and the generator's setup and cleanup of its 1000 znodes."""
    os.sync()
    before_idle = sectors_written(device)
    time.sleep(idle_seconds)
    idle_rate = (sectors_written(device) - before_idle) / idle_seconds
    before = sectors_written(device)
    started = time.monotonic()
    report = load(binary, server.port, server_pid(server), 'set', 32, 100, seconds, 0, random_values=True)
    # What the server wrote but the device has not yet: let writeback finish (the server's own
    # fsyncs already pushed everything it acknowledged).
    os.sync()
    elapsed = time.monotonic() - started
    written = (sectors_written(device) - before - idle_rate * elapsed) * 512
    return {'bytesPerWrite': written / max(1, report['operations']), 'operations': report['operations'],
            'operationsPerSecond': report['operationsPerSecond'], 'idleSectorsPerSecond': idle_rate,
            'seconds': elapsed}


def fresh_servers(tag, paddock_bin):
    """A new (name, server) pair for one measurement, ZooKeeper first; started by the caller."""
    return (('zookeeper', BenchApacheServer('vs-apache-' + tag, extra_cfg=BENCH_CFG)),
            ('paddock', PaddockServer('vs-paddock-' + tag, paddock_bin, extra_cfg=BENCH_CFG)))


def rss_kib(pid):
    """VmRSS and its anonymous / file-backed parts (KiB) from /proc/PID/status."""
    fields = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            key = line.split(':')[0]
            if key in ('VmRSS', 'RssAnon', 'RssFile'):
                fields[key] = int(line.split()[1])
    return fields


def server_pid(server):
    # The JVM / paddock is the process group leader started by the harness.
    return server.proc.pid


def restart_seconds(server):
    server.proc.terminate()
    server.proc.wait(timeout=60)
    started = time.monotonic()
    server.start(ready_timeout=600)
    return time.monotonic() - started


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--paddock-bin', default=os.path.join(ROOT, '.build', 'release', 'paddock'))
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--seconds', type=float, default=5)
    ap.add_argument('--warmup', type=float, default=2)
    ap.add_argument('--full', action='store_true', help='the whole matrix: get/set/create/mixed:0.9 x 1/8/32 sessions x 1/16/100 in flight, 3 rounds')
    ap.add_argument('--rss-znodes', type=int, default=1000000)
    ap.add_argument('--restart-znodes', type=int, default=200000)
    ap.add_argument('--zookeeper-heap', default='2g', help='-Xmx of the Apache ZooKeeper JVM')
    ap.add_argument('--json', action='store_true')
    ap.add_argument('--points', default='',
                    help='load points to run instead of the default list, e.g. set:1:1,create:32:1 (op:sessions:inflight)')
    ap.add_argument('--only', default='points,memory,restart',
                    help='comma-separated parts to run: points, memory, restart, disk, sustained (default: the first three)')
    ap.add_argument('--disk-seconds', type=float, default=10, help='length of the device-bytes run (--only disk)')
    ap.add_argument('--sustained-seconds', type=float, default=60, help='length of the sustained set run (--only sustained)')
    args = ap.parse_args()
    parts = set(args.only.split(','))

    if args.full:
        args.rounds = max(args.rounds, 3)
        points = [(op, s, k) for op in ('get', 'set', 'create', 'mixed:0.9') for s in (1, 8, 32) for k in (1, 16, 100)]
    else:
        points = [('set', 1, 1), ('get', 32, 100), ('set', 32, 100), ('create', 32, 100), ('mixed:0.9', 32, 100)]
    if args.points:
        points = [(op, int(s), int(k)) for op, s, k in (p.rsplit(':', 2) for p in args.points.split(','))]
    if 'points' not in parts:
        points = []

    BenchApacheServer.heap = args.zookeeper_heap
    results = []
    for op, sessions, inflight in points:
        # A fresh pair per point: create points leave their znodes behind (millions of 1 KiB
        # nodes over the full matrix, more than ZooKeeper's heap holds), and every point should
        # start from the same small tree on both sides.
        a = BenchApacheServer('vs-apache', extra_cfg=BENCH_CFG)
        b = PaddockServer('vs-paddock', args.paddock_bin, extra_cfg=BENCH_CFG)
        try:
            a.start(120)
            b.start(120)
            best = {}
            for _ in range(args.rounds):
                for name, server in (('zookeeper', a), ('paddock', b)):
                    report = load(args.paddock_bin, server.port, server_pid(server), op, sessions, inflight,
                                  args.seconds, args.warmup)
                    if name not in best or report['operationsPerSecond'] > best[name]['operationsPerSecond']:
                        best[name] = report
            results.append({'op': op, 'sessions': sessions, 'inflight': inflight, **best})
            print_point(results[-1], file=sys.stderr)
        finally:
            a.stop()
            b.stop()

    # Memory: fresh servers (so the load points' trees do not count), a tree of small znodes
    # loaded through the same wire protocol.
    memory = {}
    if 'memory' in parts:
        a = BenchApacheServer('vs-apache-memory', extra_cfg=BENCH_CFG)
        b = PaddockServer('vs-paddock-memory', args.paddock_bin, extra_cfg=BENCH_CFG)
        try:
            for name, server in (('zookeeper', a), ('paddock', b)):
                server.start(120)
                load(args.paddock_bin, server.port, server_pid(server), 'get', 1, 1, 0.2, 0, size=100,
                     znodes=args.rss_znodes)
                memory[name] = rss_kib(server_pid(server))
                print('RSS after %d znodes of 100 B: %s %s' % (
                    args.rss_znodes, name, ', '.join('%s %d MiB' % (k, v // 1024) for k, v in memory[name].items())),
                    file=sys.stderr)
                server.stop()
        finally:
            a.stop()
            b.stop()

    # Device bytes per acknowledged write: fresh servers one after the other, same disk.
    disk = {}
    if 'disk' in parts:
        for name, server in fresh_servers('disk', args.paddock_bin):
            try:
                server.start(120)
                device = device_of(server.workdir)
                disk[name] = disk_bytes_per_write(args.paddock_bin, server, device, args.disk_seconds)
                print('device bytes per acknowledged 1 KiB random set (32 x 100, %.0f s on %s): %s %.0f B (%.0f sets/s)' % (
                    args.disk_seconds, device, name, disk[name]['bytesPerWrite'], disk[name]['operationsPerSecond']),
                    file=sys.stderr)
            finally:
                server.stop()
        if len(disk) == 2:
            print('ratio paddock/zookeeper: %.2f' % (disk['paddock']['bytesPerWrite'] / max(1, disk['zookeeper']['bytesPerWrite'])),
                  file=sys.stderr)

    # Sustained writes: set 32 x 100 of 1 KiB random values for --sustained-seconds on a fresh
    # server of each (one after the other: they would share the disk), the per-second series printed.
    sustained = {}
    if 'sustained' in parts:
        for name, server in fresh_servers('sustained', args.paddock_bin):
            try:
                server.start(120)
                sustained[name] = load(args.paddock_bin, server.port, server_pid(server), 'set', 32, 100,
                                       args.sustained_seconds, 0, random_values=True)
            finally:
                server.stop()
        z, p = sustained['zookeeper'], sustained['paddock']
        print('sustained set 32 x 100, 1 KiB random values, %.0f s: ZooKeeper %.0f ops/s, Paddock %.0f ops/s (x%.2f)' % (
            args.sustained_seconds, z['operationsPerSecond'], p['operationsPerSecond'],
            p['operationsPerSecond'] / max(1.0, z['operationsPerSecond'])), file=sys.stderr)
        zs, ps = z.get('operationsPerSecondSeries') or [], p.get('operationsPerSecondSeries') or []
        print('per second (ZooKeeper / Paddock / ratio): ' + '  '.join(
            '%d:%.0f/%.0f/%.2f' % (i + 1, a, b, b / max(1.0, a)) for i, (a, b) in enumerate(zip(zs, ps))), file=sys.stderr)
        if zs and ps:
            ratios = [b / max(1.0, a) for a, b in zip(zs, ps)]
            print('per-second ratio: min %.2f, median %.2f; slowest Paddock second %.0f ops/s, slowest ZooKeeper second %.0f' % (
                min(ratios), sorted(ratios)[len(ratios) // 2], min(ps), min(zs)), file=sys.stderr)

    # Restart: a fresh pair of servers with a 1 KiB tree.
    restart = {}
    a = BenchApacheServer('vs-apache-restart', extra_cfg=BENCH_CFG)
    b = PaddockServer('vs-paddock-restart', args.paddock_bin, extra_cfg=BENCH_CFG)
    try:
        for name, server in (('zookeeper', a), ('paddock', b)) if 'restart' in parts else ():
            server.start(120)
            load(args.paddock_bin, server.port, server_pid(server), 'get', 1, 1, 0.2, 0, size=1024,
                 znodes=args.restart_znodes)
            restart[name] = restart_seconds(server)
            count = four_letter('127.0.0.1', server.port, 'mntr')
            restart[name + '_znodes'] = next((int(l.split('\t')[1]) for l in count.splitlines() if l.startswith('zk_znode_count')), -1)
    finally:
        a.stop()
        b.stop()

    summary = {'points': results, 'rss_kib': memory, 'restart': restart, 'disk': disk, 'sustained': sustained,
               'uptime': open('/proc/loadavg').read().split()[:3], 'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print_table(summary, args)
    return 0


def print_point(point, file=sys.stdout):
    z, p = point['zookeeper'], point['paddock']
    print('%-10s %3d x %-4d ops/s zk %9.0f  paddock %9.0f  (x%.2f)  p50/p99 us zk %6d/%-7d paddock %6d/%-7d  '
          'server CPU us/op zk %6.2f paddock %6.2f' % (
              point['op'], point['sessions'], point['inflight'], z['operationsPerSecond'], p['operationsPerSecond'],
              p['operationsPerSecond'] / max(1.0, z['operationsPerSecond']), z['latencyMicrosecondsP50'],
              z['latencyMicrosecondsP99'], p['latencyMicrosecondsP50'], p['latencyMicrosecondsP99'],
              z.get('serverCPUMicrosecondsPerOperation') or -1, p.get('serverCPUMicrosecondsPerOperation') or -1), file=file)


def print_table(summary, args):
    print('Paddock vs Apache ZooKeeper 3.8.0 (Debian), standalone, forceSync=yes, %s, load average %s' % (
        summary['date'], ' '.join(summary['uptime'])))
    print('best of %d alternating rounds, %.0f s each after %.0f s warm-up, 1 KiB values, generator: paddock bench load' % (
        args.rounds, args.seconds, args.warmup))
    print()
    print('| op | sessions x in flight | ZooKeeper ops/s | Paddock ops/s | ratio | ZK p50/p99 us | Paddock p50/p99 us | ZK server CPU us/op | Paddock server CPU us/op |')
    print('|---|---|---|---|---|---|---|---|---|')
    for point in summary['points']:
        z, p = point['zookeeper'], point['paddock']
        print('| %s | %d x %d | %.0f | %.0f | %.2f | %d / %d | %d / %d | %.2f | %.2f |' % (
            point['op'], point['sessions'], point['inflight'], z['operationsPerSecond'], p['operationsPerSecond'],
            p['operationsPerSecond'] / max(1.0, z['operationsPerSecond']), z['latencyMicrosecondsP50'],
            z['latencyMicrosecondsP99'], p['latencyMicrosecondsP50'], p['latencyMicrosecondsP99'],
            z.get('serverCPUMicrosecondsPerOperation') or -1, p.get('serverCPUMicrosecondsPerOperation') or -1))
    rss = summary['rss_kib']
    print()
    if rss:
        z, p = rss['zookeeper'], rss['paddock']
        print('RSS after loading %d znodes of 100 B into a fresh server: ZooKeeper %d MiB, Paddock %d MiB (ratio %.2f); '
              'anonymous / file-backed: ZooKeeper %d / %d MiB, Paddock %d / %d MiB' % (
                  args.rss_znodes, z['VmRSS'] // 1024, p['VmRSS'] // 1024, p['VmRSS'] / max(1, z['VmRSS']),
                  z['RssAnon'] // 1024, z['RssFile'] // 1024, p['RssAnon'] // 1024, p['RssFile'] // 1024))
    restart = summary['restart']
    if restart:
        print('Restart of a %d x 1 KiB tree until srvr answers: ZooKeeper %.2f s, Paddock %.2f s (ratio %.2f)' % (
            args.restart_znodes, restart['zookeeper'], restart['paddock'], restart['paddock'] / max(0.001, restart['zookeeper'])))


if __name__ == '__main__':
    sys.exit(main())
