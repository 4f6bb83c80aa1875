#!/usr/bin/env python3
"""Crash test: acknowledged writes survive SIGKILL.

Several writer threads, each in its own subtree, do creates, setData, deletes and multis against
a Paddock server and remember every write the server acknowledged. At random moments the server
is killed with SIGKILL — in every other round on purpose while a snapshot is being written (the
kill follows the moment a snapshot's temporary file appears; snapCount is small), in the rest at
a random moment — restarted on the same data directory, and every acknowledged write is checked: a node
whose last acknowledged op was a create/set has exactly that data and version, a node whose last
acknowledged op was a delete is gone. An op that was in flight at the kill may or may not have
been applied; the check accepts either outcome for that one path, nothing else. Recovery itself
checks the log's CRC chain and that replay reproduces the tree digest recorded in the log, so a
server that starts again has also passed those checks.

It fails when nothing was checked (zero acknowledged writes or zero path checks prove nothing),
counts a malformed reply as a failure (only a closed connection means the server died), reports
how many kills landed during a snapshot, and prints its seed.

    python3 tests/crash/crash_test.py --paddock-bin .build/debug/paddock --rounds 10 --seed N
"""

import argparse
import os
import random
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'differential'))

from servers import PaddockServer  # noqa: E402
from zkwire import Session, Op, ConnectionClosed, ZKWireError  # noqa: E402
import zkwire  # noqa: E402


class Writer(threading.Thread):
    """One session writing in /crash/w<i>; keeps the acknowledged state of its nodes."""

    def __init__(self, index, port, seed, stop):
        super().__init__(daemon=True)
        self.index = index
        self.port = port
        self.rng = random.Random(seed)
        self.stop_event = stop
        self.base = '/crash/w%d' % index
        self.state = {}          # path -> (data, version) acknowledged, or None = acknowledged deleted
        self.in_flight = set()   # paths whose last op was sent but not acknowledged
        self.acked = 0
        self.error = None

    def run(self):
        try:
            session = Session('127.0.0.1', self.port, timeout_ms=30000)
        except (OSError, ZKWireError):
            return
        try:
            while not self.stop_event.is_set():
                self.step(session)
        except (ConnectionClosed, OSError):
            return  # the server died under us: in-flight paths stay uncertain
        except ZKWireError as e:
            # Bytes that are not a valid reply: a server bug, not a crash.
            self.error = AssertionError('malformed reply: %s' % e)
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = e

    def step(self, session):
        rng = self.rng
        existing = [p for p, v in self.state.items() if v is not None]
        choice = rng.random()
        if choice < 0.4 or not existing:
            path = '%s/n%d' % (self.base, rng.randrange(200))
            data = os.urandom(rng.randrange(1, 300))
            self.in_flight.add(path)
            reply = session.create(path, data)
            if reply.err == 0:
                self.state[path] = (data, 0)
            elif reply.err != -110 or self.state.get(path) is None:
                raise AssertionError('create %s: error %d, but the acknowledged state is %s' % (
                    path, reply.err, 'absent' if self.state.get(path) is None else 'present'))
            self.in_flight.discard(path)
        elif choice < 0.75:
            path = rng.choice(existing)
            data = os.urandom(rng.randrange(0, 300))
            version = self.state[path][1]
            self.in_flight.add(path)
            reply = session.set_data(path, data, version)
            if reply.err != 0:
                raise AssertionError('setData %s version %d: error %d' % (path, version, reply.err))
            self.state[path] = (data, version + 1)
            self.in_flight.discard(path)
        elif choice < 0.9:
            path = rng.choice(existing)
            self.in_flight.add(path)
            reply = session.delete(path, self.state[path][1])
            if reply.err != 0:
                raise AssertionError('delete %s: error %d' % (path, reply.err))
            self.state[path] = None
            self.in_flight.discard(path)
        else:
            # A multi: create two fresh nodes atomically.
            first = '%s/m%d' % (self.base, rng.randrange(10 ** 9))
            second = first + 'b'
            data = os.urandom(32)
            ops = [('create', first, data, zkwire.OPEN_ACL_UNSAFE, 0),
                   ('create', second, data, zkwire.OPEN_ACL_UNSAFE, 0)]
            self.in_flight.update((first, second))
            reply = session.call(Op.multi, zkwire.enc_multi(ops))
            if reply.err == 0 and all(kind != 'error' for kind, _, _ in reply.resp['results']):
                self.state[first] = (data, 0)
                self.state[second] = (data, 0)
                self.in_flight.difference_update((first, second))
        self.acked += 1


def snapshot_in_progress(server):
    """Whether a snapshot is being written: its temporary file exists (FORMAT.md section 1)."""
    directory = os.path.join(server.workdir, 'data', 'snapshots')
    try:
        return any(name.startswith('.snapshot.') and name.endswith('.tmp') for name in os.listdir(directory))
    except FileNotFoundError:
        return False


def kill_during_snapshot(server, rng, limit_seconds=3.0):
    """Waits (bounded) for a snapshot to start, then kills at once; a random kill if none starts."""
    deadline = time.monotonic() + limit_seconds
    time.sleep(rng.uniform(0.05, 0.3))
    while time.monotonic() < deadline and not snapshot_in_progress(server):
        time.sleep(0.0005)
    server.proc.kill()


def verify(writers, port):
    session = Session('127.0.0.1', port, timeout_ms=30000)
    checked = 0
    for writer in writers:
        for path, expected in writer.state.items():
            if path in writer.in_flight:
                continue
            reply = session.get_data(path)
            if expected is None:
                if reply.err != -101:
                    raise AssertionError('%s: acknowledged delete, but the node is there (err %d)' % (path, reply.err))
            else:
                if reply.err != 0:
                    raise AssertionError('%s: acknowledged write lost (err %d)' % (path, reply.err))
                data, stat = reply.resp['data'], reply.resp['stat']
                if data != expected[0] or stat.version != expected[1]:
                    raise AssertionError('%s: expected version %d with %d bytes, found version %d with %d bytes'
                                         % (path, expected[1], len(expected[0]), stat.version, len(data or b'')))
            checked += 1
        # An in-flight op may or may not have landed: learn what the server says and go on from it.
        for path in list(writer.in_flight):
            reply = session.get_data(path)
            writer.state[path] = (reply.resp['data'], reply.resp['stat'].version) if reply.err == 0 else None
        writer.in_flight.clear()
    session.close()
    return checked


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--paddock-bin', default=os.path.join(HERE, '..', '..', '.build', 'debug', 'paddock'))
    ap.add_argument('--rounds', type=int, default=10)
    ap.add_argument('--writers', type=int, default=6)
    ap.add_argument('--seed', type=int, default=None)
    ap.add_argument('--snap-count', type=int, default=300)
    ap.add_argument('--time-limit', type=float, default=600.0)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2 ** 31)
    print('crash test: seed %d, %d rounds, %d writers' % (seed, args.rounds, args.writers), flush=True)
    rng = random.Random(seed)
    server = PaddockServer('crash', args.paddock_bin, extra_cfg={'snapCount': args.snap_count})
    deadline = time.monotonic() + args.time_limit
    writers = []
    total_checked = 0
    total_acked = 0
    kills_during_snapshot = 0
    try:
        server.start()
        setup = Session('127.0.0.1', server.port)
        setup.create('/crash')
        for i in range(args.writers):
            setup.create('/crash/w%d' % i)
        setup.close()
        for round_index in range(args.rounds):
            if time.monotonic() > deadline:
                raise TimeoutError('time limit reached after %d rounds' % round_index)
            stop = threading.Event()
            threads = [Writer(i, server.port, rng.randrange(2 ** 31), stop) for i in range(args.writers)]
            for i, thread in enumerate(threads):
                if writers:
                    thread.state, thread.in_flight = writers[i].state, writers[i].in_flight
                thread.start()
            if round_index % 2 == 1:
                kill_during_snapshot(server, rng)
            else:
                time.sleep(rng.uniform(0.2, 1.5))  # the kill moment is random by design
                server.proc.kill()
            server.proc.wait(timeout=10)
            # The temporary file of a snapshot the kill interrupted is still there (startup deletes it).
            during_snapshot = snapshot_in_progress(server)
            kills_during_snapshot += during_snapshot
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
                if thread.is_alive():
                    raise TimeoutError('writer %d did not stop' % thread.index)
                if thread.error:
                    raise thread.error
            writers = threads
            acked = sum(t.acked for t in threads)
            total_acked += acked
            server.start()
            checked = verify(writers, server.port)
            total_checked += checked
            print('round %d: %d writes acknowledged, killed%s, restarted: %d paths checked' % (
                round_index + 1, acked, ' during a snapshot' if during_snapshot else '', checked), flush=True)
            # the next round reuses the restarted server
        if total_acked == 0 or total_checked == 0:
            raise AssertionError('nothing was checked: %d writes acknowledged, %d path checks' % (total_acked, total_checked))
        print('crash test PASS: %d rounds, %d writes acknowledged, %d path checks, %d of %d kills during a snapshot, seed %d' % (
            args.rounds, total_acked, total_checked, kills_during_snapshot, args.rounds, seed))
        return 0
    except Exception as e:  # noqa: BLE001
        print('crash test FAIL (seed %d): %s: %s' % (seed, type(e).__name__, e))
        print(server.tail(40))
        return 1
    finally:
        server.stop()


if __name__ == '__main__':
    sys.exit(main())
