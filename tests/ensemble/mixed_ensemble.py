"""Ensembles that mix Apache ZooKeeper 3.8 members (Debian's jars) with Paddock members on
loopback: each member has its own dir, zoo.cfg (the same keys for both kinds) and free ports.
`ApacheMember` runs QuorumPeerMain, `PaddockPeer` the ZAB core alone (`paddock debug zab-peer`,
in-memory log), `PaddockServerMember` the whole server. Every process is SIGKILLed at the end."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(HERE, '..', 'differential'))

from servers import JAVA, ZK_JARS  # noqa: E402
sys.path.insert(0, HERE)
from paddock_ensemble import Member as EnsembleMember, four_letter, wait_for  # noqa: E402,F401

BINARY = os.environ.get('PADDOCK_BIN', os.path.join(ROOT, '.build', 'debug', 'paddock'))
TICK_MS = 200


class Member(EnsembleMember):
    def __init__(self, root, sid, observer=False):
        super().__init__(root, sid, observer)
        self.lines = []

    def write_cfg(self, members, tick_ms=TICK_MS, extra=()):
        lines = ['tickTime=%d' % tick_ms, 'initLimit=10', 'syncLimit=5', 'dataDir=%s' % self.data,
                 'clientPort=%d' % self.client_port, 'clientPortAddress=127.0.0.1',
                 '4lw.commands.whitelist=*', 'admin.enableServer=false', 'reconfigEnabled=false'] + list(extra)
        if self.observer:
            lines.append('peerType=observer')
        for m in members:
            lines.append('server.%d=127.0.0.1:%d:%d%s' % (m.sid, m.quorum_port, m.election_port,
                                                         ':observer' if m.observer else ''))
        with open(self.cfg, 'w') as f:
            f.write('\n'.join(lines) + '\n')


class ApacheMember(Member):
    def start(self):
        log = open(os.path.join(self.dir, 'server.log'), 'ab')
        self.proc = subprocess.Popen(
            [JAVA, '-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1',
             '-Dorg.slf4j.simpleLogger.defaultLogLevel=info', '-Dzookeeper.admin.enableServer=false',
             '-cp', ':'.join(ZK_JARS), 'org.apache.zookeeper.server.quorum.QuorumPeerMain', self.cfg],
            cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def mode(self):
        for line in four_letter(self.client_port, 'srvr').splitlines():
            if line.startswith('Mode: '):
                return line[6:].strip()
        return None

    def zxid(self):
        for line in four_letter(self.client_port, 'srvr').splitlines():
            if line.startswith('Zxid: '):
                return int(line[6:].strip(), 16)
        return None


class PaddockPeer(Member):
    def start(self):
        self.log = open(os.path.join(self.dir, 'paddock.log'), 'w')
        self.proc = subprocess.Popen([BINARY, 'debug', 'zab-peer', '--config', self.cfg, '--volatile'],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.log, text=True)
        os.set_blocking(self.proc.stdout.fileno(), False)

    def read_lines(self):
        try:
            while True:
                line = self.proc.stdout.readline()
                if not line:
                    break
                self.lines.append(line.strip())
        except (IOError, TypeError):
            pass
        return self.lines

    def last_role(self):
        roles = [line for line in self.read_lines() if line.startswith('paddock: role ')]
        return roles[-1][len('paddock: role '):] if roles else None

    def applied_zxid(self):
        applied = [line for line in self.read_lines() if line.startswith('paddock: applied ')]
        return int(applied[-1].split(' through ')[1], 16) if applied else 0


@contextlib.contextmanager
def ensemble(layout, tick_ms=TICK_MS, extra=()):
    """Members from (kind, sid, observer) triples, each with its own dir and a zoo.cfg naming
    all of them; every process is SIGKILLed and the dirs removed at the end, whatever happens."""
    root = tempfile.mkdtemp(prefix='paddock-zab-apache-')
    members = [kind(root, sid, observer) for kind, sid, observer in layout]
    for m in members:
        m.write_cfg(members, tick_ms, extra)
    try:
        yield members
    finally:
        for m in members:
            if m.proc is not None and m.proc.poll() is None:
                m.proc.send_signal(signal.SIGKILL)
                m.proc.wait(timeout=30)
        if os.environ.get('KEEP_ENSEMBLE_DIRS'):
            print('ensemble dirs kept in', root)
        else:
            shutil.rmtree(root, ignore_errors=True)


class PaddockServerMember(Member):
    """A `paddock server` member (the whole server, durable log), not the debug peer."""

    def start(self):
        log = open(os.path.join(self.dir, 'server.log'), 'ab')
        self.proc = subprocess.Popen([BINARY, 'server', '--config', self.cfg], stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()


def become(member, kind):
    """The same member (id, ports, zoo.cfg, dataDir) run by the other implementation next."""
    member.__class__ = kind
    if not hasattr(member, 'lines'):
        member.lines = []
    return member


def stop(member, sig=signal.SIGTERM, timeout=60):
    if member.proc is not None and member.proc.poll() is None:
        member.proc.send_signal(sig)
        try:
            member.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            member.proc.kill()
            member.proc.wait(timeout=30)
    member.proc = None


def thread_states(pid):
    """The state letter of each thread of process `pid` (/proc/PID/task/TID/stat), '' if gone."""
    states = ''
    try:
        tids = os.listdir('/proc/%d/task' % pid)
    except OSError:
        return states
    for tid in tids:
        try:
            with open('/proc/%d/task/%s/stat' % (pid, tid)) as f:
                states += f.read().rsplit(')', 1)[1].split()[0]
        except (OSError, IndexError):
            pass
    return states


def pause(member, timeout=30):
    """SIGSTOP `member` and return once every thread of it is stopped. kill(2) returns before
    that: one thread takes the signal and stops the others only when it next runs, and until
    then they keep running (on a loaded machine they read sockets and write logs for
    milliseconds after kill returned)."""
    member.proc.send_signal(signal.SIGSTOP)
    wait_for(lambda: set(thread_states(member.proc.pid)) == {'T'}, timeout,
             'every thread of member %d stopped' % member.sid)


def srvr_field(member, field):
    for line in four_letter(member.client_port, 'srvr').splitlines():
        if line.startswith(field + ': '):
            return line[len(field) + 2:].strip()
    return None


def zxid_of(member):
    value = srvr_field(member, 'Zxid')
    return int(value, 16) if value else None


def settled(members):
    """The leader when exactly one member leads and every other follows or observes."""
    modes = {m.sid: srvr_field(m, 'Mode') for m in members}
    leaders = [m for m in members if modes[m.sid] == 'leader']
    if len(leaders) == 1 and all(mode in ('leader', 'follower', 'observer') for mode in modes.values()):
        return leaders[0]
    return None


def wait_settled(members, timeout, what, leader=None):
    """The leader once `members` settle (see `settled`), under `leader` if one is given; on a
    timeout, each member's mode and the end of its log are printed first, so a miss leaves its
    evidence in the test's output."""
    def settled_as_expected():
        found = settled(members)
        return found if found is not None and leader in (None, found) else None
    try:
        return wait_for(settled_as_expected, timeout, what)
    except AssertionError:
        for m in members:
            try:
                mode = srvr_field(m, 'Mode')
            except OSError as e:
                mode = 'no answer (%s)' % e
            state = 'running' if m.proc is not None and m.proc.poll() is None else 'exited (%s)' % (
                m.proc.poll() if m.proc is not None else 'never started')
            print('--- member %d (%s, %s, mode %s), last lines of its log:' % (m.sid, type(m).__name__, state, mode))
            print(log_tail(m, 60))
        raise


def log_tail(member, lines=40):
    for name in ('server.log', 'paddock.log'):
        path = os.path.join(member.dir, name)
        if os.path.exists(path):
            with open(path, errors='replace') as f:
                return '\n'.join(f.read().splitlines()[-lines:])
    return ''
