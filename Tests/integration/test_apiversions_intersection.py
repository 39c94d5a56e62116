"""ApiVersions through the proxy: only what every configured cluster supports.

A connection moved to another cluster (failover.onSwitch: move) keeps the versions its client
negotiated, so the proxy answers ApiVersions with the intersection of the clusters' ranges (the
health probe learns them), still capped by what it decodes. Two librdkafka mock clusters whose
versions differ (rd_kafka_mock_set_apiversion): a client through the proxy gets the
intersection, a confluent-kafka producer keeps working across a switch that moves its
connections, and ConsumerGroupHeartbeat (KIP-848) is offered with one cluster only.
"""

import socket
import time
import struct

import pytest

from conftest import MockCluster
from failover_support import (DRAIN_SECONDS, ClusterTail, ConfluentProduceLoop, analyse, failover_proxy,  # noqa: F401
                              failover_report, metric, needs_proxy, phase_wait, wait_settled, wait_until)
from helpers import unique

pytestmark = needs_proxy

PRODUCE, LIST_OFFSETS, API_VERSIONS = 0, 2, 18
TELEMETRY = (71, 72)            # GetTelemetrySubscriptions, PushTelemetry
CONSUMER_GROUP_HEARTBEAT = 68
PARTITIONS = 3


def api_versions(bootstrap, version=0):
    """A raw ApiVersions request (v0-2: the mock answers no higher) -> {api key: (min, max)}."""
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        client_id = b"apiv-test"
        body = struct.pack(">hhih", API_VERSIONS, version, 7, len(client_id)) + client_id
        s.sendall(struct.pack(">i", len(body)) + body)
        head = b""
        while len(head) < 4:
            chunk = s.recv(4 - len(head))
            assert chunk, "connection closed before the ApiVersions answer"
            head += chunk
        size = struct.unpack(">i", head)[0]
        data = b""
        while len(data) < size:
            chunk = s.recv(size - len(data))
            assert chunk, "connection closed inside the ApiVersions answer"
            data += chunk
    correlation_id, error, count = struct.unpack(">ihi", data[:10])
    assert (correlation_id, error) == (7, 0), (correlation_id, error)
    ranges = {}
    for i in range(count):
        key, low, high = struct.unpack(">hhh", data[10 + 6 * i:16 + 6 * i])
        ranges[key] = (low, high)
    return ranges


@pytest.fixture(scope="module")
def differing_pair(tmp_path_factory):
    """primary: ListOffsets from v1 on; dr: ListOffsets up to v5, Produce up to v7, no telemetry APIs."""
    primary = MockCluster(tmp_path_factory.mktemp("apiv-primary") / "mock-primary.log", brokers=3)
    primary.log_name = "mockcluster primary"
    dr = MockCluster(tmp_path_factory.mktemp("apiv-dr") / "mock-dr.log", brokers=3)
    dr.log_name = "mockcluster dr"
    try:
        before = {"primary": api_versions(primary.bootstrap), "dr": api_versions(dr.bootstrap)}
        primary.command("apiversion %d 1 %d" % (LIST_OFFSETS, before["primary"][LIST_OFFSETS][1]))
        dr.command("apiversion %d 0 5" % LIST_OFFSETS)
        dr.command("apiversion %d 0 7" % PRODUCE)
        for key in TELEMETRY:
            dr.command("apiversion %d -1 -1" % key)
        yield {"primary": primary, "dr": dr}
    finally:
        primary.stop()
        dr.stop()


def _wait_versions_known(p, names):
    def known():
        clusters = {c["name"]: c for c in p.status()["clusters"]}
        return all(clusters[n].get("apiVersionsKnown") for n in names)
    wait_until(known, 20, "/status: every cluster's ApiVersions learned by its probe",
               detail=lambda: str(p.status()["clusters"]))


def test_clients_get_the_intersection_of_the_clusters_versions(differing_pair, failover_proxy):
    primary, dr = differing_pair["primary"], differing_pair["dr"]
    direct = {"primary": api_versions(primary.bootstrap), "dr": api_versions(dr.bootstrap)}
    # The caps took: the clusters differ where the test says.
    assert direct["primary"][LIST_OFFSETS][0] == 1 and direct["dr"][LIST_OFFSETS] == (0, 5)
    assert direct["dr"][PRODUCE] == (0, 7) and direct["primary"][PRODUCE][1] > 7
    assert all(k in direct["primary"] and k not in direct["dr"] for k in TELEMETRY)
    assert CONSUMER_GROUP_HEARTBEAT in direct["primary"] and CONSUMER_GROUP_HEARTBEAT in direct["dr"]

    p = failover_proxy(differing_pair, active="primary",
                       failover={"mode": "manual", "drainTimeoutSeconds": DRAIN_SECONDS})
    _wait_versions_known(p, ("primary", "dr"))
    for version in (0, 2):
        got = api_versions(p.bootstrap, version)
        assert got[LIST_OFFSETS] == (1, 5), "min from primary, max from dr: %r" % (got[LIST_OFFSETS],)
        assert got[PRODUCE] == (0, 7), "dr's Produce cap: %r" % (got[PRODUCE],)
        for key in TELEMETRY:
            assert key not in got, "api %d is missing on dr, so withheld" % key
        assert CONSUMER_GROUP_HEARTBEAT not in got, "KIP-848 heartbeats are withheld with two clusters"
        # Nothing beyond either cluster's range, for every API offered.
        for key, (low, high) in got.items():
            for name, ranges in direct.items():
                assert key in ranges, "api %d offered but %s lacks it" % (key, name)
                assert ranges[key][0] <= low <= high <= ranges[key][1], (key, name, (low, high), ranges[key])

    # The same answer from a broker port (the n-th broker of the active cluster).
    metadata_port = p.broker_ports[0]
    wait_until(lambda: _port_open(metadata_port), 10, "first broker port listening")
    assert api_versions("127.0.0.1:%d" % metadata_port)[PRODUCE] == (0, 7)

    # After the switch the answers come from dr and are still the intersection.
    p.switch("dr")
    wait_until(lambda: p.status()["activeCluster"] == "dr", 10, "activeCluster dr")
    got = api_versions(p.bootstrap)
    assert got[LIST_OFFSETS] == (1, 5) and got[PRODUCE] == (0, 7), got
    assert not any(k in got for k in TELEMETRY + (CONSUMER_GROUP_HEARTBEAT,)), got


def _port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_consumer_group_heartbeat_is_offered_with_one_cluster(differing_pair, failover_proxy):
    primary = differing_pair["primary"]
    assert CONSUMER_GROUP_HEARTBEAT in api_versions(primary.bootstrap), "the mock offers ConsumerGroupHeartbeat"
    p = failover_proxy({"primary": primary}, active="primary")
    _wait_versions_known(p, ("primary",))
    got = api_versions(p.bootstrap)
    assert got.get(CONSUMER_GROUP_HEARTBEAT) == api_versions(primary.bootstrap)[CONSUMER_GROUP_HEARTBEAT], got
    assert got[LIST_OFFSETS] == api_versions(primary.bootstrap)[LIST_OFFSETS], "one cluster: its own ranges"


@pytest.mark.timeout(120)
def test_a_moved_producer_keeps_working_on_a_cluster_with_older_versions(differing_pair, failover_proxy,
                                                                         failover_report):
    primary, dr = differing_pair["primary"], differing_pair["dr"]
    topic = unique("apiv")
    for c in (primary, dr):
        c.create_topic(topic, PARTITIONS)
    p = failover_proxy(differing_pair, active="primary",
                       failover={"mode": "manual", "drainTimeoutSeconds": DRAIN_SECONDS, "onSwitch": "move"})
    _wait_versions_known(p, ("primary", "dr"))
    tails = {name: ClusterTail(name, c, topic, PARTITIONS) for name, c in differing_pair.items()}
    loop = ConfluentProduceLoop(p.bootstrap, topic, interval=0.004).start()
    switches = []
    try:
        phase_wait(loop, tails["primary"], 0, "acknowledged records on primary", timeout=20, need=100, proxy=p)
        base = tails["dr"].count()
        closed_before = _closed(p)
        t = p.switch("dr")
        switches.append((t, "primary", "dr", "switch to dr (Produce up to v7)"))
        phase_wait(loop, tails["dr"], base, "records arriving on dr after the move", timeout=20,
                   need=200, dwell_until=t + DRAIN_SECONDS + 2, proxy=p)
        closed_after = _closed(p)
    finally:
        loop.stop(flush_timeout=10)
        wait_settled(loop, tails, timeout=20)
        for tail in tails.values():
            tail.stop()
    rep = analyse(loop, tails, switches)
    failover_report("move onto older versions (confluent-kafka)", rep["text"])
    assert loop.exception is None and loop.fatal is None, (loop.exception, loop.fatal, rep["text"])
    assert not loop.failed, "deliveries failed: %r" % list(loop.failed.items())[:5]
    assert not rep["lost"], rep["text"]
    assert rep["gaps"][0]["gap"] is not None, rep["text"]
    assert closed_after == closed_before, (
        "client connections were closed across the switch instead of moved (closed before, after: %d, %d)\n%s"
        % (closed_before, closed_after, rep["text"]))


def _closed(p):
    """Client connections the proxy has closed so far (accepted minus open)."""
    m = p.metrics()
    return metric(m, "kafka_proxy_connections_total") - metric(m, "kafka_proxy_connections_active")


def _consume(bootstrap, topic, group, protocol, want, seconds):
    """Records a group consumer (group.protocol=`protocol`) receives within `seconds`, and the
    errors librdkafka reported to the application."""
    from confluent_kafka import Consumer
    errors = []
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "group.protocol": protocol,
                  "auto.offset.reset": "earliest", "error_cb": lambda e: errors.append(str(e))})
    got = 0
    try:
        c.subscribe([topic])
        deadline = time.time() + seconds
        while time.time() < deadline and got < want:
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                errors.append(str(m.error()))
                continue
            got += 1
    finally:
        c.close()
    return got, errors


@pytest.mark.timeout(90)
def test_kip848_consumers_need_the_classic_protocol_with_two_clusters(differing_pair, failover_proxy):
    """ConsumerGroupHeartbeat is withheld with two clusters. librdkafka 2.16 with
    group.protocol=consumer does not fall back to the classic protocol then: it marks the
    coordinator dead ("ConsumerGroupHeartbeatRequest not supported by broker", a debug log only)
    and retries without end, reporting nothing to the application. The classic protocol works."""
    from confluent_kafka import Producer
    primary = differing_pair["primary"]
    topic = unique("kip848")
    for c in differing_pair.values():
        c.create_topic(topic, 1)
    producer = Producer({"bootstrap.servers": primary.bootstrap})
    for i in range(5):
        producer.produce(topic, b"r%d" % i)
    assert producer.flush(10) == 0

    one = failover_proxy({"primary": primary}, active="primary")
    _wait_versions_known(one, ("primary",))
    got, errors = _consume(one.bootstrap, topic, unique("g"), "consumer", 5, 20)
    assert got == 5, "one cluster: KIP-848 consumer through the proxy: %d records, errors %r" % (got, errors)
    one.stop()

    two = failover_proxy(differing_pair, active="primary", failover={"mode": "manual"})
    _wait_versions_known(two, ("primary", "dr"))
    got, errors = _consume(two.bootstrap, topic, unique("g"), "classic", 5, 20)
    assert got == 5, "two clusters: classic consumer: %d records, errors %r" % (got, errors)
    got, errors = _consume(two.bootstrap, topic, unique("g"), "consumer", 5, 6)
    assert got == 0, ("two clusters: a KIP-848 consumer got %d records: librdkafka now copes without "
                      "ConsumerGroupHeartbeat, update docs/operations.md" % got)
