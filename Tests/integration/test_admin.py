"""Admin requests through the proxy: CreateTopics, ListOffsets, metadata."""

import time

import pytest
from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import NewTopic, OffsetSpec

from helpers import admin, consumer, produce_confluent, unique, wait_topic


def test_create_topic(cluster, proxied):
    a = admin(proxied.bootstrap)
    topic = unique("adm")
    # (the mock never answers an unknown API key: a short request timeout there)
    rt = 15 if cluster.supports_create_topics else 4
    futs = a.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)],
                           operation_timeout=10, request_timeout=rt)
    if not cluster.supports_create_topics:
        # librdkafka's mock cluster has no CreateTopics: the request must fail
        # cleanly (not hang) through the proxy.
        with pytest.raises(KafkaException):
            futs[topic].result(timeout=20)
        return
    futs[topic].result(timeout=20)
    md = wait_topic(a, topic, 4, timeout=15)
    assert len(md.topics[topic].partitions) == 4
    # the new topic is usable through the proxy
    produce_confluent(proxied.bootstrap, topic, n=8, acks="all")


def test_list_offsets(cluster, proxied):
    topic = unique("lo")
    cluster.create_topic(topic, partitions=1)
    t0 = int(time.time() * 1000) - 1000
    # One record per batch: Tansu 0.6 answers ListOffsets(latest) with the last
    # batch's base offset + 1, which only equals the record count this way.
    for _ in range(15):
        produce_confluent(proxied.bootstrap, topic, n=1, acks="all", partition=0)
    tp = TopicPartition(topic, 0)

    # consumer API: get_watermark_offsets (ListOffsets earliest/latest) and offsets_for_times
    c = consumer(proxied.bootstrap, unique("lo-g"))
    try:
        lo, hi = c.get_watermark_offsets(tp, timeout=10, cached=False)
        assert (lo, hi) == (0, 15)
        found = c.offsets_for_times([TopicPartition(topic, 0, t0)], timeout=10)
        assert found[0].error is None
        if cluster.supports_time_lookup:   # the mock cluster answers -1 for any timestamp
            assert found[0].offset == 0
            # (no check for a timestamp after the last record: Kafka answers -1,
            # Tansu 0.6 answers 0)
    finally:
        c.close()

    # admin API: ListOffsets
    a = admin(proxied.bootstrap)
    res = a.list_offsets({tp: OffsetSpec.latest()}, request_timeout=15)[tp].result(timeout=20)
    assert res.offset == 15
    res = a.list_offsets({tp: OffsetSpec.earliest()}, request_timeout=15)[tp].result(timeout=20)
    assert res.offset == 0


def test_metadata_lists_every_broker(cluster, proxied):
    a = admin(proxied.bootstrap)
    md = a.list_topics(timeout=10)
    assert sorted(md.brokers) == sorted(cluster.node_ids)
    for b in md.brokers.values():
        if proxied.direct:
            assert "%s:%d" % (b.host, b.port) in cluster.broker_addrs
        else:
            assert b.host == proxied.advertised_host
            assert b.port in proxied.broker_ports
