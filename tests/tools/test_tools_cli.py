"""End-to-end checks of `paddock data …` / `paddock snapshot …` as an operator runs them: exit
codes (0 healthy, 1 problems, 2 usage/I/O/locked), --help for every command, read-only commands
next to a live server, changing commands refusing while the server holds the lock, the
confirmation prompt, and a repaired fixture the real server starts from."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(HERE, '..', 'differential'))

from servers import PaddockServer  # noqa: E402
from zkwire import Session  # noqa: E402

BINARY = os.environ.get('PADDOCK_BIN', os.path.join(ROOT, '.build', 'debug', 'paddock'))
FIXTURES = os.path.join(ROOT, 'Tests', 'ZKToolsTests', 'Fixtures')

DATA_COMMANDS = ['status', 'dump', 'verify', 'truncate', 'repair', 'replay', 'compact', 'purge']
SNAPSHOT_COMMANDS = ['dump', 'diff']


def paddock(*args, stdin=None, timeout=60):
    return subprocess.run([BINARY] + list(args), input=stdin, capture_output=True, text=True, timeout=timeout)


def fixture_copy(name):
    root = tempfile.mkdtemp(prefix='paddock-tools-cli-')
    target = os.path.join(root, name)
    shutil.copytree(os.path.join(FIXTURES, name), target)
    for sub in ('snapshots', 'log'):
        os.makedirs(os.path.join(target, sub), exist_ok=True)
    return target


def test_every_command_has_help():
    for command in DATA_COMMANDS:
        result = paddock('data', command, '--help')
        assert result.returncode == 0, (command, result.stderr)
        assert 'USAGE: paddock data %s' % command in result.stdout, result.stdout
    for command in SNAPSHOT_COMMANDS:
        result = paddock('snapshot', command, '--help')
        assert result.returncode == 0 and 'USAGE: paddock snapshot %s' % command in result.stdout


def test_usage_errors_exit_2():
    assert paddock('data', 'verify').returncode == 2
    assert paddock('data', 'verify', '/nonexistent-paddock-dir').returncode == 2
    directory = fixture_copy('healthy')
    try:
        result = paddock('data', 'truncate', directory)
        assert result.returncode == 2 and 'missing --after' in result.stderr, result.stderr
        result = paddock('data', 'truncate', directory, '--after', 'zz')
        assert result.returncode == 2 and 'is not a zxid' in result.stderr
        result = paddock('data', 'dump', os.path.join(directory, 'snapshots', 'snapshot.0000000100000016'))
        assert result.returncode == 2 and 'snapshot dump' in result.stderr
    finally:
        shutil.rmtree(os.path.dirname(directory))


def test_damaged_fixture_verify_repair_and_the_server_starts():
    directory = fixture_copy('damaged-log')
    try:
        result = paddock('data', 'verify', directory)
        assert result.returncode == 1 and 'CRC mismatch' in result.stdout, result.stdout
        # The invocation the server's startup error names, answered "no": nothing changes.
        result = paddock('data', 'repair', directory, stdin='n\n')
        assert result.returncode == 1 and 'declined' in result.stdout, (result.stdout, result.stderr)
        assert 'proceed?' in result.stderr
        assert not os.path.exists(os.path.join(directory, 'backup'))
        result = paddock('data', 'repair', directory, stdin='y\n')
        assert result.returncode == 0 and 'startup check: ok' in result.stdout, (result.stdout, result.stderr)
        assert paddock('data', 'verify', directory).returncode == 0
        backups = os.listdir(os.path.join(directory, 'backup'))
        assert len(backups) == 1 and backups[0].endswith('-repair')
        records = os.path.join(directory, 'backup', backups[0], 'removed-records.pdkr')
        dumped = paddock('data', 'dump', records, '--json')
        lines = [json.loads(line) for line in dumped.stdout.splitlines()]
        assert dumped.returncode == 1  # the damaged record is in the backup, and dump says so
        assert [line['zxid'] for line in lines[:-1]] == ['0x200000005', '0x200000006', '0x200000007']
        assert 'problem' in lines[0] and lines[-1]['summary']['damaged'] == 1
        # The real server starts from the repaired directory.
        server = PaddockServer('tools-repaired', BINARY)
        shutil.rmtree(os.path.join(server.workdir, 'data'))
        shutil.copytree(directory, os.path.join(server.workdir, 'data'))
        try:
            server.start()
            session = Session('127.0.0.1', server.port)
            assert session.get_data('/app').resp['data'] == b'config-4'
            session.close()
        finally:
            server.stop()
    finally:
        shutil.rmtree(os.path.dirname(directory))


def test_next_to_a_live_server():
    server = PaddockServer('tools-live', BINARY)
    server.keep_dir = True
    data = os.path.join(server.workdir, 'data')
    try:
        server.start()
        session = Session('127.0.0.1', server.port)
        for i in range(20):
            assert session.create('/n%d' % i, b'v%d' % i).err == 0
        # Read-only commands work while the server runs (LMDB readers, no lock).
        status = paddock('data', 'status', data, '--json')
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report['log']['records'] >= 20 and report['state']['znodes'] >= 24
        assert paddock('data', 'verify', data).returncode == 0
        dumped = paddock('data', 'dump', data, '--json')
        assert dumped.returncode == 0
        creates = [json.loads(line) for line in dumped.stdout.splitlines() if '"create"' in line]
        assert ['/n%d' % i for i in range(20)] == [c['path'] for c in creates]
        # Changing commands refuse while the server holds paddock.lock: exit 2, nothing changed.
        last = creates[-1]['zxid']
        for args in (['truncate', data, '--after', creates[9]['zxid'], '--yes'], ['repair', data, '--yes'],
                     ['compact', data, '--yes'], ['purge', data, '--keep', '1', '--yes']):
            result = paddock('data', *args)
            assert result.returncode == 2 and 'is in use' in result.stderr, (args, result.stderr)
        assert not os.path.exists(os.path.join(data, 'backup'))
        # Writes still work: the tools took no lock and left LMDB alone.
        assert session.create('/after', b'x').err == 0
        session.close()
        server.stop()
        # Stopped: truncate after the 10th create, then the server comes back without /n10../n19.
        result = paddock('data', 'truncate', data, '--after', creates[9]['zxid'], '--yes')
        assert result.returncode == 0, (result.stdout, result.stderr)
        assert last in paddock('data', 'dump', data + '/backup/' + os.listdir(data + '/backup')[0]
                               + '/removed-records.pdkr').stdout
        server.start()
        session = Session('127.0.0.1', server.port)
        assert session.exists('/n9').err == 0
        assert session.exists('/n10').err != 0 and session.exists('/after').err != 0
        session.close()
    finally:
        server.keep_dir = False
        server.stop()
