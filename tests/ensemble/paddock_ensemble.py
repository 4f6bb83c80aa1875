"""A Paddock ensemble of real `paddock server` processes on loopback, for tests: each member
has its own zoo.cfg, dataDir and free ports; members can be killed (-9), stopped, paused and
restarted. Every wait is bounded."""

import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(HERE, '..', 'differential'))

from zkwire import four_letter as four_letter_word  # noqa: E402

BINARY = os.environ.get('PADDOCK_BIN', os.path.join(ROOT, '.build', 'debug', 'paddock'))


def four_letter(port, word):
    try:
        return four_letter_word('127.0.0.1', port, word, timeout=1.5)
    except OSError:
        return ''


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError('timed out after %.0f s waiting for %s' % (timeout, what))


# Every port member_port has handed out in this process: a port is checked free by binding it
# and closing it again, so without this two members of one ensemble could be given the same
# port, and one of them would fail to bind it.
HANDED_OUT_PORTS = set()


def claim_ports(ports):
    """True, and `ports` marked handed out, if none was handed out before and each binds now."""
    import socket
    if any(port in HANDED_OUT_PORTS for port in ports):
        return False
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
            except OSError:
                return False
    HANDED_OUT_PORTS.update(ports)
    return True


def member_port():
    """A free port below Linux's ephemeral range (32768-60999), never one handed out before in
    this process. A member that is killed and restarted must bind its ports again, and a port
    from the ephemeral range may meanwhile be the local end of some outgoing connection (a
    client's, a proxy's), which makes the bind fail."""
    import random
    for _ in range(1000):
        port = random.randrange(20000, 32000)
        if claim_ports([port]):
            return port
    raise AssertionError('no free port in 20000-31999 after 1000 tries')


class Member:
    def __init__(self, root, sid, observer):
        self.sid = sid
        self.observer = observer
        self.dir = os.path.join(root, 'member%d' % sid)
        self.data = os.path.join(self.dir, 'data')
        os.makedirs(self.data)
        with open(os.path.join(self.data, 'myid'), 'w') as f:
            f.write('%d\n' % sid)
        self.client_port, self.quorum_port, self.election_port = member_port(), member_port(), member_port()
        self.admin_port = None
        self.cfg = os.path.join(self.dir, 'zoo.cfg')
        self.log_path = os.path.join(self.dir, 'server.log')
        self.proc = None

    @property
    def address(self):
        return '127.0.0.1:%d' % self.client_port

    def mode(self):
        reply = four_letter(self.client_port, 'srvr')
        for line in reply.splitlines():
            if line.startswith('Mode: '):
                return line[len('Mode: '):].strip()
        return None

    def log(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()


class PaddockEnsemble:
    def __init__(self, root, voters=3, observers=0, tick_ms=500, extra=(), admin=False):
        """`admin`: each member serves the admin HTTP server on 127.0.0.1 and its own port."""
        self.root = root
        self.tick_ms = tick_ms
        self.members = [Member(root, sid, observer=sid > voters) for sid in range(1, voters + observers + 1)]
        servers = ['server.%d=127.0.0.1:%d:%d%s' % (m.sid, m.quorum_port, m.election_port, ':observer' if m.observer else '')
                   for m in self.members]
        for m in self.members:
            if admin:
                m.admin_port = member_port()
            admin_lines = (['admin.enableServer=true', 'admin.serverAddress=127.0.0.1', 'admin.serverPort=%d' % m.admin_port]
                           if admin else ['admin.enableServer=false'])
            lines = ['tickTime=%d' % tick_ms, 'initLimit=10', 'syncLimit=5', 'dataDir=%s' % m.data,
                     'clientPort=%d' % m.client_port, 'clientPortAddress=127.0.0.1', '4lw.commands.whitelist=*',
                     'peerType=%s' % ('observer' if m.observer else 'participant')] + admin_lines + list(extra) + servers
            with open(m.cfg, 'w') as f:
                f.write('\n'.join(lines) + '\n')

    @property
    def connect_string(self):
        return ','.join(m.address for m in self.members)

    def start(self, member):
        log = open(member.log_path, 'ab')
        member.proc = subprocess.Popen([BINARY, 'server', '--config', member.cfg], stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        log.close()

    def start_all(self, timeout=60):
        """Starts every member and returns the leader; if they do not settle, every member is
        killed before the error is raised (no caller's teardown has begun yet to do it)."""
        for m in self.members:
            self.start(m)
        try:
            return self.wait_settled(timeout)
        except BaseException:
            self.close()
            raise

    def running(self):
        return [m for m in self.members if m.proc is not None and m.proc.poll() is None]

    def wait_settled(self, timeout=60, members=None):
        """Waits until exactly one of `members` (default: the running ones) leads and the rest
        follow or observe; returns the leader."""
        def settled():
            group = members if members is not None else self.running()
            modes = {m.sid: m.mode() for m in group}
            leaders = [m for m in group if modes[m.sid] == 'leader']
            if len(leaders) == 1 and all(mode in ('leader', 'follower', 'observer') for mode in modes.values()):
                return leaders[0]
            return None
        try:
            return wait_for(settled, timeout, 'one leader and the rest following')
        except AssertionError:
            # A miss must leave evidence: each member's mode and the end of its log.
            for m in (members if members is not None else self.running()):
                try:
                    mode = m.mode()
                except OSError as e:
                    mode = 'no answer (%s)' % e
                print('--- member %d (%s), last lines of %s:' % (m.sid, mode, m.log_path))
                print('\n'.join(m.log().splitlines()[-40:]))
            raise

    def leader(self):
        return self.wait_settled()

    def followers(self):
        return [m for m in self.running() if m.mode() == 'follower']

    def kill(self, member, sig=signal.SIGKILL):
        if member.proc is not None and member.proc.poll() is None:
            member.proc.send_signal(sig)
            member.proc.wait(timeout=30)
        member.proc = None

    def stop(self, member):
        self.kill(member, signal.SIGTERM)

    def pause(self, member):
        member.proc.send_signal(signal.SIGSTOP)

    def resume(self, member):
        member.proc.send_signal(signal.SIGCONT)

    def close(self):
        for m in self.members:
            if m.proc is not None and m.proc.poll() is None:
                m.proc.send_signal(signal.SIGCONT)
                m.proc.kill()
                m.proc.wait(timeout=30)
