"""SIGTERM stops `paddock server` gracefully (its ServiceGroup): it stops accepting, lets the log
batch in flight become durable and its replies go out, closes the sessions' connections (not the
sessions), closes the data directory and exits 0. A client writing throughout loses no
acknowledged write; a connected kazoo client sees its connection drop and, once the server is
back on the same data directory, resumes the same session with its ephemeral node."""

import os
import signal
import sys
import threading
import time

from kazoo.client import KazooClient, KazooState

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'differential'))

from servers import PaddockServer  # noqa: E402
from zkwire import Session, ZKWireError  # noqa: E402

BINARY = os.environ.get('PADDOCK_BIN', os.path.join(HERE, '..', '..', '.build', 'debug', 'paddock'))
EXIT_TIMEOUT_S = 15


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, 'timed out after %ss waiting for %s' % (timeout, what)
        time.sleep(0.02)  # poll interval, bounded by the deadline


class Writer(threading.Thread):
    """Creates /w/n0, /w/n1 … until its connection closes; remembers what the server acknowledged."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.session = Session('127.0.0.1', port)
        self.acknowledged = []
        self.ended = None

    def run(self):
        index = 0
        try:
            while True:
                path = '/w/n%d' % index
                if self.session.create(path, b'%d' % index).err == 0:
                    self.acknowledged.append(path)
                index += 1
        except (ZKWireError, OSError) as error:
            self.ended = error


def test_sigterm_drains_writes_keeps_sessions_and_exits_zero():
    server = PaddockServer('graceful', BINARY, keep_dir=True)
    client = None
    try:
        server.start()
        client = KazooClient(hosts='127.0.0.1:%d' % server.port, timeout=30.0,
                             connection_retry={'max_tries': -1, 'delay': 0.05, 'backoff': 1, 'max_delay': 0.2})
        states = []
        client.add_listener(states.append)
        client.start(timeout=15)
        client.create('/owned', b'mine', ephemeral=True)
        session_id = client.client_id[0]
        Session('127.0.0.1', server.port).create('/w', b'')
        writer = Writer(server.port)
        writer.start()
        wait_for(lambda: len(writer.acknowledged) >= 50, 30, 'the writer to get 50 acknowledgements')

        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        code = server.proc.wait(timeout=EXIT_TIMEOUT_S)
        elapsed = time.monotonic() - started
        assert code == 0, 'exit code %s after SIGTERM; log:\n%s' % (code, server.tail())
        writer.join(timeout=10)
        assert not writer.is_alive(), 'the writer hangs on a stopped server'
        # The kazoo client's connection dropped (it did not hang): it is suspended, not lost.
        wait_for(lambda: KazooState.SUSPENDED in states, 10, 'kazoo to see its connection drop')
        assert KazooState.LOST not in states
        log = server.tail(200)
        assert 'paddock: stopped' in log, log

        server.start()
        wait_for(lambda: client.state == KazooState.CONNECTED and client.connected, 30,
                 'kazoo to reconnect after the restart')
        assert client.client_id[0] == session_id, 'kazoo got a new session'
        data, stat = client.get('/owned')
        assert data == b'mine' and stat.ephemeralOwner == session_id
        assert KazooState.LOST not in states
        reader = Session('127.0.0.1', server.port)
        missing = [path for path in writer.acknowledged if reader.exists(path).err != 0]
        assert not missing, '%d acknowledged writes lost after SIGTERM, e.g. %s' % (len(missing), missing[:5])
        print('SIGTERM: exit 0 in %.2fs; %d acknowledged writes all present after restart'
              % (elapsed, len(writer.acknowledged)))
    finally:
        if client is not None:
            client.stop()
            client.close()
        server.keep_dir = False
        server.stop()
