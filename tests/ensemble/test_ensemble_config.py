"""How `paddock server` reads a zoo.cfg's ensemble part: a member needs its myid (one-line error
otherwise); one voter with standaloneEnabled=false is a one-member ensemble that leads itself;
one voter otherwise runs standalone, as in ZooKeeper."""

import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(HERE, '..', 'differential'))

from servers import free_port  # noqa: E402
sys.path.insert(0, HERE)
from paddock_ensemble import four_letter  # noqa: E402

BINARY = os.environ.get('PADDOCK_BIN', os.path.join(ROOT, '.build', 'debug', 'paddock'))


def write_config(directory, server_lines, extra=()):
    client_port = free_port()
    data = os.path.join(directory, 'data')
    os.makedirs(data, exist_ok=True)
    with open(os.path.join(data, 'myid'), 'w') as f:
        f.write('1\n')
    lines = ['tickTime=2000', 'initLimit=10', 'syncLimit=5', 'dataDir=%s' % data,
             'clientPort=%d' % client_port, 'clientPortAddress=127.0.0.1', 'admin.enableServer=false'] + list(extra) + server_lines
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


def test_member_without_myid_is_refused_with_one_line():
    """An ensemble member needs dataDir/myid (ZooKeeper's rule): without it, a one-line error
    and nothing served."""
    with tempfile.TemporaryDirectory(prefix='paddock-ensemble-cfg-') as directory:
        servers = ['server.%d=127.0.0.1:%d:%d' % (i, free_port(), free_port()) for i in (1, 2, 3)]
        config, client_port, data = write_config(directory, servers)
        os.remove(os.path.join(data, 'myid'))
        result = run_server(config)
        assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and 'myid' in lines[0], result.stderr
        assert not port_is_open(client_port)


def test_myid_not_in_the_server_list_is_refused():
    with tempfile.TemporaryDirectory(prefix='paddock-ensemble-cfg-') as directory:
        servers = ['server.%d=127.0.0.1:%d:%d' % (i, free_port(), free_port()) for i in (2, 3, 4)]
        config, _, _ = write_config(directory, servers)
        result = run_server(config)
        assert result.returncode == 1, (result.returncode, result.stderr)
        assert 'myid 1 has no server.1 line' in result.stderr, result.stderr


def test_standalone_disabled_single_member_leads_itself():
    """standaloneEnabled=false with one voter: a one-member ensemble, which elects itself and
    serves as leader (as ZooKeeper does)."""
    with tempfile.TemporaryDirectory(prefix='paddock-ensemble-cfg-') as directory:
        servers = ['server.1=127.0.0.1:%d:%d' % (free_port(), free_port())]
        config, client_port, _ = write_config(directory, servers, extra=['standaloneEnabled=false'])
        process = subprocess.Popen([BINARY, 'server', '--config', config],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = process.stdout.readline()
            assert 'ensemble member 1 of 1 voters' in line, (line, process.poll())
            deadline = time.monotonic() + 30
            reply = b''
            while time.monotonic() < deadline and b'Mode: leader' not in reply:
                reply = four_letter(client_port, 'srvr').encode()
                time.sleep(0.05)
            assert b'Mode: leader' in reply, reply
            from kazoo.client import KazooClient
            c = KazooClient(hosts='127.0.0.1:%d' % client_port, timeout=10)
            c.start(timeout=30)
            try:
                c.create('/solo', b'1')
                assert c.get('/solo')[0] == b'1'
            finally:
                c.stop()
        finally:
            process.terminate()
            process.wait(timeout=30)


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
            reply = four_letter(client_port, 'srvr').encode()
            assert b'Mode: standalone' in reply, reply
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_election_port_held_by_another_socket_is_retried():
    """electionPortBindRetry (ZooKeeper's default 3, a second apart): a member whose election
    port is still held when it starts binds it once it is free, instead of exiting."""
    with tempfile.TemporaryDirectory(prefix='paddock-ensemble-cfg-') as directory:
        election = free_port()
        servers = ['server.1=127.0.0.1:%d:%d' % (free_port(), election)]
        config, client_port, _ = write_config(directory, servers, extra=['standaloneEnabled=false'])
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(('127.0.0.1', election))
        holder.listen(1)
        log_path = os.path.join(directory, 'server.log')
        log = open(log_path, 'w')
        process = subprocess.Popen([BINARY, 'server', '--config', config], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and 'cannot bind the election port' not in open(log_path).read():
                assert process.poll() is None, open(log_path).read()
                time.sleep(0.05)
            assert 'retrying in 1 s' in open(log_path).read()
            assert process.poll() is None
            holder.close()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and 'Mode: leader' not in four_letter(client_port, 'srvr'):
                time.sleep(0.05)
            assert 'Mode: leader' in four_letter(client_port, 'srvr')
        finally:
            holder.close()
            process.terminate()
            process.wait(timeout=30)
