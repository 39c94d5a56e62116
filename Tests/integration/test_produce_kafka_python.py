"""kafka-python producing (and consuming) through the proxy."""

import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from helpers import read_all, unique

MODES = {
    "acks0": {"acks": 0},
    "acks1": {"acks": 1},
    "acksall": {"acks": "all"},
    "idempotent": {"enable_idempotence": True, "acks": "all"},
}

COMMON = {"request_timeout_ms": 10000, "max_block_ms": 15000, "linger_ms": 5,
          "reconnect_backoff_max_ms": 1000, "bootstrap_timeout_ms": 15000}


@pytest.mark.parametrize("mode", list(MODES))
def test_kafka_python_produce(cluster, proxied, mode):
    topic = unique("kp-" + mode)
    cluster.create_topic(topic, partitions=3)
    p = KafkaProducer(bootstrap_servers=proxied.bootstrap, **COMMON, **MODES[mode],
                      **cluster.kafka_python_kwargs)
    try:
        futures = [p.send(topic, key=b"k-%d" % i, value=b"v-%d" % i) for i in range(30)]
        p.flush(timeout=20)
        metas = [f.get(timeout=10) for f in futures]   # raises on a failed delivery
        assert all(m.topic == topic for m in metas)
        if mode != "acks0":
            assert all(m.offset >= 0 for m in metas)
            assert len({(m.partition, m.offset) for m in metas}) == 30
        # read back with confluent-kafka while the producer is still connected
        got = read_all(proxied.bootstrap, topic, expected=30)
        assert sorted(got) == sorted(b"v-%d" % i for i in range(30))
    finally:
        p.close(timeout=5)


def test_kafka_python_consume(cluster, proxied):
    topic = unique("kpc")
    cluster.create_topic(topic, partitions=1)
    p = KafkaProducer(bootstrap_servers=proxied.bootstrap, acks="all", **COMMON,
                      **cluster.kafka_python_kwargs)
    try:
        for i in range(10):
            p.send(topic, value=b"m-%d" % i).get(timeout=15)
    finally:
        p.close(timeout=5)
    c = KafkaConsumer(bootstrap_servers=proxied.bootstrap, request_timeout_ms=11000,
                      consumer_timeout_ms=1000, enable_auto_commit=False,
                      reconnect_backoff_max_ms=1000, **cluster.kafka_python_kwargs)
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_beginning(tp)
        got, deadline = [], time.time() + 20
        while len(got) < 10 and time.time() < deadline:
            for recs in c.poll(timeout_ms=500).values():
                got.extend(r.value for r in recs)
        assert got == [b"m-%d" % i for i in range(10)]
        assert c.end_offsets([tp])[tp] == 10
    finally:
        c.close()
