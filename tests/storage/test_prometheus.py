"""The Prometheus endpoint (ZooKeeper's PrometheusMetricsProvider keys) serves ZooKeeper's metric
names, among them the storage engine's: fsynctime, sync_processor_batch_size, dbinittime,
startup_txns_loaded, fsync_threshold_exceed_count; the request latency summaries readlatency and
updatelatency with ZooKeeper's quantiles; mntr's figures as gauges. Each metric with a ZooKeeper
name has the type Apache ZooKeeper 3.8 gives it."""

import os
import re
import sys
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'differential'))

from servers import ApacheServer, PaddockServer, ZK_JARS, free_port  # noqa: E402
from zkwire import Session, four_letter  # noqa: E402

BINARY = os.environ.get('PADDOCK_BIN', os.path.join(HERE, '..', '..', '.build', 'debug', 'paddock'))

PROVIDER = 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider'

# ZooKeeper 3.8's ServerMetrics registers these as counters (getCounter); its other non-summary
# metrics are gauges (zookeeper-server/src/main/java/org/apache/zookeeper/server/ServerMetrics.java).
APACHE_COUNTERS = {
    'looking_count', 'diff_count', 'snap_count', 'commit_count', 'connection_request_count',
    'connection_rejected', 'bytes_received_count', 'unrecoverable_error_count', 'add_dead_watcher_stall_time',
    'dead_watchers_queued', 'dead_watchers_cleared', 'response_packet_cache_hits',
    'response_packet_cache_misses', 'response_packet_get_children_cache_hits',
    'response_packet_get_children_cache_misses', 'ensemble_auth_success', 'ensemble_auth_fail',
    'ensemble_auth_skip', 'prep_processor_request_queued', 'outstanding_changes_queued',
    'outstanding_changes_removed', 'revalidate_count', 'connection_drop_count', 'connection_revalidate_count',
    'sessionless_connections_expired', 'stale_sessions_expired', 'request_commit_queued',
    'learner_proposal_received_count', 'learner_commit_received_count', 'sync_processor_request_queued',
    'proposal_count', 'quit_leading_due_to_disloyal_voter', 'stale_requests', 'stale_requests_dropped',
    'stale_replies', 'large_requests_rejected', 'insecure_admin_count', 'throttled_ops',
    'request_throttle_wait_count', 'cnxn_closed_without_zk_server_running', 'unsuccessful_handshake',
    'tls_handshake_exceeded', 'requests_not_forwarded_to_commit_processor',
    'skip_learner_request_to_next_processor_count', 'response_bytes',
}


def start_with_metrics(name):
    port = free_port()
    server = PaddockServer(name, BINARY, extra_cfg={
        'metricsProvider.className': PROVIDER,
        'metricsProvider.httpHost': '127.0.0.1',
        'metricsProvider.httpPort': port,
    })
    server.start()
    return server, port


def scrape(port):
    with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=10) as response:
        assert response.status == 200
        return response.read().decode()


def parse(text):
    """(values by sample name with labels, type by family name)."""
    values, types = {}, {}
    for line in text.splitlines():
        if line.startswith('# TYPE '):
            _, _, family, kind = line.split(' ')
            types[family] = kind
        elif line and not line.startswith('#'):
            name, value = line.rsplit(' ', 1)
            values[name] = float(value)
    return values, types


def test_metrics_endpoint_has_zookeeper_names():
    server, port = start_with_metrics('prometheus')
    try:
        session = Session('127.0.0.1', server.port)
        for i in range(20):
            assert session.create('/m%d' % i, b'x').err == 0
        values, _ = parse(scrape(port))
        # startup_txns_loaded is a summary in ZooKeeper 3.8 (its _count and _sum).
        for name in ('fsynctime_count', 'fsynctime_sum', 'sync_processor_batch_size_count', 'dbinittime_count',
                     'startup_txns_loaded_count', 'fsync_threshold_exceed_count', 'znode_count',
                     'digest_mismatches_count'):
            assert name in values, '%s missing from /metrics' % name
        assert values['fsynctime_count'] >= 1
        assert values['znode_count'] >= 25
        assert values['digest_mismatches_count'] == 0
    finally:
        server.stop()


def test_latency_summaries_count_every_request():
    """readlatency / updatelatency are summaries with ZooKeeper's quantiles (0.5, 0.9, 0.99) and
    count every request exactly (no sampling; a session's connect and its pings are not counted:
    ZooKeeper counts a createSession as an update)."""
    server, port = start_with_metrics('prometheus-latency')
    try:
        session = Session('127.0.0.1', server.port)
        writes, reads = 15, 40
        for i in range(writes):
            assert session.create('/l%d' % i, b'x' * i).err == 0
        for i in range(reads):
            assert session.get_data('/l%d' % (i % writes)).err == 0
        text = scrape(port)
        values, types = parse(text)
        for family in ('readlatency', 'updatelatency'):
            assert types.get(family) == 'summary', text
            for quantile in ('0.5', '0.9', '0.99'):
                sample = '%s{quantile="%s"}' % (family, quantile)
                assert sample in values, '%s missing:\n%s' % (sample, text)
                assert values[sample] >= 0
        assert values['readlatency_count'] == reads
        assert values['updatelatency_count'] == writes
        assert values['readlatency_sum'] >= 0 and values['updatelatency_sum'] > 0
        assert values['readlatency{quantile="0.5"}'] <= values['readlatency{quantile="0.99"}']
        # BASIC summaries show the median only, as ZooKeeper's provider does.
        assert types['fsynctime'] == 'summary' and 'fsynctime{quantile="0.5"}' in values
        assert 'fsynctime{quantile="0.9"}' not in values
        # mntr's figures as gauges.
        for gauge in ('znode_count', 'watch_count', 'ephemerals_count', 'approximate_data_size',
                      'num_alive_connections', 'outstanding_requests', 'global_sessions', 'packets_received'):
            assert types.get(gauge) == 'gauge', '%s: %s' % (gauge, types.get(gauge))
        assert values['num_alive_connections'] >= 1
        assert values['znode_count'] >= writes
        # mntr shows the same summaries with Apache's names.
        mntr = dict(line.split('\t', 1) for line in four_letter('127.0.0.1', server.port, 'mntr').splitlines() if '\t' in line)
        assert int(mntr['zk_cnt_readlatency']) == reads
        assert int(mntr['zk_cnt_updatelatency']) == writes
    finally:
        server.stop()


def apache_available():
    return os.path.exists(ZK_JARS[0]) and os.path.exists('/usr/bin/java')


@pytest.mark.skipif(not apache_available(), reason='Apache ZooKeeper 3.8 (Debian package) is not installed')
def test_types_match_apache_zookeeper():
    """Debian's zookeeper package has no zookeeper-prometheus-metrics jar, so Apache's types are
    read from its mntr, which prints every metric its provider registers: a summary as
    zk_avg/min/max/cnt/sum_<name> (an ADVANCED one with zk_p50.._<name> too), a counter or gauge as
    zk_<name>; which of those are counters comes from its source (APACHE_COUNTERS)."""
    apache = ApacheServer('apache-metrics')
    apache.start()
    try:
        Session('127.0.0.1', apache.port).create('/x', b'x')
        rows = [line.split('\t', 1)[0][3:] for line in
                four_letter('127.0.0.1', apache.port, 'mntr').splitlines() if line.startswith('zk_')]
    finally:
        apache.stop()
    summaries = {row[4:] for row in rows if row.startswith('cnt_')}
    advanced = {row[4:] for row in rows if row.startswith('p99_')}
    scalars = {row for row in rows if not re.match(r'(avg|min|max|cnt|sum|p50|p95|p99|p999)_', row)}
    scalars |= {'avg_latency', 'min_latency', 'max_latency'}
    server, port = start_with_metrics('prometheus-types')
    try:
        Session('127.0.0.1', server.port).create('/x', b'x')
        values, types = parse(scrape(port))
    finally:
        server.stop()
    checked = 0
    for family, kind in types.items():
        if family in summaries:
            assert kind == 'summary', '%s is a summary in ZooKeeper, %s in Paddock' % (family, kind)
            expected = ('0.5', '0.9', '0.99') if family in advanced else ('0.5',)
            got = tuple(sorted(re.findall(r'^%s\{quantile="([0-9.]+)"\}' % re.escape(family), '\n'.join(values), re.M)))
            assert got == expected, '%s quantiles %s, ZooKeeper %s' % (family, got, expected)
        elif family in scalars:
            expected = 'counter' if family in APACHE_COUNTERS else 'gauge'
            assert kind == expected, '%s is a %s in ZooKeeper, %s in Paddock' % (family, expected, kind)
        else:
            continue  # Paddock's own (paddock_*) or a name ZooKeeper 3.8 has not: no type to match
        checked += 1
    assert checked >= 25, 'only %d metrics share a ZooKeeper name' % checked
    missing = sorted((summaries | scalars) - set(types) - {'version', 'server_state'})
    print('ZooKeeper 3.8 metrics Paddock does not expose (%d): %s' % (len(missing), ' '.join(missing)))
