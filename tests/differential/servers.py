"""Start/stop Apache ZooKeeper 3.8 (Debian package) and Paddock for tests.

Both read the same zoo.cfg.  Apache unknown zoo.cfg keys become
"zookeeper.<key>" system properties, so the keys that Apache only reads as
JVM properties are also passed with -D.
"""

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from zkwire import four_letter

JAVA = shutil.which('java') or '/usr/bin/java'

# The Debian zookeeper.jar carries a Class-Path manifest for its dependencies;
# an slf4j binding must be added explicitly.
ZK_JARS = ['/usr/share/java/zookeeper.jar', '/usr/share/java/zookeeper-jute.jar',
           '/usr/share/java/slf4j-api.jar', '/usr/share/java/slf4j-simple.jar']

# ContainerManager (containers + TTL reaping) runs on a timer; a huge interval
# keeps runs deterministic (reaping would depend on wall-clock time).  The
# differential test's reap op restarts both servers with REAP_CHECK_MS, waits
# until both have reaped, and restarts them with CONTAINER_CHECK_MS again.
CONTAINER_CHECK_MS = 3600000
REAP_CHECK_MS = 200
# ContainerManager's rate limit (Apache's default), set explicitly on both.
CONTAINER_MAX_PER_MINUTE = 10000

# tickTime 500 ms makes the session timeout floor (2 ticks) 1 s, so a session
# left to expire goes within a second or two; maxSessionTimeout keeps the
# driver's 30 s sessions at 30 s (the default ceiling would be 20 ticks, 10 s).
TICK_MS = 500
MAX_SESSION_TIMEOUT_MS = 60000


# The ports free_port has handed out in this process: the kernel may offer a port again once
# the probing socket is closed, and two servers of one test must never be given the same one.
HANDED_OUT_PORTS = set()


def free_port():
    for _ in range(1000):
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        if port not in HANDED_OUT_PORTS:
            HANDED_OUT_PORTS.add(port)
            return port
    raise AssertionError('the kernel offered only ports handed out before, 1000 times')


def write_cfg(workdir, port, extra=None, container_check_ms=CONTAINER_CHECK_MS):
    data = os.path.join(workdir, 'data')
    os.makedirs(data, exist_ok=True)
    lines = [
        'tickTime=%d' % TICK_MS,
        'maxSessionTimeout=%d' % MAX_SESSION_TIMEOUT_MS,
        'initLimit=10',
        'syncLimit=5',
        'dataDir=%s' % data,
        'clientPort=%d' % port,
        'clientPortAddress=127.0.0.1',
        'maxClientCnxns=0',
        '4lw.commands.whitelist=*',
        'admin.enableServer=false',
        'extendedTypesEnabled=true',
        'znode.container.checkIntervalMs=%d' % container_check_ms,
        'znode.container.maxPerMinute=%d' % CONTAINER_MAX_PER_MINUTE,
        'autopurge.purgeInterval=0',
    ]
    for k, v in (extra or {}).items():
        lines.append('%s=%s' % (k, v))
    cfg = os.path.join(workdir, 'zoo.cfg')
    with open(cfg, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return cfg


class Server:
    kind = '?'

    def __init__(self, name, extra_cfg=None, keep_dir=False):
        self.name = name
        self.workdir = tempfile.mkdtemp(prefix='zkdiff-%s-' % name)
        self.port = free_port()
        self.extra_cfg = dict(extra_cfg or {})
        self.container_check_ms = CONTAINER_CHECK_MS
        self.cfg = write_cfg(self.workdir, self.port, extra_cfg)
        self.proc = None
        self.keep_dir = keep_dir
        self.log_path = os.path.join(self.workdir, 'server.log')
        self.logf = None

    def command(self):
        raise NotImplementedError

    def start(self, ready_timeout=60.0):
        self.spawn()
        return self.wait_ready(ready_timeout)

    def spawn(self):
        self.logf = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(self.command(), cwd=self.workdir, stdout=self.logf,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)

    def wait_ready(self, ready_timeout=60.0):
        deadline = time.monotonic() + ready_timeout
        last = ''
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError('%s (%s) exited with %s before becoming ready; log %s:\n%s' % (
                    self.name, self.kind, self.proc.returncode, self.log_path, self.tail()))
            try:
                last = four_letter('127.0.0.1', self.port, 'srvr', timeout=2.0)
                if 'Mode: standalone' in last:
                    return self
            except OSError as e:
                last = repr(e)
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError('%s (%s) not ready on 127.0.0.1:%d after %.0fs (srvr said: %r); log %s:\n%s'
                                   % (self.name, self.kind, self.port, ready_timeout, last[:200],
                                      self.log_path, self.tail()))
            time.sleep(0.05)  # poll interval, bounded by the deadline above

    def tail(self, n=30):
        try:
            with open(self.log_path, 'rb') as f:
                return b'\n'.join(f.read().splitlines()[-n:]).decode('utf-8', 'replace')
        except OSError:
            return ''

    def halt(self, kill):
        """Stop the process, keeping its data dir: SIGKILL (a crash) or SIGTERM (a clean stop)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        if self.logf:
            self.logf.close()
            self.logf = None

    def reconfigure(self, container_check_ms):
        """Rewrite zoo.cfg (same port and data dir) for the next spawn."""
        self.container_check_ms = container_check_ms
        self.cfg = write_cfg(self.workdir, self.port, self.extra_cfg, container_check_ms)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        if self.logf:
            self.logf.close()
            self.logf = None
        if not self.keep_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


class ApacheServer(Server):
    kind = 'apache-zookeeper-3.8'

    def command(self):
        jars = [j for j in ZK_JARS if os.path.exists(j)]
        if not os.path.exists(ZK_JARS[0]):
            cand = sorted(glob.glob('/usr/share/java/zookeeper-3*.jar'))
            if not cand:
                raise RuntimeError('Apache ZooKeeper jar not found in /usr/share/java')
            jars.insert(0, cand[0])
        return [JAVA, '-Xmx512m',
                '-Dzookeeper.extendedTypesEnabled=true',
                '-Dzookeeper.admin.enableServer=false',
                '-Dzookeeper.4lw.commands.whitelist=*',
                '-Dznode.container.checkIntervalMs=%d' % self.container_check_ms,
                '-Dznode.container.maxPerMinute=%d' % CONTAINER_MAX_PER_MINUTE,
                '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
                # zoo.cfg's enforceQuota as the system property ZooKeeperServer reads.
                '-Dzookeeper.enforceQuota=%s' % self.extra_cfg.get('enforceQuota', 'false'),
                '-cp', ':'.join(jars),
                'org.apache.zookeeper.server.ZooKeeperServerMain', self.cfg]


class PaddockServer(Server):
    kind = 'paddock'

    def __init__(self, name, binary, **kw):
        self.binary = binary
        super().__init__(name, **kw)

    def command(self):
        if not os.path.exists(self.binary):
            raise RuntimeError('paddock binary not found: %s' % self.binary)
        return [self.binary, 'server', '--config', self.cfg]


def restart_all(servers, kill, ready_timeout=60.0, container_check_ms=None):
    """Stop every server (SIGKILL or SIGTERM), then start them all again on their data dirs and
    ports, in parallel, and wait until each is serving (bounded by ready_timeout)."""
    for srv in servers:
        srv.halt(kill)
    for srv in servers:
        if container_check_ms is not None:
            srv.reconfigure(container_check_ms)
        srv.spawn()
    for srv in servers:
        srv.wait_ready(ready_timeout)
