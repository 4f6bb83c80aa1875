"""A tool killed in the middle of reading a live server's log leaves its LMDB reader slot behind
(the slot would pin an old snapshot of the log, so LMDB could never reuse the pages freed since).
The server must clear such slots while it runs, not only when it next opens the log: here a
reader holding a read transaction on the live log (`paddock debug hold-reader`) is killed with
SIGKILL, and the server, still taking writes, must count the slot as cleared (mntr
zk_paddock_stale_readers_cleared)."""

import os
import select
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'differential'))

from servers import PaddockServer  # noqa: E402
from zkwire import Session, four_letter  # noqa: E402

BINARY = os.environ.get('PADDOCK_BIN', os.path.join(HERE, '..', '..', '.build', 'debug', 'paddock'))


def stale_readers_cleared(server):
    mntr = dict(l.split('\t', 1) for l in four_letter('127.0.0.1', server.port, 'mntr').splitlines() if '\t' in l)
    return int(mntr['zk_paddock_stale_readers_cleared'])


def test_a_reader_killed_mid_read_is_cleared_while_the_server_runs():
    server = PaddockServer('stale-readers', BINARY)
    try:
        server.start()
        session = Session('127.0.0.1', server.port)
        for i in range(200):
            assert session.create('/r%d' % i, b'x' * 100).err == 0
        assert stale_readers_cleared(server) == 0
        # A reader of the live log (as `paddock data dump` is while it reads) killed mid-read.
        reader = subprocess.Popen([BINARY, 'debug', 'hold-reader', os.path.join(server.workdir, 'data'), '--seconds', '120'],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            readable, _, _ = select.select([reader.stdout], [], [], 60)
            assert readable and reader.stdout.readline().strip() == 'holding', \
                'the reader did not start: %s' % (reader.poll() is not None and reader.stderr.read())
        finally:
            reader.send_signal(signal.SIGKILL)
            reader.wait(timeout=30)
        # Writes keep the server's committing thread busy; it checks for dead readers at most
        # once a second.
        deadline = time.monotonic() + 60
        i = 0
        while stale_readers_cleared(server) < 1:
            assert time.monotonic() < deadline, 'the dead reader was not cleared within 60 s of writes'
            assert session.set_data('/r%d' % (i % 200), b'y%d' % i).err == 0
            i += 1
        session.close()
    finally:
        server.stop()
