"""Retention: with autopurge on, only the newest snapRetainCount snapshots stay, the log before
the oldest kept one goes, and the server still restarts with every write and `paddock data
verify` passes."""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'differential'))

from servers import PaddockServer, write_cfg  # noqa: E402
from zkwire import Session, four_letter  # noqa: E402

BINARY = os.environ.get('PADDOCK_BIN', os.path.join(HERE, '..', '..', '.build', 'debug', 'paddock'))
CONFIG = {'snapCount': 40, 'autopurge.purgeInterval': 1, 'autopurge.snapRetainCount': 3}


def snapshots(server):
    directory = os.path.join(server.workdir, 'data', 'snapshots')
    return sorted(name for name in os.listdir(directory) if name.startswith('snapshot.'))


def test_autopurge_keeps_the_newest_snapshots_and_what_they_need():
    server = PaddockServer('purge', BINARY, extra_cfg=CONFIG)
    server.keep_dir = True
    try:
        server.start()
        session = Session('127.0.0.1', server.port)
        for i in range(600):
            assert session.create('/p%d' % i, b'v%d' % i).err == 0
        deadline = time.monotonic() + 60
        while True:
            mntr = dict(l.split('\t', 1) for l in four_letter('127.0.0.1', server.port, 'mntr').splitlines() if '\t' in l)
            made = int(mntr.get('zk_cnt_snapshottime', '0'))  # snapshots written (zk_snap_count: SNAP syncs)
            kept = snapshots(server)
            if made >= 5 and len(kept) <= 3:
                break
            assert time.monotonic() < deadline, 'waited 60 s for >= 5 snapshots with <= 3 kept; made %d, kept %s' % (made, kept)
            time.sleep(0.1)
        session.close()
        server.stop()
        status = subprocess.run([BINARY, 'data', 'status', os.path.join(server.workdir, 'data'), '--json'],
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        verify = subprocess.run([BINARY, 'data', 'verify', os.path.join(server.workdir, 'data')],
                                capture_output=True, text=True, timeout=120)
        assert verify.returncode == 0, 'verify after purge: ' + verify.stdout + verify.stderr
        server.cfg = write_cfg(server.workdir, server.port, CONFIG)
        server.start()
        session = Session('127.0.0.1', server.port)
        for i in (0, 299, 599):
            reply = session.get_data('/p%d' % i)
            assert reply.err == 0 and reply.resp['data'] == b'v%d' % i
        session.close()
    finally:
        server.keep_dir = False
        server.stop()
