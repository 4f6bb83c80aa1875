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
from mixed_ensemble import ApacheMember, PaddockServerMember, ensemble as mixed_ensemble, wait_settled, zxid_of  # noqa: E402
sys.path.insert(0, os.path.join(HERE, '..', 'storage'))
import test_prometheus as standalone  # noqa: E402
from servers import ZK_JARS  # noqa: E402

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
    # A few writes through the first follower: its own clients' (local_write_committed_time_ms
    # there), every other member's server_write_committed_time_ms; the leader preps them all.
    relayed = 5
    c = KazooClient(hosts=followers[0].address, timeout=10.0)
    c.start(timeout=30)
    try:
        for i in range(relayed):
            c.create('/metered/f%d' % i, b'f%d' % i)
    finally:
        c.stop()
        c.close()

    # The leader proposed and committed every txn (the session's too), each committed by a
    # quorum's ACKs; it synced both followers at their start (DIFF, TRUNC or SNAP).
    def leader_counted():
        values, _ = scrape(leader)
        return values if values.get('commit_count', 0) >= writes + relayed else None
    values = wait_for(leader_counted, 30, 'commit_count >= %d on the leader' % (writes + relayed))
    # ZooKeeper's leader passes learners' requests through its own CommitProcessor: all local.
    assert values['local_write_committed_time_ms_count'] >= writes + relayed
    assert values['server_write_committed_time_ms_count'] == 0
    assert 'local_write_committed_time_ms{quantile="0.99"}' in values  # ADVANCED
    assert values['sync_processor_queue_size_count'] == values['sync_processor_request_queued']
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
        # The relaying follower's clients' writes (and session) are local there, the rest not.
        own = relayed + 2 if follower is followers[0] else 0  # creates, createSession, closeSession
        wait_for(lambda: scrape(follower)[0].get('local_write_committed_time_ms_count', 0)
                 + scrape(follower)[0].get('server_write_committed_time_ms_count', 0) >= writes + relayed + 4,
                 30, 'every txn applied on follower %d' % follower.sid)
        values, _ = scrape(follower)
        assert values['local_write_committed_time_ms_count'] == own, (follower.sid, values['local_write_committed_time_ms_count'])
        assert values['server_write_committed_time_ms_count'] >= writes + relayed + 4 - own


def mntr_rows(member):
    return dict(line.split('\t', 1) for line in four_letter(member.client_port, 'mntr').splitlines() if '\t' in line)


def test_learner_counts_proposals_and_commits_in_broadcast_only(ensemble):
    """ZooKeeper counts learner_proposal_received_count and learner_commit_received_count in
    Follower.processPacket, after the sync: a follower that restarts behind and is synced by DIFF
    (PROPOSAL and COMMIT packets for what it missed) counts none of those, then every one that
    comes after its UPTODATE."""
    leader = ensemble.wait_settled()
    behind = [m for m in ensemble.running() if m is not leader][0]
    c = KazooClient(hosts=leader.address, timeout=10.0)
    c.start(timeout=30)
    try:
        c.create('/synced', b's')
        diffs = int(mntr_rows(leader)['zk_diff_count'])
        ensemble.stop(behind)
        missed = 6
        for i in range(missed):
            c.create('/synced/missed%d' % i, b'm')
        ensemble.start(behind)
        ensemble.wait_settled()
        target = int(mntr_rows(leader)['zk_proposal_count'])
        wait_for(lambda: zxid_of(behind) == zxid_of(leader), 60, 'member %d caught up' % behind.sid)
        assert int(mntr_rows(leader)['zk_diff_count']) == diffs + 1  # it was synced by DIFF
        rows = mntr_rows(behind)
        assert rows['zk_learner_proposal_received_count'] == '0', rows['zk_learner_proposal_received_count']
        assert rows['zk_learner_commit_received_count'] == '0', rows['zk_learner_commit_received_count']
        assert int(rows['zk_cnt_proposal_latency']) == 0
        later = 4
        for i in range(later):
            c.create('/synced/later%d' % i, b'l')
    finally:
        c.stop()
        c.close()
    # Each later create and the session's close, each PROPOSAL then COMMIT.
    proposed = int(mntr_rows(leader)['zk_proposal_count']) - target
    assert proposed == later + 1
    rows = wait_for(lambda: (lambda r: r if r['zk_learner_commit_received_count'] == str(proposed) else None)(mntr_rows(behind)),
                    30, 'member %d read %d COMMITs' % (behind.sid, proposed))
    assert rows['zk_learner_proposal_received_count'] == str(proposed)


# ZooKeeper's summary sets in mntr: a member is zk_<row>_<key>_<name> (the key a namespace or a
# learner's sid); compared by set, whatever the keys.
SUMMARY_SETS = ('read_per_namespace', 'write_per_namespace', 'learner_handler_qp_size', 'learner_handler_qp_time_ms',
                'ack_latency')
SET_MEMBER = re.compile(r'^zk_((?:avg|min|max|cnt|sum|p50|p95|p99|p999)_)\w+?_(%s)$' % '|'.join(SUMMARY_SETS))

# The gauges ZooKeeper 3.8's LeaderZooKeeperServer registers (mntr shows them on the leader only;
# a follower's synced_observers is null, so not shown, without an observer master).
LEADER_GAUGES = {'learners', 'synced_followers', 'synced_non_voting_followers', 'synced_observers', 'pending_syncs',
                 'leader_uptime', 'last_proposal_size', 'max_proposal_size', 'min_proposal_size'}


def ensemble_mntr(kind):
    """A 3-member ensemble of `kind` (Apache or Paddock members, same zoo.cfg keys) after the
    same client work on the leader, none of it failing (a failed write's txn is an error txn,
    which ZooKeeper proposes without a digest): mntr's lines of the leader and of a follower."""
    with mixed_ensemble([(kind, sid, False) for sid in (1, 2, 3)]) as members:
        for m in members:
            m.start()
        leader = wait_settled(members, 120, 'a settled %s ensemble' % kind.__name__)
        c = KazooClient(hosts=leader.address, timeout=10.0)
        c.start(timeout=30)
        try:
            c.create('/m', b'm')
            for i in range(5):
                c.create('/m/n%d' % i, b'v' * (10 * i))
            c.get('/m/n1')
        finally:
            c.stop()
            c.close()
        follower = [m for m in members if m is not leader][0]
        wait_for(lambda: zxid_of(follower) == zxid_of(leader), 60, 'the follower applied every txn')
        return (four_letter(leader.client_port, 'mntr').splitlines(),
                four_letter(follower.client_port, 'mntr').splitlines())


def metrics_of(lines):
    return standalone.mntr_metrics([SET_MEMBER.sub(r'zk_\1\2', line.split('\t', 1)[0]) for line in lines])


@pytest.mark.skipif(not os.path.exists(ZK_JARS[0]), reason='Apache ZooKeeper 3.8 (Debian package) is not installed')
def test_mntr_keys_of_leader_and_follower_match_apache_ensemble():
    """mntr on a Paddock leader and follower prints the metrics a 3-member Apache ZooKeeper 3.8
    ensemble's leader and follower print, each with the same rows, apart from exactly the
    standalone comparison's lists (NOT_EXPOSED, MNTR_PADDOCK_ONLY in tests/storage/test_prometheus.py):
    a metric either server adds for a role, or drops, fails. The leader's proposal sizes are
    ZooKeeper's for the same txns."""
    apache = dict(zip(('leader', 'follower'), ensemble_mntr(ApacheMember)))
    paddock = dict(zip(('leader', 'follower'), ensemble_mntr(PaddockServerMember)))
    for role in ('leader', 'follower'):
        a, p = metrics_of(apache[role]), metrics_of(paddock[role])
        assert set(a) - set(p) == set(standalone.NOT_EXPOSED), (
            '%s: Apache only, not in NOT_EXPOSED: %s; in NOT_EXPOSED but printed: %s'
            % (role, sorted(set(a) - set(p) - set(standalone.NOT_EXPOSED)),
               sorted(set(standalone.NOT_EXPOSED) & set(p))))
        assert set(p) - set(a) == standalone.MNTR_PADDOCK_ONLY, (role, sorted(set(p) - set(a)))
        for name in set(p) & set(a):
            assert p[name] == a[name], '%s %s: Paddock rows %s, ZooKeeper %s' % (role, name, sorted(p[name]), sorted(a[name]))
    # What only the leader prints (its gauges; the learner summary sets; the read's namespace,
    # as the read went to the leader) is the same on both.
    leader_only = {kind: set(metrics_of(rows['leader'])) - set(metrics_of(rows['follower']))
                   for kind, rows in (('apache', apache), ('paddock', paddock))}
    assert leader_only['apache'] == leader_only['paddock'], leader_only
    assert LEADER_GAUGES <= leader_only['apache'], sorted(LEADER_GAUGES - leader_only['apache'])
    values = {kind: dict(line.split('\t', 1) for line in rows['leader'] if '\t' in line)
              for kind, rows in (('apache', apache), ('paddock', paddock))}
    # BufferStats over each PROPOSAL's data (TxnHeader, txn, digest): createSession, the
    # creates, closeSession.
    for gauge in ('last_proposal_size', 'min_proposal_size', 'max_proposal_size'):
        assert values['paddock']['zk_' + gauge] == values['apache']['zk_' + gauge], gauge
    assert values['paddock']['zk_last_proposal_size'] == '48'  # closeSession
    for kind in ('apache', 'paddock'):
        assert 0 < int(values[kind]['zk_leader_uptime']) <= int(values[kind]['zk_uptime']), kind
