"""Migration round trip: Apache ZooKeeper 3.8 -> `paddock data import-zk` -> Paddock ->
`paddock data export-zk` -> Apache ZooKeeper 3.8, with the same tree (data, ACLs, every Stat
field, children) read by a client at each step, the same session (id and password) still valid,
and the same last zxid.

Apache runs with a small snapCount, so its data directory holds several (fuzzy) snapshots and
logs, and the last txns exist only in the log. Every server is stopped and every temporary
directory removed, whatever happens; each wait is bounded.
"""

import json
import os
import shutil
import time

import pytest

import zkmigrate
from zkmigrate import CFG, PADDOCK_BIN, diff_trees, drop, dump_tree, load_workload, paddock, reattach, server_zxid
from servers import ApacheServer, PaddockServer, write_cfg



@pytest.fixture(autouse=True)
def paddock_binary_built():
    # No skip: a missing binary fails the suite instead of passing it by skipping.
    assert os.path.exists(PADDOCK_BIN), 'paddock binary not built: %s (run swift build)' % PADDOCK_BIN


class Servers:
    """Every server started by a test, stopped (and its directory removed) at the end."""

    def __init__(self):
        self.servers = []

    def add(self, server):
        server.keep_dir = True
        self.servers.append(server)
        return server

    def close(self):
        for server in self.servers:
            server.stop()
            shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture
def servers():
    started = Servers()
    yield started
    started.close()


def data_dir(server):
    return os.path.join(server.workdir, 'data')


def log_dir(server):
    return os.path.join(server.workdir, 'datalog')


def configure(server, cfg, separate_log_dir):
    """The same zoo.cfg keys for every server; with a dataLogDir of its own when asked."""
    if separate_log_dir:
        server.cfg = write_cfg(server.workdir, server.port, dict(cfg, dataLogDir=log_dir(server)))
    return server


def assert_same(expected, actual, what):
    problems = diff_trees(expected, actual)
    assert not problems, '%s differs from Apache ZooKeeper (%d nodes vs %d):\n  %s' % (
        what, len(expected), len(actual), '\n  '.join(problems))


def round_trip(servers, extra_cfg, scale, snapshot_suffix='', separate_log_dir=False):
    cfg = dict(CFG, **extra_cfg)
    started = time.monotonic()
    apache = configure(servers.add(ApacheServer('migrate-apache', extra_cfg=cfg)), cfg, separate_log_dir).start()
    raw = load_workload(apache, scale=scale)
    expected = dump_tree(apache)
    last_zxid = server_zxid(apache)
    drop(raw)
    apache.stop()
    files = os.listdir(os.path.join(data_dir(apache), 'version-2'))
    files += os.listdir(os.path.join(log_dir(apache) if separate_log_dir else data_dir(apache), 'version-2'))
    assert sum(f.startswith('snapshot.') for f in files) >= 3 and sum(f.startswith('log.') for f in files) >= 3, files

    # import-zk into a fresh Paddock data directory, then Paddock on the same zoo.cfg keys.
    target = configure(servers.add(PaddockServer('migrate-paddock', PADDOCK_BIN, extra_cfg=cfg)), cfg, separate_log_dir)
    log_options = ['--zk-log-dir', log_dir(apache), '--data-log-dir', log_dir(target)] if separate_log_dir else []
    code, out, err = paddock('import-zk', data_dir(apache), data_dir(target), '--json', *log_options)
    assert code == 0, 'import-zk failed (%d): %s%s' % (code, out, err)
    summary = json.loads(out)
    assert summary['znodes'] == len(expected), summary
    assert int(summary['lastZxid'], 16) == last_zxid, summary
    assert summary['sessions'] >= 1 and summary['txnsReplayed'] > 0 and summary['digestsChecked'] > 0, summary
    assert summary['snapshotUsed'].endswith(snapshot_suffix) and not summary['skippedSnapshots'], summary
    # The target is not empty any more: a second import is refused.
    code, out, err = paddock('import-zk', data_dir(apache), data_dir(target), *log_options)
    assert code == 2 and 'not empty' in err, (code, out, err)
    if separate_log_dir:
        assert any(f.startswith('log.') for f in os.listdir(os.path.join(log_dir(apache), 'version-2')))
        assert os.path.exists(os.path.join(log_dir(target), 'log', 'data.mdb'))
    target.start()
    assert server_zxid(target) == last_zxid
    session = reattach(target, raw)
    assert_same(expected, dump_tree(target), 'the tree Paddock serves after import-zk')
    drop(session)
    paddock_zxid = server_zxid(target)  # the dump's own session is a txn

    # export-zk (read-only, next to the live server), then Apache on the exported directory.
    back = configure(servers.add(ApacheServer('migrate-back', extra_cfg=cfg)), cfg, separate_log_dir)
    shutil.rmtree(data_dir(back))
    paddock_log = ['--data-log-dir', log_dir(target)] if separate_log_dir else []
    code, out, err = paddock('export-zk', data_dir(target), data_dir(back), '--json', *paddock_log)
    assert code == 0, 'export-zk failed (%d): %s%s' % (code, out, err)
    exported = json.loads(out)
    assert exported['znodes'] == len(expected) and int(exported['zxid'], 16) == paddock_zxid, exported
    target.stop()
    back.start()
    assert server_zxid(back) == paddock_zxid
    mntr = zkmigrate.zkwire.four_letter('127.0.0.1', back.port, 'mntr')
    assert 'zk_digest_mismatches_count\t0' in mntr, 'Apache found a digest mismatch loading the export:\n' + mntr
    session = reattach(back, raw)
    assert_same(expected, dump_tree(back), 'the tree Apache ZooKeeper serves after export-zk')
    # Apache keeps working on it: a write gets the next zxid.
    before = server_zxid(back)
    assert session.create('/after-export', b'x').err == 0
    assert server_zxid(back) == before + 1
    drop(session)
    return len(expected), time.monotonic() - started


def test_round_trip_plain_snapshots(servers):
    count, seconds = round_trip(servers, {}, scale=1.0)
    print('round trip of %d znodes in %.1f s' % (count, seconds))
    assert count >= 2000


@pytest.mark.parametrize('method', ['gz', 'snappy'])
def test_round_trip_compressed_snapshots(servers, method):
    # snappy also runs with a separate dataLogDir on every server (--zk-log-dir, --data-log-dir).
    round_trip(servers, {'snapshot.compression.method': method, 'snapCount': 100}, scale=0.25,
               snapshot_suffix='.' + method, separate_log_dir=method == 'snappy')
