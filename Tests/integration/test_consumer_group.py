"""Consumer groups through the proxy: FindCoordinator rewrite, join/sync/heartbeat, commits."""

import time

from confluent_kafka import KafkaError, TopicPartition
from confluent_kafka import ConsumerGroupTopicPartitions

from helpers import admin, consumer, produce_confluent, unique


def test_group_consume_and_commit(cluster, proxied):
    topic = unique("grp")
    group = unique("g")
    cluster.create_topic(topic, partitions=2)
    produce_confluent(proxied.bootstrap, topic, n=20, acks="all")

    c = consumer(proxied.bootstrap, group)
    try:
        c.subscribe([topic])
        got, deadline = [], time.time() + 40
        while len(got) < 20 and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                continue
            got.append(m)
        assert len(got) == 20, "consumed %d of 20" % len(got)
        assert sorted(m.value() for m in got) == sorted(b"v-%d" % i for i in range(20))

        committed = c.commit(asynchronous=False)
        assert all(tp.error is None for tp in committed), committed
        expected = {}
        for m in got:
            expected[m.partition()] = max(expected.get(m.partition(), 0), m.offset() + 1)
        assert sum(expected.values()) == 20

        # The consumer's own view (OffsetFetch through the group coordinator).
        tps = c.committed([TopicPartition(topic, p) for p in sorted(expected)], timeout=10)
        assert {tp.partition: tp.offset for tp in tps} == expected
    finally:
        c.close()  # LeaveGroup

    # And the admin API's view, from a different client.
    a = admin(proxied.bootstrap)
    # (explicit partitions: the mock cluster answers an all-topics OffsetFetch with nothing)
    req = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in sorted(expected)])
    fut = a.list_consumer_group_offsets([req], request_timeout=15)[group]
    res = fut.result(timeout=20)
    offsets = {tp.partition: tp.offset for tp in res.topic_partitions if tp.topic == topic}
    assert offsets == expected
