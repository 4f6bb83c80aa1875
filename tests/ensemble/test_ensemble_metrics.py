"""ZooKeeper's quorum metrics on a 3-member Paddock ensemble, scraped from each member's
Prometheus endpoint (ZooKeeper's PrometheusMetricsProvider keys): the leader proposes and
commits every write and synced each follower, and keeps per-learner summaries keyed by sid
(ack_latency, learner_handler_qp_size, learner_handler_qp_time_ms); each follower counts the
PROPOSALs and COMMITs it read and their latencies. Every wait is bounded."""

import os
import re
import sys
import tempfile
import urllib.request

import pytest
from kazoo.client import KazooClient

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from paddock_ensemble import PaddockEnsemble, four_letter, member_port, wait_for  # noqa: E402

PROVIDER = 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider'


def scrape(member):
    """Sample name (with labels) -> value, and family -> type."""
    with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % member.metrics_port, timeout=10) as response:
        text = response.read().decode()
    values, types = {}, {}
    for line in text.splitlines():
        if line.startswith('# TYPE '):
            _, _, family, kind = line.split(' ')
            types[family] = kind
        elif line and not line.startswith('#'):
            name, value = line.rsplit(' ', 1)
            values[name] = float(value)
    return values, types


@pytest.fixture
def ensemble():
    with tempfile.TemporaryDirectory(prefix='paddock-ensemble-metrics-') as root:
        group = PaddockEnsemble(root, voters=3)
        for m in group.members:
            m.metrics_port = member_port()
            with open(m.cfg, 'a') as f:
                f.write('metricsProvider.className=%s\nmetricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=%d\n'
                        % (PROVIDER, m.metrics_port))
                # ack_latency for every proposal (ZooKeeper's default samples zxids divisible by 1000).
                f.write('leader.ackLoggingFrequency=1\n')
        group.start_all()
        yield group
        group.close()


def test_leader_and_followers_record_zookeepers_quorum_metrics(ensemble):
    leader = ensemble.wait_settled()
    followers = [m for m in ensemble.running() if m is not leader]
    writes = 12
    c = KazooClient(hosts=leader.address, timeout=10.0)
    c.start(timeout=30)
    try:
        for i in range(writes):
            c.create('/metered/n%d' % i, b'v%d' % i, makepath=(i == 0))
    finally:
        c.stop()
        c.close()

    # The leader proposed and committed every txn (the session's too), each committed by a
    # quorum's ACKs; it synced both followers at their start (DIFF, TRUNC or SNAP).
    def leader_counted():
        values, _ = scrape(leader)
        return values if values.get('commit_count', 0) >= writes else None
    values = wait_for(leader_counted, 30, 'commit_count >= %d on the leader' % writes)
    _, types = scrape(leader)
    assert values['proposal_count'] >= writes + 1
    assert values['quorum_ack_latency_count'] >= writes
    assert values['diff_count'] + values['snap_count'] >= len(followers)
    assert values['looking_count'] >= 1 and values['unavailable_time_count'] >= 1
    assert values['leader_unavailable_time_count'] >= 1
    assert values['write_per_namespace_count{key="metered"}'] >= writes
    for family in ('proposal_count', 'commit_count', 'diff_count', 'snap_count', 'looking_count'):
        assert types[family] == 'counter', (family, types[family])
    for family in ('quorum_ack_latency', 'propagation_latency', 'unavailable_time'):
        assert types[family] == 'summary', (family, types[family])
    assert 'quorum_ack_latency{quantile="0.99"}' in values  # ADVANCED: 0.5, 0.9, 0.99
    mntr = dict(line.split('\t', 1) for line in four_letter(leader.client_port, 'mntr').splitlines() if '\t' in line)
    assert int(mntr['zk_proposal_count']) >= writes + 1 and int(mntr['zk_commit_count']) >= writes
    assert types['quit_leading_due_to_disloyal_voter'] == 'counter' and values['quit_leading_due_to_disloyal_voter'] == 0

    # Per learner, keyed by sid (ZooKeeper's SummarySets): every proposal a quorum ACKed had at
    # least one follower's ACK read while it was outstanding (ack_latency, ADVANCED); each
    # follower's queue gave a size per packet sent to it, and its first packet was a marker.
    sids = {m.sid for m in ensemble.members}
    for family in ('ack_latency', 'learner_handler_qp_size', 'learner_handler_qp_time_ms'):
        assert types[family] == 'summary', (family, types[family])
        keys = {int(k) for k in re.findall(r'^%s_count\{key="(\d+)"\}' % family, '\n'.join(values), re.M)}
        assert keys and keys <= sids, (family, keys)
    assert sum(values.get('ack_latency_count{key="%d"}' % f.sid, 0) for f in followers) >= writes
    assert any('ack_latency{key="%d",quantile="0.99"}' % sid in values for sid in sids)
    for follower in followers:
        assert values['learner_handler_qp_size_count{key="%d"}' % follower.sid] >= 2 * writes  # PROPOSAL + COMMIT
        assert values['learner_handler_qp_time_ms_count{key="%d"}' % follower.sid] >= 1
        assert 'learner_handler_qp_time_ms{key="%d",quantile="0.99"}' % follower.sid in values
        assert 'learner_handler_qp_size{key="%d",quantile="0.9"}' % follower.sid not in values  # BASIC
        for row in ('avg', 'min', 'max', 'cnt', 'sum'):
            assert 'zk_%s_%d_learner_handler_qp_size' % (row, follower.sid) in mntr
        assert int(mntr['zk_cnt_%d_learner_handler_qp_size' % follower.sid]) >= 2 * writes
    assert any('zk_p99_%d_ack_latency' % sid in mntr for sid in sids)

    # Each follower read every PROPOSAL and COMMIT, made its ACKs and applied the txns.
    for follower in followers:
        def follower_counted():
            values, _ = scrape(follower)
            return values if values.get('learner_commit_received_count', 0) >= writes else None
        values = wait_for(follower_counted, 30, 'learner_commit_received_count >= %d on follower %d' % (writes, follower.sid))
        assert values['learner_proposal_received_count'] >= writes
        assert values['proposal_latency_count'] >= writes
        assert values['commit_propagation_latency_count'] >= writes
        assert values['proposal_ack_creation_latency_count'] >= writes
        assert values['propagation_latency_count'] >= writes
        assert values['proposal_count'] == 0 and values['commit_count'] == 0
        assert values['write_per_namespace_count{key="metered"}'] >= writes
