"""Client helpers shared by the integration tests. Every call is bounded in time."""

import socket
import struct
import time
import uuid

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

# librdkafka settings that keep failures fast instead of retrying for minutes.
FAST = {
    "socket.timeout.ms": 10000,
    "socket.connection.setup.timeout.ms": 5000,
    "reconnect.backoff.max.ms": 1000,
    "topic.metadata.refresh.interval.ms": 5000,
}


def poll_until(consumer, stop, on_value, errors):
    """Polls a confluent-kafka consumer until the event `stop` is set, then closes it: each record's
    value to on_value, each client error but end-of-partition to errors as (time, text)."""
    try:
        while not stop.is_set():
            m = consumer.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    errors.append((time.time(), str(m.error())))
                continue
            on_value(m.value())
    finally:
        consumer.close()


def unique(prefix="t"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def api_versions(host, port, timeout=3):
    """Raw ApiVersions v0 round trip; returns {api_key: (min, max)}."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        cid = b"it-probe"
        body = struct.pack(">hhih", 18, 0, 7, len(cid)) + cid
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", recv_exact(s, 4))[0]
        data = recv_exact(s, size)
        corr, err, n = struct.unpack(">ihi", data[:10])
        if corr != 7 or err != 0:
            raise RuntimeError("ApiVersions: correlation %d error %d" % (corr, err))
        out = {}
        for i in range(n):
            k, lo, hi = struct.unpack(">hhh", data[10 + 6 * i:16 + 6 * i])
            out[k] = (lo, hi)
        return out
    finally:
        s.close()


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def admin(bootstrap, **extra):
    conf = {"bootstrap.servers": bootstrap, **FAST, **extra}
    return AdminClient(conf)


def admin_create_topic(bootstrap, topic, partitions=1, timeout=15):
    a = admin(bootstrap)
    fut = a.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                          operation_timeout=timeout, request_timeout=timeout)[topic]
    fut.result(timeout=timeout)
    wait_topic(a, topic, partitions, timeout)


def wait_topic(a, topic, partitions, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        md = a.list_topics(topic=topic, timeout=5)
        t = md.topics.get(topic)
        if t is not None and t.error is None and len(t.partitions) == partitions \
                and all(p.leader >= 0 for p in t.partitions.values()):
            return md
        time.sleep(0.2)
    raise AssertionError("topic %s did not appear with %d partitions" % (topic, partitions))


def producer(bootstrap, **extra):
    conf = {"bootstrap.servers": bootstrap, "linger.ms": 5, "message.timeout.ms": 20000,
            "request.timeout.ms": 10000, **FAST}
    conf.update(extra)
    return Producer(conf)


def produce_confluent(bootstrap, topic, n=20, partition=None, flush_timeout=30, keep=None, **extra):
    """Produce n records, return the delivery reports [(partition, offset, value)].

    Pass a list as `keep` to get the producer appended to it: with acks=0 the
    delivery report fires once the request is written to the socket, and Tansu
    drops requests that are still being processed when the client disconnects,
    so the caller should keep the producer open until it has read the data back."""
    p = producer(bootstrap, **extra)
    errors, delivered = [], []

    def dr(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered.append((msg.partition(), msg.offset(), msg.value()))

    values = [b"v-%d" % i for i in range(n)]
    for i, v in enumerate(values):
        kw = {"partition": partition} if partition is not None else {}
        p.produce(topic, key=b"k-%d" % i, value=v, on_delivery=dr, **kw)
        p.poll(0)
    left = p.flush(flush_timeout)
    assert left == 0, "%d messages not delivered within %ss (errors: %s)" % (left, flush_timeout, errors[:5])
    assert not errors, "delivery errors: %s" % errors[:5]
    assert sorted(d[2] for d in delivered) == sorted(values)
    if keep is not None:
        keep.append(p)
    return delivered


def read_all(bootstrap, topic, expected, timeout=30, partitions=None, **extra):
    """Read `expected` records from the beginning of every partition (no group join)."""
    c = consumer(bootstrap, unique("reader"), **extra)
    try:
        if partitions is None:
            md = c.list_topics(topic=topic, timeout=10)
            partitions = sorted(md.topics[topic].partitions)
        c.assign([TopicPartition(topic, p, -2) for p in partitions])  # -2 = OFFSET_BEGINNING
        got = []
        deadline = time.time() + timeout
        while len(got) < expected and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError("consumer error: %s" % m.error())
            got.append(m.value())
        return got
    finally:
        c.close()


def consumer(bootstrap, group, **extra):
    conf = {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
            "enable.auto.commit": False, "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000, "fetch.wait.max.ms": 100, **FAST}
    conf.update(extra)
    return Consumer(conf)
