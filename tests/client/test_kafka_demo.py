"""`paddock-kafka-demo` (a Kafka-style controller on PaddockClient and PaddockRecipes) against
Apache ZooKeeper 3.8, Paddock standalone and a 3-member Paddock ensemble: it must exit 0 (every
check of its scenario held), and the layout it leaves must read, through kazoo, as Kafka 2.8
writes it (kafka.zk.ZkData): topic assignments, partition states, the controller epoch."""

import json
import os
import subprocess
import sys

import pytest
from kazoo.client import KazooClient

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..')
sys.path.insert(0, os.path.join(ROOT, 'tests', 'differential'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'ensemble'))

from servers import ApacheServer, PaddockServer  # noqa: E402
from mixed_ensemble import PaddockServerMember, ensemble, settled, wait_for  # noqa: E402

BUILD = os.path.dirname(os.environ.get('PADDOCK_BIN', os.path.join(ROOT, '.build', 'debug', 'paddock')))
DEMO = os.path.join(BUILD, 'paddock-kafka-demo')
BINARY = os.path.join(BUILD, 'paddock')


def run_demo(hosts, *extra):
    result = subprocess.run([DEMO, '--hosts', hosts, '--brokers', '5', '--topics', '2', '--partitions', '4', *extra],
                            capture_output=True, text=True, timeout=300)
    print(result.stdout[-6000:])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    checks = [line for line in result.stdout.splitlines() if line.startswith('ok    ')]
    assert len(checks) >= 16 and 'FAIL' not in result.stdout, checks
    return result.stdout


def check_layout(hosts):
    zk = KazooClient(hosts=hosts, timeout=15)
    zk.start(timeout=30)
    try:
        # On an ensemble this session may be on a follower that has not applied the demo's last
        # txns (its sessions' closes) yet: sync first, as any reader that must see them would.
        zk.sync('/')
        epoch, _ = zk.get('/controller_epoch')
        assert epoch == b'2'
        topics = sorted(zk.get_children('/brokers/topics'))
        assert topics == ['demo-topic-0', 'demo-topic-1']
        for topic in topics:
            assignment = json.loads(zk.get('/brokers/topics/%s' % topic)[0])
            assert assignment['version'] == 2 and assignment['adding_replicas'] == {} and assignment['removing_replicas'] == {}
            assert len(assignment['topic_id']) == 22  # a Kafka Uuid: 16 bytes, URL-safe base64, no padding
            assert sorted(assignment['partitions']) == ['0', '1', '2', '3']
            for partition, replicas in assignment['partitions'].items():
                assert len(replicas) == 3
                state = json.loads(zk.get('/brokers/topics/%s/partitions/%s/state' % (topic, partition))[0])
                assert set(state) == {'controller_epoch', 'leader', 'version', 'leader_epoch', 'isr'}
                assert state['version'] == 1 and state['leader'] in state['isr'] and set(state['isr']) <= set(replicas)
                assert 1 <= state['controller_epoch'] <= 2
        # The demo's sessions are closed: its ephemerals (brokers, controller) went with them.
        assert zk.get_children('/brokers/ids') == [] and zk.exists('/controller') is None
    finally:
        zk.stop()
        zk.close()


def check_removed(hosts):
    zk = KazooClient(hosts=hosts, timeout=15)
    zk.start(timeout=30)
    try:
        left = [path for path in ('/brokers', '/controller', '/controller_epoch') if zk.exists(path) is not None]
        assert left == [], left
    finally:
        zk.stop()
        zk.close()


@pytest.mark.parametrize('kind', ['apache', 'paddock'])
def test_kafka_demo_on_a_server(kind):
    server = ApacheServer('kafka-demo') if kind == 'apache' else PaddockServer('kafka-demo', BINARY)
    with server.start():
        hosts = '127.0.0.1:%d' % server.port
        run_demo(hosts)
        check_layout(hosts)
        # A second run starts from a clean slate and passes again; with --cleanup it leaves
        # nothing of Kafka's layout behind.
        run_demo(hosts, '--cleanup')
        check_removed(hosts)


def test_kafka_demo_on_a_paddock_ensemble():
    layout = [(PaddockServerMember, 1, False), (PaddockServerMember, 2, False), (PaddockServerMember, 3, False)]
    with ensemble(layout, tick_ms=500) as members:
        for m in members:
            m.start()
        wait_for(lambda: settled(members), 90, 'the ensemble to settle')
        hosts = ','.join(m.address for m in members)
        run_demo(hosts)
        check_layout(hosts)
