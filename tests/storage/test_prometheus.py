"""The Prometheus endpoint (ZooKeeper's PrometheusMetricsProvider keys) serves ZooKeeper's metric
names, among them the storage engine's: fsynctime, sync_processor_batch_size, dbinittime,
startup_txns_loaded, fsync_threshold_exceed_count."""

import os
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'differential'))

from servers import PaddockServer, free_port  # noqa: E402
from zkwire import Session  # noqa: E402

BINARY = os.environ.get('PADDOCK_BIN', os.path.join(HERE, '..', '..', '.build', 'debug', 'paddock'))


def test_metrics_endpoint_has_zookeeper_names():
    port = free_port()
    server = PaddockServer('prometheus', BINARY, extra_cfg={
        'metricsProvider.className': 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider',
        'metricsProvider.httpHost': '127.0.0.1',
        'metricsProvider.httpPort': port,
    })
    try:
        server.start()
        session = Session('127.0.0.1', server.port)
        for i in range(20):
            assert session.create('/m%d' % i, b'x').err == 0
        with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port, timeout=10) as response:
            assert response.status == 200
            text = response.read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith('#'):
                name, value = line.rsplit(' ', 1)
                values[name] = float(value)
        for name in ('fsynctime_count', 'fsynctime_sum', 'sync_processor_batch_size_count', 'dbinittime_count',
                     'startup_txns_loaded', 'fsync_threshold_exceed_count', 'znode_count', 'digest_mismatches_count'):
            assert name in values, '%s missing from /metrics' % name
        assert values['fsynctime_count'] >= 1
        assert values['znode_count'] >= 25
        assert values['digest_mismatches_count'] == 0
    finally:
        server.stop()
