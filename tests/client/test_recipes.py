"""PaddockRecipes against real servers, through `paddock client recipes`: every recipe (locks,
read/write locks, the simple lock, leader election, group membership, ready-znode
configuration, double barrier, rendezvous), round after round, each round with concurrent
participants and one whose process dies mid-operation (its session expires at the server).
Meanwhile the server is killed and restarted (Apache ZooKeeper 3.8 standalone, Paddock
standalone) or a 3-member Paddock ensemble's leader is killed. The run fails on any broken
guarantee or stuck round; here every recipe must also complete rounds that started after the
disruption. Every wait is bounded."""

import json
import os
import signal
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(ROOT, 'tests', 'differential'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'ensemble'))

from servers import ApacheServer, PaddockServer  # noqa: E402
from mixed_ensemble import PaddockServerMember, ensemble, settled, stop, wait_for  # noqa: E402

BINARY = os.environ.get('PADDOCK_BIN', os.path.join(ROOT, '.build', 'debug', 'paddock'))
RUN_SECONDS = 60
RECIPES = ['lock', 'readWriteLock', 'simpleLock', 'leaderElection', 'membership', 'configuration', 'doubleBarrier', 'rendezvous']


class Run:
    """`paddock client recipes` in the background, its JSON lines collected as they come."""

    def __init__(self, hosts):
        # A file, not a pipe: an unread pipe fills up and blocks the run's logging.
        self.errors = tempfile.TemporaryFile(mode='w+')
        self.proc = subprocess.Popen([BINARY, 'client', 'recipes', '--server', hosts, '--seconds', str(RUN_SECONDS),
                                      '--session-timeout', '15', '--crash-timeout', '2'],
                                     stdout=subprocess.PIPE, stderr=self.errors, text=True)
        self.lines = []
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        for line in self.proc.stdout:
            if line.startswith('{'):
                self.lines.append(json.loads(line))

    def error_tail(self):
        self.errors.seek(0)
        return self.errors.read()[-3000:]

    def completed_rounds(self):
        return sum(1 for line in self.lines if line.get('outcome') == 'completed')


def start_run(hosts):
    run = Run(hosts)
    # Disrupt only once rounds are under way.
    wait_for(lambda: run.completed_rounds() >= 3 or run.proc.poll() is not None, 120, 'three completed rounds')
    assert run.proc.poll() is None, run.error_tail()
    return run


def finish_run(run, disrupted_at):
    proc = run.proc
    try:
        proc.wait(timeout=RUN_SECONDS + 200)
        err = run.error_tail()
        run.reader.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = run.lines
    rounds = [line for line in lines if 'recipe' in line]
    summary = lines[-1]
    print(json.dumps(summary))
    assert proc.returncode == 0 and summary.get('passed'), (summary, err[-3000:])
    assert summary['crashedParticipants'] > 0, summary
    # Every recipe had a participant crash mid-operation (its session then expired).
    assert all(summary['crashed'][recipe] > 0 for recipe in RECIPES), summary
    after = {r['recipe'] for r in rounds if r['outcome'] == 'completed' and r['started'] > disrupted_at}
    assert after == set(RECIPES), ('recipes with no completed round after the disruption', set(RECIPES) - after, rounds)
    return summary


def kill_and_restart(server):
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait(timeout=30)
    server.logf.close()
    server.start()


@pytest.mark.parametrize('kind', ['apache', 'paddock'])
def test_recipes_through_a_server_restart(kind):
    extra = {'tickTime': 500, 'minSessionTimeout': 1000}
    server = (ApacheServer('recipes', extra_cfg=extra, keep_dir=True) if kind == 'apache'
              else PaddockServer('recipes', BINARY, extra_cfg=extra, keep_dir=True))
    try:
        server.start()
        run = start_run('127.0.0.1:%d' % server.port)
        kill_and_restart(server)
        disrupted_at = time.time()
        summary = finish_run(run, disrupted_at)
        assert sum(summary['completed'].values()) >= len(RECIPES) * 2, summary
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


def test_recipes_on_a_paddock_ensemble_whose_leader_is_killed():
    layout = [(PaddockServerMember, 1, False), (PaddockServerMember, 2, False), (PaddockServerMember, 3, False)]
    with ensemble(layout, tick_ms=500) as members:
        for m in members:
            m.start()
        wait_for(lambda: settled(members), 90, 'the ensemble to settle')
        run = start_run(','.join(m.address for m in members))
        leader = wait_for(lambda: settled(members), 60, 'the leader')
        stop(leader, signal.SIGKILL)
        disrupted_at = time.time()
        others = [m for m in members if m is not leader]
        wait_for(lambda: settled(others), 60, 'a new leader among the other two')
        leader.start()
        finish_run(run, disrupted_at)
