"""A full transaction log (quota reached): writes fail with an error, reads keep working,
nothing acknowledged is damaged, and writes work again once there is room."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'differential'))

from servers import PaddockServer, write_cfg  # noqa: E402
from zkwire import Session  # noqa: E402

BINARY = os.environ.get('PADDOCK_BIN', os.path.join(HERE, '..', '..', '.build', 'debug', 'paddock'))
SYSTEM_ERROR = -1


def fill_until_full(session, prefix, value, limit=400):
    acknowledged = []
    for i in range(limit):
        reply = session.create('%s%d' % (prefix, i), value)
        if reply.err == SYSTEM_ERROR:
            return acknowledged
        assert reply.err == 0, 'create %s%d: unexpected error %d' % (prefix, i, reply.err)
        acknowledged.append('%s%d' % (prefix, i))
    raise AssertionError('the log never filled up after %d writes of %d bytes' % (limit, len(value)))


def test_full_log_refuses_writes_keeps_reads_and_recovers():
    server = PaddockServer('full', BINARY, extra_cfg={'paddock.logQuotaMB': 2})
    server.keep_dir = True
    value = os.urandom(60 * 1024)
    try:
        server.start()
        session = Session('127.0.0.1', server.port)
        written = fill_until_full(session, '/n', value)
        assert len(written) >= 3, 'expected a few writes to fit in a 2 MiB log, got %d' % len(written)
        # Still full: writes keep failing, the session stays usable, reads keep working.
        assert session.create('/after', value).err == SYSTEM_ERROR
        for path in written:
            reply = session.get_data(path)
            assert reply.err == 0 and reply.resp['data'] == value, 'read of %s failed while full' % path
        session.close()
        server.stop()  # keep_dir: the data directory stays for the restart
        # Room again (a larger quota): everything acknowledged is there and writes work.
        server.cfg = write_cfg(server.workdir, server.port, {'paddock.logQuotaMB': 64})
        server.start()
        session = Session('127.0.0.1', server.port)
        for path in written:
            reply = session.get_data(path)
            assert reply.err == 0 and reply.resp['data'] == value, '%s lost after the log was full' % path
        assert session.create('/after', value).err == 0
        session.close()
    finally:
        server.keep_dir = False
        server.stop()
