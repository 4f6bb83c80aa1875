"""pytest: zkwire encodings vs the golden fixtures, and a short Apache-vs-Apache run.

    python3 -m pytest -q tests/differential
"""
import glob
import os
import shutil
import struct
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import zkwire  # noqa: E402
from zkwire import Writer, Op  # noqa: E402

FIXTURES = os.path.join(HERE, '..', '..', 'Tests', 'ZKWireTests', 'Fixtures')


def load(name):
    frames = []
    with open(os.path.join(FIXTURES, name + '.hex')) as f:
        for line in f:
            line = line.rstrip('\n')
            if not line or line.startswith('#'):
                continue
            assert line[:2] in ('> ', '< '), line
            frames.append((line[0], bytes.fromhex(line[2:])))
    return frames


@pytest.mark.parametrize('path', sorted(glob.glob(os.path.join(FIXTURES, '*.hex'))))
def test_fixture_framing(path):
    frames = load(os.path.basename(path)[:-4])
    assert frames
    for _, frame in frames:
        assert struct.unpack('>i', frame[:4])[0] == len(frame) - 4


def test_connect_request_encoding():
    (d, req), (_, resp) = load('connect')
    assert d == '>'
    mine = Writer().int(0).long(0).int(30000).long(0).buffer(b'\x00' * 16).bool(False).bytes()
    assert req[4:] == mine
    r = zkwire.Reader(resp[4:])
    assert r.int() == 0 and r.int() == 30000 and r.long() != 0 and len(r.buffer()) == 16
    assert r.bool() is False and r.remaining() == 0


def test_create_request_encoding():
    (_, req), (_, resp) = load('create')
    mine = Writer().int(struct.unpack('>i', req[4:8])[0]).int(Op.create).bytes() + \
        zkwire.enc_create('/g', b'golden', zkwire.OPEN_ACL_UNSAFE, 0)
    assert req[4:] == mine
    assert zkwire.decode_response(Op.create, resp[20:]) == {'path': '/g'}


def test_multi_failing_decoding():
    (_, req), (_, resp) = load('multi_failing')
    r = zkwire.Reader(resp[4:])
    xid, zxid, err = r.int(), r.long(), r.int()
    assert err == 0
    res = zkwire.decode_response(Op.multi, resp[20:])['results']
    assert [(k, e) for k, e, _ in res] == [('error', 0), ('error', -103), ('error', -2), ('error', -2)]


def test_kazoo_connect_has_readonly_byte():
    (_, req), _ = load('kazoo_connect')
    assert len(req) - 4 == 45   # 44 bytes of ConnectRequest + readOnly


def test_apache_vs_apache_smoke():
    # No skip: without Java (tools/install-deps --test installs it) this must fail, not pass.
    assert shutil.which('java'), 'java not installed: run tools/install-deps --test'
    import run
    assert run.main(['--seed', '1', '--ops', '400', '--against-apache-twice']) == 0
