"""Until Paddock replicates, a zoo.cfg that describes an ensemble must be refused (exit 2, one
line), never served as an independent standalone server on each host (split brain)."""

import os
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(HERE, '..', 'differential'))

from servers import free_port  # noqa: E402

BINARY = os.environ.get('PADDOCK_BIN', os.path.join(ROOT, '.build', 'debug', 'paddock'))


def write_config(directory, server_lines, extra=()):
    client_port = free_port()
    data = os.path.join(directory, 'data')
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(data, 'myid'), 'w') as f:
        f.write('1\n')
    lines = ['tickTime=2000', 'initLimit=10', 'syncLimit=5', 'dataDir=%s' % data,
             'clientPort=%d' % client_port, 'clientPortAddress=127.0.0.1'] + list(extra) + server_lines
    path = os.path.join(directory, 'zoo.cfg')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path, client_port, data


def port_is_open(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(('127.0.0.1', port)) == 0


def run_server(config):
    return subprocess.run([BINARY, 'server', '--config', config], capture_output=True, text=True, timeout=60)


def test_three_member_config_is_refused_with_exit_2_and_one_line():
    with tempfile.TemporaryDirectory(prefix='paddock-ensemble-cfg-') as directory:
        servers = ['server.%d=127.0.0.1:%d:%d' % (i, free_port(), free_port()) for i in (1, 2, 3)]
        config, client_port, data = write_config(directory, servers)
        result = run_server(config)
        assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, result.stderr
        assert 'ensemble' in lines[0] and '3 voting server.N lines' in lines[0], lines[0]
        assert 'listening' not in result.stdout, result.stdout
        assert not port_is_open(client_port)
        # Nothing was written to the data directory: no log, no snapshot, no lock file.
        assert sorted(os.listdir(data)) == ['myid'], os.listdir(data)


def test_standalone_disabled_single_member_is_refused():
    with tempfile.TemporaryDirectory(prefix='paddock-ensemble-cfg-') as directory:
        servers = ['server.1=127.0.0.1:%d:%d' % (free_port(), free_port())]
        config, _, _ = write_config(directory, servers, extra=['standaloneEnabled=false'])
        result = run_server(config)
        assert result.returncode == 2, (result.returncode, result.stderr)
        assert 'standaloneEnabled=false' in result.stderr, result.stderr


def test_one_participant_with_standalone_enabled_still_serves():
    """ZooKeeper runs a single voting member standalone (QuorumPeerConfig.isDistributed), and so
    does Paddock: it must start and answer srvr."""
    with tempfile.TemporaryDirectory(prefix='paddock-ensemble-cfg-') as directory:
        servers = ['server.1=127.0.0.1:%d:%d' % (free_port(), free_port())]
        config, client_port, _ = write_config(directory, servers)
        process = subprocess.Popen([BINARY, 'server', '--config', config],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = process.stdout.readline()
            assert 'standalone server listening' in line, (line, process.poll())
            with socket.create_connection(('127.0.0.1', client_port), timeout=10) as s:
                s.sendall(b'srvr')
                reply = b''
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
            assert b'Mode: standalone' in reply, reply
        finally:
            process.terminate()
            process.wait(timeout=30)
