"""The proxy's admin HTTP endpoints: /healthz /readyz /metrics /status."""

import re

from helpers import admin, produce_confluent, read_all, unique


def real_brokers(cluster):
    """node id -> "host:port" as the cluster itself advertises it."""
    md = admin(cluster.bootstrap).list_topics(timeout=10)
    return {b.id: "%s:%d" % (b.host, b.port) for b in md.brokers.values()}


def test_metrics_and_status(cluster, proxied):
    proxied.require_proxy()
    topic = unique("adm-ep")
    cluster.create_topic(topic, partitions=1)
    produce_confluent(proxied.bootstrap, topic, n=5, acks="all")
    assert len(read_all(proxied.bootstrap, topic, expected=5)) == 5

    assert proxied.get("/healthz")[0] == 200
    assert proxied.get("/readyz")[0] == 200

    text = proxied.metrics()
    samples = re.findall(r"^kafka_proxy_requests_total(\{[^}]*\})?\s+([0-9.eE+]+)", text, re.M)
    assert samples, "no kafka_proxy_requests_total sample in /metrics:\n" + text[:2000]
    assert sum(float(v) for _, v in samples) >= 3   # at least ApiVersions, Metadata, Produce
    labels = " ".join(l for l, _ in samples)
    assert "api=" in labels and "version=" in labels, labels
    for name in ("kafka_proxy_connections_active", "kafka_proxy_connections_total", "kafka_proxy_bytes_total"):
        assert re.search(r"^%s\b" % name, text, re.M), name + " missing from /metrics"

    # The latency histogram (kept per loop, summed when scraped): one family, cumulative buckets
    # ending in +Inf equal to _count, a Produce series for the records above.
    h = "kafka_proxy_request_duration_seconds"
    assert len(re.findall(r"^# TYPE %s histogram$" % h, text, re.M)) == 1, text[:2000]
    buckets = [(le, float(v)) for le, v in
               re.findall(r'^%s_bucket\{api="Produce",le="([^"]+)"\}\s+(\S+)$' % h, text, re.M)]
    assert buckets and buckets[-1][0] == "+Inf", buckets
    counts = [v for _, v in buckets]
    assert counts == sorted(counts) and counts[-1] >= 1, buckets
    count = re.search(r'^%s_count\{api="Produce"\}\s+(\S+)$' % h, text, re.M)
    assert count and float(count.group(1)) == counts[-1], text[:2000]
    assert re.search(r'^%s_sum\{api="Produce"\}\s+[0-9.]+$' % h, text, re.M), text[:2000]

    st = proxied.status()
    assert st["activeCluster"] == "primary"
    assert isinstance(st["configGeneration"], int)
    assert st["connections"]["total"] >= 1
    listeners = st["listeners"]
    boot = [l for l in listeners if l["kind"] == "bootstrap"]
    assert [l["port"] for l in boot] == [proxied.bootstrap_port], listeners
    brokers = {l["nodeId"]: l for l in listeners if l["kind"] == "broker"}
    real = real_brokers(cluster)
    assert sorted(brokers) == sorted(real), listeners
    for node, l in brokers.items():
        assert l["port"] in proxied.broker_ports, l
        assert l["upstream"] == real[node], (l, real)
    assert len({l["port"] for l in brokers.values()}) == len(brokers)


def test_unknown_admin_path_is_404(tansu, proxy):
    p = proxy(tansu)
    p.require_proxy()
    assert p.get("/no-such-endpoint")[0] == 404
