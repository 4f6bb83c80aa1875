"""The Prometheus endpoint (ZooKeeper's PrometheusMetricsProvider keys) serves ZooKeeper's metric
names, among them the storage engine's: fsynctime, sync_processor_batch_size, dbinittime,
startup_txns_loaded, fsync_threshold_exceed_count; the request latency summaries readlatency and
updatelatency with ZooKeeper's quantiles; mntr's figures as gauges. Each metric with a ZooKeeper
name has the type Apache ZooKeeper 3.8 gives it."""

import os
import re
import socket
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
    'skip_learner_request_to_next_processor_count', 'response_bytes', 'watch_bytes',
}

# The metrics ZooKeeper 3.8 registers (as its mntr shows them on a standalone server) that
# Paddock does not expose, each with the reason: the JVM, Java processor queues and caches with
# no counterpart in Paddock's pipeline (a request is prepped in the loop turn that reads it, a
# batch of txns goes to the log as one write, a commit is applied in the turn ZAB reports it),
# and features Paddock does not have. test_types_match_apache_zookeeper requires the set of
# unexposed names to equal this list: a name ZooKeeper adds, or one Paddock stops exposing, fails.
NOT_EXPOSED = {
    # The JVM and Netty.
    'jvm_pause_time_ms': 'JVM garbage-collection pauses',
    'netty_queued_buffer_capacity': "Netty's queued buffer",
    'socket_closing_time': "time in Netty's socket close",
    # Request processors: queues and stages Paddock's pipeline does not have.
    'prep_processor_queue_size': 'no prep queue: a request is prepped in the loop turn that reads it',
    'prep_processor_queue_time_ms': 'no prep queue (as above)',
    'prep_processor_request_queued': 'no prep queue (as above)',
    'sync_process_time': 'a batch is written in one call: sync_processor_queue_flush_time_ms',
    'commit_process_time': 'no commit processor: a commit is applied in the turn ZAB reports it',
    'commit_commit_proc_req_queued': 'no commit processor',
    'concurrent_request_processing_in_commit_processor': 'no commit processor',
    'read_commit_proc_issued': 'no commit processor',
    'read_commit_proc_req_queued': 'no commit processor',
    'read_commitproc_time_ms': 'no commit processor',
    'write_commit_proc_issued': 'no commit processor',
    'write_commit_proc_req_queued': 'no commit processor',
    'write_commitproc_time_ms': 'no commit processor',
    'write_batch_time_in_commit_processor': 'no commit processor',
    'time_waiting_empty_pool_in_commit_processor_read_ms': 'no commit processor worker pool',
    'request_commit_queued': 'no commit processor',
    'requests_in_session_queue': "no commit processor session queues (a session's reads wait in the core)",
    'pending_session_queue_size': 'no commit processor session queues',
    'reads_after_write_in_session_queue': 'no commit processor session queues',
    'reads_issued_from_session_queue': 'no commit processor session queues',
    'session_queues_drained': 'no commit processor session queues',
    'requests_not_forwarded_to_commit_processor': 'no commit processor',
    'skip_learner_request_to_next_processor_count': "no learner request processor chain",
    'learner_request_processor_queue_size': 'no learner request processor queue: writes are forwarded at once',
    # Throttling and caches Paddock does not have (it bounds by pausing socket reads).
    'request_throttle_queue_time_ms': 'no RequestThrottler',
    'request_throttle_wait_count': 'no RequestThrottler',
    'throttled_ops': 'no RequestThrottler',
    'stale_requests': "no RequestThrottler (a closed connection's requests go with it)",
    'stale_requests_dropped': 'no RequestThrottler',
    'stale_replies': 'no RequestThrottler',
    'large_requests_rejected': 'no large-request limit (frames over jute.maxbuffer close the connection)',
    'connection_token_deficit': 'no connection throttle',
    'connection_drop_probability': 'no connection throttle',
    'response_packet_cache_hits': 'no response cache',
    'response_packet_cache_misses': 'no response cache',
    'response_packet_get_children_cache_hits': 'no response cache',
    'response_packet_get_children_cache_misses': 'no response cache',
    # Watch cleanup: a closed connection's watches are removed at once, not by a cleaner thread.
    'add_dead_watcher_stall_time': 'no dead-watcher cleaner',
    'dead_watchers_queued': 'no dead-watcher cleaner',
    'dead_watchers_cleared': 'no dead-watcher cleaner',
    'dead_watchers_cleaner_latency': 'no dead-watcher cleaner',
    # Ensemble features Paddock does not have.
    'ensemble_auth_success': 'no quorum SASL authentication',
    'ensemble_auth_fail': 'no quorum SASL authentication',
    'ensemble_auth_skip': 'no quorum SASL authentication',
    'om_proposal_process_time_ms': 'no observer master (observerMasterPort)',
    'om_commit_process_time_ms': 'no observer master',
    'inflight_diff_count': 'no learner sync throttler',
    'inflight_snap_count': 'no learner sync throttler',
    # Connections.
    'tls_handshake_exceeded': 'no limit on TLS handshakes in progress',
    'cnxn_closed_without_zk_server_running': "no early drop of TLS connections while not serving (Netty's option)",
    'insecure_admin_count': 'the admin server has no TLS port to be insecure beside',
}


def start_with_metrics(name, **cfg):
    port = free_port()
    server = PaddockServer(name, BINARY, extra_cfg={
        'metricsProvider.className': PROVIDER,
        'metricsProvider.httpHost': '127.0.0.1',
        'metricsProvider.httpPort': port,
        **cfg,
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
        lines = four_letter('127.0.0.1', server.port, 'mntr').splitlines()
        mntr = dict(line.split('\t', 1) for line in lines if '\t' in line)
        assert int(mntr['zk_cnt_readlatency']) == reads
        assert int(mntr['zk_cnt_updatelatency']) == writes
        # An ADVANCED summary's rows in Apache's order: avg min max cnt sum, then the percentiles.
        for family in ('readlatency', 'updatelatency'):
            names = [line.split('\t', 1)[0] for line in lines if line.split('\t', 1)[0].endswith('_' + family)]
            assert names == ['zk_%s_%s' % (row, family) for row in
                             ('avg', 'min', 'max', 'cnt', 'sum', 'p50', 'p95', 'p99', 'p999')], names
            assert int(mntr['zk_p50_' + family]) <= int(mntr['zk_p99_' + family]) <= int(mntr['zk_max_' + family])
    finally:
        server.stop()


def test_silent_connection_is_expired_and_counted():
    """A connection that sends no ConnectRequest is closed after zookeeper.nio.sessionlessCnxnTimeout
    (checked on the next tick) and counted in sessionless_connections_expired."""
    server, port = start_with_metrics('prometheus-sessionless', **{'nio.sessionlessCnxnTimeout': 300})
    try:
        silent = socket.create_connection(('127.0.0.1', server.port), timeout=30)
        try:
            assert silent.recv(1) == b'', 'the server sent something to a silent connection'
        finally:
            silent.close()
        mntr = dict(line.split('\t', 1) for line in four_letter('127.0.0.1', server.port, 'mntr').splitlines())
        assert mntr['zk_sessionless_connections_expired'] == '1'
        values, types = parse(scrape(port))
        assert types['sessionless_connections_expired'] == 'counter'
        assert values['sessionless_connections_expired'] == 1
    finally:
        server.stop()


def apache_available():
    return os.path.exists(ZK_JARS[0]) and os.path.exists('/usr/bin/java')


SUMMARY_ROWS = ('avg', 'min', 'max', 'cnt', 'sum')
PERCENTILE_ROWS = ('p50', 'p95', 'p99', 'p999')

# mntr rows Paddock prints that a standalone ZooKeeper 3.8 does not: ServerStats' fsync warnings
# (3.8 shows them in srvr and server_stats only), Paddock's LMDB stale-reader figure, and the
# leader's own sync time (3.8 times follower and observer syncs only).
MNTR_PADDOCK_ONLY = {'fsync_threshold_exceed_count', 'paddock_stale_readers_cleared', 'leader_sync_time'}


def mntr_metrics(lines):
    """mntr's keys (without zk_) grouped by metric: {name: set of row prefixes} where a summary
    has its rows' prefixes (avg, min, …) and a counter or gauge the empty prefix."""
    keys = [line.split('\t', 1)[0][3:] for line in lines if line.startswith('zk_')]
    summaries = {key[4:] for key in keys if key.startswith('cnt_')}
    metrics = {}
    for key in keys:
        prefix, _, rest = key.partition('_')
        if prefix in SUMMARY_ROWS + PERCENTILE_ROWS and rest in summaries:
            metrics.setdefault(rest, set()).add(prefix)
        else:
            metrics.setdefault(key, set()).add('')
    return metrics


@pytest.fixture(scope='module')
def apache_mntr():
    """A standalone Apache ZooKeeper 3.8's mntr lines after a create and a getData of /x."""
    if not apache_available():
        pytest.skip('Apache ZooKeeper 3.8 (Debian package) is not installed')
    apache = ApacheServer('apache-metrics')
    apache.start()
    try:
        session = Session('127.0.0.1', apache.port)
        session.create('/x', b'x')
        session.get_data('/x')
        return four_letter('127.0.0.1', apache.port, 'mntr').splitlines()
    finally:
        apache.stop()


def test_mntr_keys_match_apache_zookeeper(apache_mntr):
    """mntr prints every metric the server registers, each as ZooKeeper 3.8 does: a summary as
    zk_avg/min/max/cnt/sum_<name> (an ADVANCED one with zk_p50/p95/p99/p999_<name> after them), a
    summary set's member as <key>_<name>, a counter or gauge as zk_<name>. The set of keys must
    equal a standalone ZooKeeper 3.8's, apart from exactly the NOT_EXPOSED metrics (with the JVM's)
    and MNTR_PADDOCK_ONLY: a metric added to either server, or dropped, fails."""
    server, _ = start_with_metrics('prometheus-mntr')
    try:
        session = Session('127.0.0.1', server.port)
        session.create('/x', b'x')
        session.get_data('/x')
        lines = four_letter('127.0.0.1', server.port, 'mntr').splitlines()
    finally:
        server.stop()
    paddock, apache = mntr_metrics(lines), mntr_metrics(apache_mntr)
    assert set(apache) - set(paddock) == set(NOT_EXPOSED), (
        'Apache only, not in NOT_EXPOSED: %s; in NOT_EXPOSED but printed: %s'
        % (sorted(set(apache) - set(paddock) - set(NOT_EXPOSED)), sorted(set(NOT_EXPOSED) & set(paddock))))
    assert set(paddock) - set(apache) == MNTR_PADDOCK_ONLY, sorted(set(paddock) - set(apache))
    for name in set(paddock) & set(apache):
        assert paddock[name] == apache[name], '%s: Paddock rows %s, ZooKeeper %s' % (
            name, sorted(paddock[name]), sorted(apache[name]))
    # Apache's order: version and state first, then the gauges and counters, then the summaries
    # (BASIC, ADVANCED), then the summary sets; each summary's rows together, in its row order.
    keys = [line.split('\t', 1)[0] for line in lines]
    assert keys[:2] == ['zk_version', 'zk_server_state']
    summary_names = {name for name, rows in paddock.items() if 'cnt' in rows}
    is_summary_row = [key[3:].partition('_')[2] in summary_names for key in keys]
    assert is_summary_row == sorted(is_summary_row), 'a counter or gauge after the summaries'
    for name, rows in paddock.items():
        if 'cnt' not in rows:
            continue
        expected = ['zk_%s_%s' % (row, name) for row in SUMMARY_ROWS + (PERCENTILE_ROWS if 'p50' in rows else ())]
        start = keys.index(expected[0])
        assert keys[start:start + len(expected)] == expected, name
    assert keys.index('zk_sum_x_write_per_namespace') > keys.index('zk_cnt_readlatency')


class CountingSession(Session):
    """A Session that adds up the frames it sends, each with its 4-byte length."""

    def _send(self, payload):
        self.bytes_sent = getattr(self, 'bytes_sent', 0) + 4 + len(payload)
        self.frames_sent = getattr(self, 'frames_sent', 0) + 1
        super()._send(payload)


def received_by(port):
    """bytes_received_count and packets_received before and after one scripted client run, the
    mntr that reads the second included: (the increase of each, the bytes and frames sent)."""
    def counts():
        rows = dict(line.split('\t', 1) for line in four_letter('127.0.0.1', port, 'mntr').splitlines() if '\t' in line)
        return int(rows['zk_bytes_received_count']), int(rows['zk_packets_received'])
    before = counts()
    assert four_letter('127.0.0.1', port, 'ruok') == 'imok'
    session = CountingSession('127.0.0.1', port)
    assert session.create('/b', b'x' * 100).err == 0
    assert session.get_data('/b').err == 0
    assert session.set_data('/b', b'y' * 7).err == 0
    assert session.get_children('/').err == 0
    assert session.exists('/none').err != 0
    assert session.create('/b', b'again').err != 0  # NodeExists: counted as any request
    session.ping()
    session.close_session()
    session.close()
    after = counts()
    return (after[0] - before[0], after[1] - before[1]), (session.bytes_sent, session.frames_sent)


def test_bytes_received_count_matches_apache_zookeeper():
    """bytes_received_count is ZooKeeper's ServerCnxn.packetReceived sum: each frame read with its
    4-byte length (the ConnectRequest's too), and 4 for each four-letter word
    (NIOServerCnxn.checkFourLetterWord), the mntr that reports it included; packets_received
    counts a packet for each of those. The same scripted run gives the same increases on a
    standalone Paddock and a standalone ZooKeeper 3.8."""
    server, _ = start_with_metrics('prometheus-bytes')
    try:
        paddock, (sent, frames) = received_by(server.port)
    finally:
        server.stop()
    # ruok and the second mntr: 4 bytes and a packet each.
    assert paddock == (sent + 8, frames + 2), (paddock, sent, frames)
    if not apache_available():
        pytest.skip('Apache ZooKeeper 3.8 (Debian package) is not installed')
    apache_server = ApacheServer('apache-bytes')
    apache_server.start()
    try:
        apache, _ = received_by(apache_server.port)
    finally:
        apache_server.stop()
    assert paddock == apache, 'Paddock (bytes, packets) %s, ZooKeeper %s' % (paddock, apache)


def test_types_match_apache_zookeeper(apache_mntr):
    """Debian's zookeeper package has no zookeeper-prometheus-metrics jar, so Apache's types are
    read from its mntr, which prints every metric its provider registers: a summary as
    zk_avg/min/max/cnt/sum_<name> (an ADVANCED one with zk_p50.._<name> too), a counter or gauge as
    zk_<name>; which of those are counters comes from its source (APACHE_COUNTERS)."""
    # A SummarySet's members show as zk_cnt_<key>_<name> (here key x); Prometheus has one
    # family <name> with a key label.
    rows = [line.split('\t', 1)[0][3:] for line in apache_mntr if line.startswith('zk_')]
    rows = [re.sub(r'^((?:avg|min|max|cnt|sum|p50|p95|p99|p999)_)x_(\w+_per_namespace)$', r'\1\2', row) for row in rows]
    metrics = mntr_metrics(['zk_' + row for row in rows])
    summaries = {name for name, kinds in metrics.items() if 'cnt' in kinds}
    advanced = {name for name, kinds in metrics.items() if 'p99' in kinds}
    scalars = {name for name, kinds in metrics.items() if '' in kinds}
    assert {'write_per_namespace', 'read_per_namespace'} <= summaries, sorted(summaries)
    assert {'max_client_response_size', 'min_client_response_size', 'max_file_descriptor_count'} <= scalars
    server, port = start_with_metrics('prometheus-types')
    try:
        session = Session('127.0.0.1', server.port)
        session.create('/x', b'x')
        session.get_data('/x')
        text = scrape(port)
        values, types = parse(text)
    finally:
        server.stop()
    checked = 0
    for family, kind in types.items():
        if family in summaries:
            assert kind == 'summary', '%s is a summary in ZooKeeper, %s in Paddock' % (family, kind)
            expected = ('0.5', '0.9', '0.99') if family in advanced else ('0.5',)
            got = tuple(sorted(set(re.findall(r'^%s\{(?:[^}]*,)?quantile="([0-9.]+)"\}' % re.escape(family), text, re.M))))
            assert got == expected, '%s quantiles %s, ZooKeeper %s' % (family, got, expected)
        elif family in scalars:
            expected = 'counter' if family in APACHE_COUNTERS else 'gauge'
            assert kind == expected, '%s is a %s in ZooKeeper, %s in Paddock' % (family, expected, kind)
        else:
            continue  # Paddock's own (paddock_*) or a name ZooKeeper 3.8 has not: no type to match
        checked += 1
    assert checked >= 25, 'only %d metrics share a ZooKeeper name' % checked
    # ZooKeeper's per-namespace summaries: one family, the namespace as the key label.
    assert values['write_per_namespace_count{key="x"}'] == 1 and values['write_per_namespace_sum{key="x"}'] == 3
    assert values['read_per_namespace_count{key="x"}'] == 1 and values['read_per_namespace_sum{key="x"}'] == 2 + 1 + 68
    missing = sorted((summaries | scalars) - set(types) - {'version', 'server_state'})
    print('ZooKeeper 3.8 metrics Paddock does not expose (%d): %s' % (len(missing), ' '.join(missing)))
    assert set(missing) == set(NOT_EXPOSED), (
        'newly unexposed: %s; exposed now or gone from ZooKeeper: %s'
        % (sorted(set(missing) - set(NOT_EXPOSED)), sorted(set(NOT_EXPOSED) - set(missing))))
