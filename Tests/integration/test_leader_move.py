"""Partition leadership moves in the 3-broker mock cluster while a producer runs."""

import time

from confluent_kafka import KafkaError

from helpers import admin, producer, read_all, unique


def leaders(bootstrap, topic):
    md = admin(bootstrap).list_topics(topic=topic, timeout=10)
    return {p.id: p.leader for p in md.topics[topic].partitions.values()}, md


def test_producer_survives_leader_moves(mock_cluster, proxy):
    proxied = proxy(mock_cluster)
    topic = unique("lm")
    mock_cluster.create_topic(topic, partitions=3, rf=3)
    before, _ = leaders(proxied.bootstrap, topic)

    errors, acked = [], []

    def dr(err, msg):
        (errors if err else acked).append(err or msg.offset())

    p = producer(proxied.bootstrap, acks="all", **{"enable.idempotence": True, "retries": 1000000,
                                                   "retry.backoff.ms": 50})
    sent = 0
    moves = [(0.8, 1), (2.2, 2)]   # (seconds into the run, leader shift)
    t0 = time.time()
    while time.time() - t0 < 4.0:
        p.produce(topic, value=b"r-%d" % sent, on_delivery=dr)
        sent += 1
        p.poll(0.005)
        if moves and time.time() - t0 >= moves[0][0]:
            shift = moves.pop(0)[1]
            n = len(mock_cluster.node_ids)
            for part, old in before.items():
                mock_cluster.leader(topic, part, (old - 1 + shift) % n + 1)
    left = p.flush(30)
    assert left == 0, "%d undelivered" % left
    assert not errors, errors[:5]
    assert len(acked) == sent

    after, md = leaders(proxied.bootstrap, topic)
    n = len(mock_cluster.node_ids)
    assert after == {part: (old + 1) % n + 1 for part, old in before.items()}
    for b in md.brokers.values():
        if not proxied.direct:
            assert b.host == proxied.advertised_host and b.port in proxied.broker_ports
    got = read_all(proxied.bootstrap, topic, expected=sent, timeout=30)
    assert len(got) == sent and len(set(got)) == sent
