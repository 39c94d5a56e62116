"""Manual failover by a ConfigMap-style config swap, with real clients through the proxy (issue 3).

Two clusters, "primary" and "dr" (two Tansu brokers, or two 3-broker librdkafka mock
clusters), each with its own cluster id. The proxy's --config is a Kubernetes ConfigMap
mount (config.yaml -> ..data/config.yaml, ..data -> ..<timestamp>); the test switches
activeCluster the way kubelet publishes a new ConfigMap version. MirrorMaker is not running:
topics are created on both clusters up front, and both clusters are read directly (not
through the proxy) to find every acknowledged record.
"""

import os
import time

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from failover_support import (DRAIN_SECONDS, ClusterTail, ConfluentProduceLoop, KafkaPythonProduceLoop,
                              analyse, cluster_pair, metric, failover_proxy, failover_report, mock_dr,  # noqa: F401
                              mock_primary, needs_proxy, phase_wait, tansu_dr, tansu_primary, wait_settled)
from helpers import consumer, produce_confluent, unique

pytestmark = needs_proxy

FAILOVER = {"mode": "manual", "order": "[primary, dr]", "drainTimeoutSeconds": DRAIN_SECONDS}
PARTITIONS = 3
# the time a client may take to follow a switch before the test calls it stuck
FOLLOW_TIMEOUT = 20
# stay on each cluster at least this long, so the old cluster's drain is over before the next switch
DWELL = DRAIN_SECONDS + 2.0


def _switch_run(pair, failover_proxy, failover_report, loop_cls, **producer_conf):
    """Produce continuously through the proxy while switching primary -> dr -> primary."""
    topic = unique("fo")
    pair.create_topic(topic, PARTITIONS)
    p = failover_proxy(pair.by_name(), active="primary", failover=FAILOVER, layout="configmap")
    tails = {"primary": ClusterTail("primary", pair.primary, topic, PARTITIONS),
             "dr": ClusterTail("dr", pair.dr, topic, PARTITIONS)}
    loop = loop_cls(p.bootstrap, topic, interval=0.005, **producer_conf).start()
    switches = []
    try:
        phase_wait(loop, tails["primary"], 0, "acknowledged records on primary before any switch",
                   timeout=20, need=50, proxy=p)

        base_dr = tails["dr"].count()
        t1 = p.switch("dr")
        switches.append((t1, "primary", "dr", "failover (swap #1)"))
        phase_wait(loop, tails["dr"], base_dr,
                   "producer records arriving on dr after the ConfigMap swap to dr",
                   timeout=FOLLOW_TIMEOUT, dwell_until=t1 + DWELL, proxy=p)
        status = p.status()
        assert status.get("activeCluster") == "dr", "after the swap to dr: %s" % p.describe()

        base_primary = tails["primary"].count()
        t2 = p.switch("primary")
        switches.append((t2, "dr", "primary", "failback (swap #2)"))
        phase_wait(loop, tails["primary"], base_primary,
                   "producer records arriving on primary after the ConfigMap swap back",
                   timeout=FOLLOW_TIMEOUT, dwell_until=t2 + DWELL, proxy=p)
        assert p.status().get("activeCluster") == "primary", "after the swap back: %s" % p.describe()
    finally:
        loop.stop(flush_timeout=10)
        wait_settled(loop, tails, timeout=20)
        for t in tails.values():
            t.stop()
        rep = None
        if switches:
            try:
                rep = analyse(loop, tails, switches)
                failover_report("failover %s/%s %s" % (pair.kind, loop.client, producer_conf), rep["text"])
            except Exception as e:  # noqa: BLE001  (never hide the original failure)
                failover_report("failover analysis failed", repr(e))

    assert rep is not None, "analysis failed (see the report section)"
    assert loop.exception is None, "producer thread failed: %r\n%s" % (loop.exception, loop.summary())
    assert loop.fatal is None, "producer hit a fatal error: %s\n%s" % (loop.fatal, rep["text"])
    assert not rep["lost"], ("%d acknowledged records are in neither cluster:\n%s"
                             % (len(rep["lost"]), rep["text"]))
    for g in rep["gaps"]:
        assert g["gap"] is not None, "no acknowledged delivery on %s after %s:\n%s" % (g["to"], g["label"], rep["text"])
    assert not rep["late_on_old"], (
        "acknowledgements from the old cluster long after the switch (drainTimeoutSeconds=%d): %s\n%s"
        % (DRAIN_SECONDS, ["%s +%.2fs" % x for x in rep["late_on_old"][:10]], rep["text"]))
    metrics = p.metrics()
    assert metric(metrics, "kafka_proxy_failovers_total", reason="config") >= 2, \
        "kafka_proxy_failovers_total{reason=\"config\"} after two swaps:\n%s" % metrics
    assert metric(metrics, "kafka_proxy_active_cluster", cluster="primary") == 1
    assert metric(metrics, "kafka_proxy_active_cluster", cluster="dr") == 0
    return rep


@pytest.mark.timeout(120)
@pytest.mark.parametrize("idempotence", [True, False], ids=["idempotent", "not-idempotent"])
def test_confluent_producer_follows_configmap_swap(cluster_pair, failover_proxy, failover_report, idempotence):
    _switch_run(cluster_pair, failover_proxy, failover_report, ConfluentProduceLoop,
                **{"enable.idempotence": idempotence})


@pytest.mark.timeout(120)
@pytest.mark.parametrize("idempotence", [True, False], ids=["idempotent", "not-idempotent"])
def test_kafka_python_producer_follows_configmap_swap(cluster_pair, failover_proxy, failover_report, idempotence):
    _switch_run(cluster_pair, failover_proxy, failover_report, KafkaPythonProduceLoop,
                enable_idempotence=idempotence, **cluster_pair.primary.kafka_python_kwargs)


@pytest.mark.timeout(120)
def test_consumer_group_member_follows_switch(cluster_pair, failover_proxy, failover_report):
    """One consumer (never restarted) reads primary, then after the swap reads dr from the
    offsets the group has committed on dr (what MirrorMaker's checkpoints would give)."""
    pair = cluster_pair
    topic = unique("fo-grp")
    group = unique("fo-g")
    parts = 2
    pair.create_topic(topic, parts)

    # primary: 5 records per partition; dr: 12 per partition ("mirrored" history),
    # with the group's committed offsets on dr at 8 and 6 -- different from the
    # position the consumer reaches on primary (5), so the source of the start offset shows.
    for part in range(parts):
        _produce_to(pair.primary, topic, part, ["p-%d-%d" % (part, i) for i in range(5)])
        _produce_to(pair.dr, topic, part, ["d-%d-%d" % (part, i) for i in range(12)])
    dr_committed = {0: 8, 1: 6}
    committer = consumer(pair.dr.bootstrap, group)
    try:
        res = committer.commit(offsets=[TopicPartition(topic, p, o) for p, o in dr_committed.items()],
                               asynchronous=False)
        assert all(tp.error is None for tp in res), res
    finally:
        committer.close()

    p = failover_proxy(pair.by_name(), active="primary", failover=FAILOVER, layout="configmap")
    debug = {"debug": os.environ["FAILOVER_CLIENT_DEBUG"]} if os.environ.get("FAILOVER_CLIENT_DEBUG") else {}
    c = consumer(p.bootstrap, group, **{"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}, **debug)
    got = []          # (time, partition, offset, value)
    errors = []

    def poll_until(pred, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = c.poll(0.2)
            if m is not None:
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        errors.append((time.time(), str(m.error())))
                else:
                    got.append((time.time(), m.partition(), m.offset(), m.value().decode()))
            if pred():
                return
        raise AssertionError("%s: not within %ss; consumed %s; consumer errors %s\n%s"
                             % (what, timeout, [g[3] for g in got][-30:], errors[-10:], p.describe()))

    switched_at = None
    try:
        c.subscribe([topic])
        want_primary = {"p-%d-%d" % (part, i) for part in range(parts) for i in range(5)}
        poll_until(lambda: want_primary <= {g[3] for g in got}, 40, "all primary records through the proxy")
        res = c.commit(asynchronous=False)   # commit on primary: positions 5 / 5
        assert all(tp.error is None for tp in res), res

        switched_at = p.switch("dr")
        p.wait_active("dr", 5)
        # new records on dr after the switch (straight to dr, as a producer elsewhere would)
        for part in range(parts):
            _produce_to(pair.dr, topic, part, ["d-%d-%d" % (part, i) for i in range(12, 16)])
        want_dr = {"d-%d-%d" % (part, i) for part in range(parts) for i in range(dr_committed[part], 16)}
        poll_until(lambda: want_dr <= {g[3] for g in got if g[3].startswith("d-")}, 45,
                   "the same consumer reading dr from dr's committed offsets %s" % dr_committed)
        # a little longer, to see anything unexpected (re-deliveries, older dr records)
        _drain(c, got, errors, 1.5)
        assignment = c.assignment()
        # the member commits its dr positions through the proxy: it must be a member of dr's group now
        commit_errors = []
        deadline = time.time() + 15
        while True:
            try:
                res = c.commit(asynchronous=False)
                bad = [tp for tp in res if tp.error is not None]
                if not bad:
                    break
                commit_errors.append(str(bad))
            except KafkaException as e:
                commit_errors.append(str(e))
            assert time.time() < deadline, "committing on dr through the proxy keeps failing: %s" % commit_errors[-5:]
            _drain(c, got, errors, 0.5)
    finally:
        c.close()
    checker = consumer(pair.dr.bootstrap, group)
    try:
        on_dr = {tp.partition: tp.offset for tp in
                 checker.committed([TopicPartition(topic, part) for part in range(parts)], timeout=10)}
    finally:
        checker.close()

    dr_seen = [g for g in got if g[3].startswith("d-")]
    values = [g[3] for g in dr_seen]
    first = {part: min((g[2] for g in dr_seen if g[1] == part), default=None) for part in range(parts)}
    text = ("switch at %.3f; first dr record after %.3fs; dr records consumed %d (distinct %d); "
            "first dr offset per partition %s (committed on dr %s); assignment at the end %s; consumer errors %s; "
            "commit on dr after the switch: %s (retries %s)"
            % (switched_at, (dr_seen[0][0] - switched_at) if dr_seen else -1, len(values), len(set(values)),
               first, dr_committed, [(tp.topic, tp.partition) for tp in assignment], errors[-5:], on_dr,
               commit_errors[-3:]))
    failover_report("consumer group %s" % pair.kind, text)
    older = sorted(v for v in set(values) if int(v.split("-")[2]) < dr_committed[int(v.split("-")[1])])
    assert not older, ("consumed dr records below the group's committed offsets on dr %s (it kept its "
                       "primary position or reset): %s\n%s" % (dr_committed, older, text))
    assert set(values) == want_dr, "dr records: %s, expected %s\n%s" % (sorted(set(values)), sorted(want_dr), text)
    assert first == dr_committed, text
    assert on_dr == {part: 16 for part in range(parts)}, (
        "offsets committed by the member after the switch, read directly from dr: %s (expected 16 for every "
        "partition; commit retries: %s)" % (on_dr, commit_errors))


def _drain(c, got, errors, seconds):
    end = time.time() + seconds
    while time.time() < end:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().code() != KafkaError._PARTITION_EOF:
                errors.append((time.time(), str(m.error())))
        else:
            got.append((time.time(), m.partition(), m.offset(), m.value().decode()))


def _produce_to(cluster, topic, partition, values):
    """Straight to one cluster (not through the proxy), acks=all, one partition."""
    from helpers import producer
    prod = producer(cluster.bootstrap, acks="all")
    errs = []
    for v in values:
        prod.produce(topic, value=v.encode(), partition=partition,
                     on_delivery=lambda err, msg: err and errs.append(err))
    left = prod.flush(20)
    assert left == 0 and not errs, "producing to %s directly: %d left, errors %s" % (cluster, left, errs[:3])
