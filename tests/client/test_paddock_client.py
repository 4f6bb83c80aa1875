"""PaddockClient (the Swift client) against real servers, through `paddock client`:
- `check` runs every operation, watch, multi, pipelined requests and a chroot against Apache
  ZooKeeper 3.8 (Debian's) and against Paddock, with the same expectations on both;
- `follow` keeps one session writing a CAS counter through the kill -9 of the members it talks
  to (a 3-member Paddock ensemble, then a 3-member Apache one): the session must survive (moved
  to another member with its watches), its ephemeral kept, no read going back in time.
Every wait is bounded."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(ROOT, 'tests', 'differential'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'ensemble'))

from servers import ApacheServer, PaddockServer  # noqa: E402
from mixed_ensemble import ApacheMember, PaddockServerMember, ensemble, four_letter, settled, stop, wait_for  # noqa: E402

BINARY = os.environ.get('PADDOCK_BIN', os.path.join(ROOT, '.build', 'debug', 'paddock'))


def run_check(address):
    result = subprocess.run([BINARY, 'client', 'check', '--server', address], capture_output=True, text=True, timeout=180)
    print(result.stdout[-4000:])
    assert result.returncode == 0, result.stderr[-4000:]
    steps = [line for line in result.stdout.splitlines() if line.startswith('ok  ')]
    assert len(steps) >= 40, steps  # every step of `paddock client check` ran
    return steps


def follow_through(hosts, seconds, session_timeout, disruption):
    """Runs `paddock client follow` while `disruption()` happens; returns its JSON summary."""
    # Files, not pipes: nothing reads them until the end, and a full pipe would block the client.
    out_file, err_file = tempfile.TemporaryFile(mode='w+'), tempfile.TemporaryFile(mode='w+')
    proc = subprocess.Popen([BINARY, 'client', 'follow', '--server', hosts, '--seconds', str(seconds),
                             '--session-timeout', str(session_timeout)], stdout=out_file, stderr=err_file, text=True)
    try:
        disruption()
        proc.wait(timeout=seconds + 90)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    print(summary)
    return summary


@pytest.mark.parametrize('kind', ['apache', 'paddock'])
def test_every_operation_through_paddock_client(kind):
    server = ApacheServer('client-check') if kind == 'apache' else PaddockServer('client-check', BINARY)
    with server.start():
        run_check('127.0.0.1:%d' % server.port)


@pytest.mark.parametrize('member_kind', [PaddockServerMember, ApacheMember], ids=['paddock-ensemble', 'apache-ensemble'])
def test_a_session_survives_members_killed_under_it(member_kind):
    layout = [(member_kind, 1, False), (member_kind, 2, False), (member_kind, 3, False)]
    with ensemble(layout, tick_ms=500) as members:
        for m in members:
            m.start()
        wait_for(lambda: settled(members), 90, 'the ensemble to settle')
        hosts = ','.join(m.address for m in members)

        def kill_each_member():
            # Kill each member in turn (restarting it before the next), whichever the client uses.
            time.sleep(3)
            for m in members:
                stop(m, signal.SIGKILL)
                wait_for(lambda: settled([x for x in members if x is not m]), 60, 'the other two to serve')
                m.start()
                wait_for(lambda: settled(members), 60, 'member %d back' % m.sid)
                time.sleep(1)

        summary = follow_through(hosts, 25, 10, kill_each_member)
        assert summary['survived'] and summary['ephemeralKept'], summary
        assert summary['acknowledged'] > 0 and summary['readRegressions'] == 0, summary
        assert summary['watchEvents'] >= summary['acknowledged'], summary
        assert 'expired' not in summary['states'] and 'closed' in summary['states'], summary


class CuttableProxy:
    """A TCP proxy in front of one server that can cut the client off: while cut, it closes the
    connections it carries and refuses new ones (its port stays bound), as a network partition
    between client and server would, the server itself running on."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.sockets = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.done.is_set():
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            if self.cut.is_set():
                client.close()
                continue
            server = socket.create_connection(('127.0.0.1', self.target_port), timeout=10)
            with self.lock:
                self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data or self.cut.is_set():
                    break
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.close()
            except OSError:
                pass

    def set_cut(self, cut):
        if cut:
            self.cut.set()
            with self.lock:
                for s in self.sockets:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                self.sockets = []
        else:
            self.cut.clear()

    def close(self):
        self.done.set()
        self.set_cut(True)
        self.thread.join(timeout=5)
        self.listener.close()


@pytest.mark.parametrize('kind', ['apache', 'paddock'])
def test_a_session_cut_off_past_its_timeout_expires(kind):
    """The client loses its server for longer than the session timeout while the server runs on:
    it goes suspended, then lost (Curator's name once the timeout has passed), and on reaching
    the server again learns the session expired."""
    extra = {'tickTime': 500, 'minSessionTimeout': 1000}
    server = (ApacheServer('client-expiry', extra_cfg=extra) if kind == 'apache'
              else PaddockServer('client-expiry', BINARY, extra_cfg=extra))
    with server.start():
        proxy = CuttableProxy(server.port)
        def zxid():
            answer = four_letter(server.port, 'srvr')
            return int(answer.partition('Zxid: ')[2].split()[0], 16) if 'Zxid: ' in answer else 0

        def cut_for_three_timeouts():
            first = zxid()
            wait_for(lambda: zxid() >= first + 10, 60, 'the client writing through the proxy')
            proxy.set_cut(True)
            time.sleep(6)  # the cut lasts three session timeouts: what the scenario is, not a wait
            # Reconnecting must find the session expired: its ephemeral gone from the server.
            wait_for(lambda: 'Sessions with Ephemerals (0)' in four_letter(server.port, 'dump'), 60,
                     'the server to expire the cut-off session')
            proxy.set_cut(False)

        try:
            summary = follow_through('127.0.0.1:%d' % proxy.port, 30, 2, cut_for_three_timeouts)
        finally:
            proxy.close()
        assert summary['acknowledged'] > 0 and not summary['survived'] and not summary['ephemeralKept'], summary
        states = summary['states']
        assert 'suspended' in states and 'lost' in states and 'expired' in states, summary
        assert states.index('suspended') < states.index('lost') < states.index('expired'), summary
