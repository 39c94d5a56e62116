"""A DR cluster whose mirror topics carry a prefix (clusters.dr.topicPrefix: "primary.").

On dr the application's topic `orders` is the mirror topic `primary.orders`, kept by a test mirror
(record by record, same offsets, group offsets synced) while the primary is active; dr also has a
local `orders` with other records, which clients of the proxy must never see or write. A producer
and a consumer group using `orders` through the proxy move primary -> dr -> primary.
"""

import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from failover_support import (DRAIN_SECONDS, ClusterTail, ConfluentProduceLoop, KafkaPythonProduceLoop,
                              cluster_pair, failover_report, mock_dr, mock_primary, needs_proxy,  # noqa: F401
                              phase_wait, seq_of, tansu_dr, tansu_primary, value_of, wait_until)
from helpers import FAST, unique
from topic_prefix_support import (PREFIX, AiokafkaProduceLoop, GroupReader, TestMirror, pausable,  # noqa: F401
                                  prefix_proxy)

pytestmark = needs_proxy

PARTITIONS = 3
LOCAL_RECORDS = 20
FAILOVER = {"mode": "manual", "order": "[primary, dr]", "drainTimeoutSeconds": DRAIN_SECONDS}
LOOPS = {"confluent-kafka": ConfluentProduceLoop, "kafka-python": KafkaPythonProduceLoop,
         "aiokafka": AiokafkaProduceLoop}


def _fill_local(cluster, topic):
    """dr's own `orders`, beside the mirror: records no client of the proxy may see."""
    p = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", **FAST})
    for i in range(LOCAL_RECORDS):
        p.produce(topic, value=b"local-%d" % i, partition=0)
    assert p.flush(15) == 0, "producing dr's local %s" % topic


def _topics_through(proxy):
    """{topic: partition count} as a client of the proxy sees them (Metadata for all topics)."""
    md = AdminClient({"bootstrap.servers": proxy.bootstrap, **FAST}).list_topics(timeout=10)
    return {name: len(t.partitions) for name, t in md.topics.items() if t.error is None}


@pytest.mark.timeout(360)
@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python", "aiokafka"])
def test_prefixed_dr_keeps_the_application_topic_names(cluster_pair, prefix_proxy, failover_report, client):
    pair = cluster_pair
    if client == "kafka-python" and pair.kind == "mock":
        pytest.skip("kafka-python cannot talk to the librdkafka mock cluster")
    topic = unique("orders")
    group = unique("orders-group")
    pair.primary.create_topic(topic, PARTITIONS)
    pair.dr.create_topic(PREFIX + topic, PARTITIONS)
    pair.dr.create_topic(topic, 1)
    _fill_local(pair.dr, topic)

    p = prefix_proxy(pair.by_name(), {"dr": PREFIX}, active="primary", failover=FAILOVER, layout="configmap")
    status = {c["name"]: c["topicPrefix"] for c in p.status()["clusters"]}
    assert status == {"primary": None, "dr": PREFIX}, status

    tails = {"primary": ClusterTail("primary", pair.primary, topic, PARTITIONS),
             "dr mirror": ClusterTail("dr mirror", pair.dr, PREFIX + topic, PARTITIONS),
             "dr local": ClusterTail("dr local", pair.dr, topic, 1)}
    mirror = TestMirror(pair.primary, pair.dr, topic, PARTITIONS, group)
    conf = {}
    if client == "kafka-python":
        conf = dict(enable_idempotence=False, **pair.primary.kafka_python_kwargs)
    loop = pausable(LOOPS[client](p.bootstrap, topic, interval=0.01, **conf)).start()
    reader = GroupReader(client, p.bootstrap, topic, group, kafka_python_kwargs=pair.primary.kafka_python_kwargs)
    seen_on_dr = None
    report = []
    try:
        phase_wait(loop, tails["primary"], 0, "acknowledged records on primary", timeout=30, need=100, proxy=p)
        wait_until(lambda: len(reader.values()) >= 50 and mirror.synced, 30,
                   "the group reading on primary and its offsets synced to dr",
                   detail=lambda: "read %d, synced %s, mirror errors %s" % (len(reader.values()), mirror.synced,
                                                                           mirror.errors[:3]))
        # A planned failover: the producer stands still (its connections stay open), the link
        # catches up and syncs the group's offsets, stops, and the proxy switches. Offsets on dr are
        # then the primary's, so the group resumes on dr where it left the primary.
        loop.pause()
        time.sleep(1)
        wait_until(lambda: mirror.copied_total() == tails["primary"].count()
                   and set(tails["primary"].values()) <= set(reader.values()), 30,
                   "the mirror and the group catching up with the paused producer",
                   detail=lambda: "copied %d of %d" % (mirror.copied_total(), tails["primary"].count()))
        copied = dict(mirror.copied)
        wait_until(lambda: mirror.synced == copied, 15, "the group's final offsets synced to dr",
                   detail=lambda: "synced %s, copied %s" % (mirror.synced, copied))
        mirror.stop()
        report.append("mirror copied %s, group offsets synced %s" % (mirror.copied, mirror.synced))

        base = tails["dr mirror"].count()
        p.switch("dr")
        p.wait_active("dr", 10)
        loop.resume()
        phase_wait(loop, tails["dr mirror"], base, "records produced on dr's %s%s" % (PREFIX, topic),
                   timeout=40, need=100, proxy=p)
        seen_on_dr = _topics_through(p)
        # The failback is planned too: what was written on dr is read there before the group leaves
        # (no link copies it back).
        loop.pause()
        time.sleep(1)
        acked_on_dr = {value_of(s) for s in list(loop.acked)} & set(tails["dr mirror"].values())
        # A member moved to dr rejoins its group there first (aiokafka after its fetch times out).
        wait_until(lambda: acked_on_dr <= set(reader.values()), 60, "the group reading dr's records",
                   detail=lambda: "%d of %d read; reader errors %s" % (
                       len(acked_on_dr & set(reader.values())), len(acked_on_dr), reader.errors[-5:]))

        base = tails["primary"].count()
        p.switch("primary")
        p.wait_active("primary", 10)
        loop.resume()
        phase_wait(loop, tails["primary"], base, "records produced on primary after the failback",
                   timeout=40, need=100, proxy=p)
    finally:
        loop.stop(flush_timeout=10)
        mirror.stop()
        acked = {value_of(s) for s in list(loop.acked)}
        deadline = time.time() + 40
        while time.time() < deadline and not acked <= set(reader.values()):
            time.sleep(0.2)
        reader.stop()
        time.sleep(1)
        for t in tails.values():
            t.stop()
        stored = {name: set(t.values()) for name, t in tails.items()}
        report += [loop.summary(),
                   "records read directly: %s" % {n: len(v) for n, v in stored.items()},
                   "group read %d (%d distinct), errors %s" % (len(reader.values()), len(set(reader.values())),
                                                              reader.errors[-5:]),
                   "mirror errors: %s" % mirror.errors[:5],
                   "topics through the proxy on dr: %s" % seen_on_dr]
        failover_report("topic prefix %s/%s" % (pair.kind, client), "\n".join(report))

    assert loop.exception is None and loop.fatal is None, (loop.exception, loop.fatal, report)
    assert reader.exception is None, (reader.exception, report)
    assert not mirror.errors, mirror.errors[:5]
    lost = sorted(seq_of(v) for v in acked - stored["primary"] - stored["dr mirror"])
    assert not lost, "acknowledged records in neither primary's %s nor dr's %s%s: %s\n%s" % (
        topic, PREFIX, topic, lost[:20], "\n".join(report))
    strays = [v for v in stored["dr local"] if seq_of(v) is not None]
    assert not strays, "records of the proxy's clients in dr's local %s: %s" % (topic, strays[:10])
    assert stored["dr local"] == {b"local-%d" % i for i in range(LOCAL_RECORDS)}, stored["dr local"]
    local_read = [v for v in reader.values() if v.startswith(b"local-")]
    assert not local_read, "the group read dr's local topic: %s" % local_read[:5]
    unread = sorted(seq_of(v) for v in acked - set(reader.values()))
    assert not unread, "acknowledged records the group never read: %s\n%s" % (unread[:20], "\n".join(report))
    # Metadata on dr: the application's name for the mirror, with the mirror's partitions (dr's local
    # topic of that name has 1); no upstream name with the prefix.
    assert seen_on_dr.get(topic) == PARTITIONS, seen_on_dr
    assert not [t for t in seen_on_dr if t.startswith(PREFIX)], seen_on_dr
