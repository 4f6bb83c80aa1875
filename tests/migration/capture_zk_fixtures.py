"""Captures the Apache ZooKeeper 3.8 data directories that the Swift unit tests read
(Tests/ZKToolsTests/Fixtures/zookeeper/apache-3.8-<method>/): a small workload of every znode
kind run against the Debian package with a tiny snapCount (several fuzzy snapshots, logs that
overlap them, the last txns only in a log), once per snapshot compression. Next to each
`version-2/` goes `expected.json`: every znode as a client read it before the server stopped,
the last zxid, and the id of the session whose ephemerals survive.

Log files are preallocated to 64 MiB of zeros; they are cut 16 zero bytes after their last
entry (ZooKeeper reads a zero length as the end either way).

Usage: python3 tests/migration/capture_zk_fixtures.py  (rewrites the fixtures)
"""

import base64
import json
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import zkmigrate  # noqa: E402
from servers import ApacheServer  # noqa: E402

TARGET = os.path.join(zkmigrate.REPO, 'Tests', 'ZKToolsTests', 'Fixtures', 'zookeeper')


def log_data_end(path):
    """Offset just after the last complete entry (header 16 bytes; entry = 8 + 4 + n + 1)."""
    with open(path, 'rb') as f:
        data = f.read()
    offset = 16
    while offset + 12 <= len(data):
        length = struct.unpack('>i', data[offset + 8:offset + 12])[0]
        if length <= 0 or offset + 12 + length + 1 > len(data):
            break
        offset += 12 + length + 1
    return offset


def capture(method):
    name = 'apache-3.8-' + (method or 'plain')
    cfg = dict(zkmigrate.CFG, snapCount=20)
    if method:
        cfg['snapshot.compression.method'] = method
    apache = ApacheServer('capture', extra_cfg=cfg, keep_dir=True)
    try:
        apache.start()
        raw = zkmigrate.load_workload(apache, scale=0.05, big_bytes=2048)
        tree = zkmigrate.dump_tree(apache)
        last_zxid = zkmigrate.server_zxid(apache)
        zkmigrate.drop(raw)
        apache.stop()
        source = os.path.join(apache.workdir, 'data', 'version-2')
        target = os.path.join(TARGET, name)
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(os.path.join(target, 'version-2'))
        for file in sorted(os.listdir(source)):
            with open(os.path.join(source, file), 'rb') as f:
                data = f.read()
            if file.startswith('log.'):
                data = data[:log_data_end(os.path.join(source, file)) + 16]
            with open(os.path.join(target, 'version-2', file), 'wb') as f:
                f.write(data)
        nodes = {path: {'data': None if data is None else base64.b64encode(data).decode(),
                        'acl': [list(entry) for entry in acl], 'stat': list(stat), 'children': list(children)}
                 for path, (data, acl, stat, children) in tree.items()}
        with open(os.path.join(target, 'expected.json'), 'w') as f:
            # One znode per line, so a diff of a re-capture reads well.
            f.write('{"lastZxid": %d, "liveSession": %d, "nodes": {\n' % (last_zxid, raw.session_id))
            f.write(',\n'.join('%s: %s' % (json.dumps(path), json.dumps(nodes[path], sort_keys=True)) for path in sorted(nodes)))
            f.write('\n}}\n')
        print('%s: %d znodes, last zxid 0x%x, files %s' % (name, len(nodes), last_zxid, sorted(os.listdir(source))))
    finally:
        apache.stop()
        shutil.rmtree(apache.workdir, ignore_errors=True)


if __name__ == '__main__':
    for method in ('', 'gz', 'snappy'):
        capture(method)
