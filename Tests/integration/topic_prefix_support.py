"""Support for the topic-prefix tests: a cluster whose mirror topics carry a prefix.

Pieces:
  PrefixProxy      FailoverProxy whose config gives some clusters a topicPrefix.
  TestMirror       what Cluster Linking does for the test: copies the primary's topic record by
                   record into dr's PREFIX+topic, partition by partition, so offsets match, and
                   copies the group's committed offsets to dr under the same group id (clamped
                   to what was copied). A thread; stopped before the switch, as a link is at a
                   failover.
  AiokafkaProduceLoop
                   the ProduceLoop of failover_support on aiokafka; pausable() holds any loop
                   between two records (the cut-over of a planned failover).
  GroupReader      a consumer group member of one client library (confluent-kafka, kafka-python,
                   aiokafka) reading a topic through the proxy in a thread, committing as it goes.

Fixture: prefix_proxy (factory, SIGTERM + exit code 0 checked at teardown).
"""

import asyncio
import contextlib
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

import conftest
from failover_support import FailoverProxy, FailoverProxyFactory, ProduceLoop, value_of
from helpers import FAST, poll_until, unique

PREFIX = "primary."


class PrefixProxy(FailoverProxy):
    """prefixes: {cluster name: topicPrefix}."""

    def __init__(self, workdir, clusters, prefixes, **kw):
        self.prefixes = dict(prefixes)      # before FailoverProxy renders the first config
        super().__init__(workdir, clusters, **kw)

    def render(self, **kw):
        out = []
        cluster = None
        for line in super().render(**kw).split("\n"):
            out.append(line)
            if line.startswith("  ") and not line.startswith("   ") and line.endswith(":"):
                cluster = line.strip()[:-1]
            elif line.startswith("    bootstrapServers:") and cluster in self.prefixes:
                out.append('    topicPrefix: "%s"' % self.prefixes[cluster])
        return "\n".join(out)


class PrefixProxyFactory(FailoverProxyFactory):
    def __call__(self, clusters, prefixes, **kw):
        if conftest.DIRECT:
            pytest.skip("KAFKA_PROXY_DIRECT=1: topic prefixes need the proxy")
        p = PrefixProxy(self.tmp_path / ("pproxy%d" % len(self.started)), clusters, prefixes, **kw)
        self.started.append(p)
        return p


@pytest.fixture
def prefix_proxy(tmp_path):
    yield from conftest.serve_factory(PrefixProxyFactory(tmp_path))


class TestMirror:
    """Copies `topic` of `source` into PREFIX+topic of `target` with the same partitions and
    offsets, and `group`'s committed offsets for it, until stop()."""

    __test__ = False     # not a pytest class

    def __init__(self, source, target, topic, partitions, group):
        self.topic = topic
        self.target_topic = PREFIX + topic
        self.partitions = partitions
        self.group = group
        self.copied = {p: 0 for p in range(partitions)}      # next offset to copy
        self.synced = {}                                       # partition -> offset committed on target
        self.errors = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._source = Consumer({"bootstrap.servers": source.bootstrap, "group.id": unique("mirror"),
                                 "enable.auto.commit": False, "fetch.wait.max.ms": 50, **FAST})
        self._source.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        # One record in flight per partition at a time would be slow; idempotence keeps order.
        self._target = Producer({"bootstrap.servers": target.bootstrap, "acks": "all", "linger.ms": 2,
                                 "enable.idempotence": True, **FAST})
        self._source_offsets = Consumer({"bootstrap.servers": source.bootstrap, "group.id": group, **FAST})
        self._target_offsets = Consumer({"bootstrap.servers": target.bootstrap, "group.id": group, **FAST})
        self._t = threading.Thread(target=self._run, name="mirror", daemon=True)
        self._t.start()

    def _run(self):
        next_sync = 0.0
        try:
            while not self._stop.is_set():
                batch = self._source.consume(500, 0.1)
                for m in batch:
                    if m.error():
                        if m.error().code() != KafkaError._PARTITION_EOF:
                            self.errors.append("source: %s" % m.error())
                        continue
                    self._target.produce(self.target_topic, key=m.key(), value=m.value(), partition=m.partition(),
                                         on_delivery=lambda err, msg, at=(m.partition(), m.offset()): self._copied(err, msg, at))
                if batch:
                    left = self._target.flush(15)
                    if left:
                        self.errors.append("target: %d records not delivered" % left)
                if time.time() >= next_sync:
                    self._sync_offsets()
                    next_sync = time.time() + 0.5
        except Exception as e:  # noqa: BLE001  (reported by the test)
            self.errors.append("mirror: %r" % e)

    def _copied(self, err, msg, at):
        if err is not None:
            self.errors.append("copy of %s: %s" % (at, err))
            return
        if (msg.partition(), msg.offset()) != at:
            self.errors.append("copy of partition %d offset %d landed at offset %d" % (at[0], at[1], msg.offset()))
        with self._lock:
            self.copied[at[0]] = max(self.copied[at[0]], at[1] + 1)

    def _sync_offsets(self):
        committed = self._source_offsets.committed([TopicPartition(self.topic, p) for p in range(self.partitions)],
                                                   timeout=5)
        with self._lock:
            # Never past what dr holds: a consumer resumed there must find its offset.
            offsets = {tp.partition: min(tp.offset, self.copied[tp.partition]) for tp in committed if tp.offset >= 0}
        offsets = {p: o for p, o in offsets.items() if self.synced.get(p) != o}
        if not offsets:
            return
        res = self._target_offsets.commit(offsets=[TopicPartition(self.target_topic, p, o) for p, o in offsets.items()],
                                          asynchronous=False)
        bad = [tp for tp in res if tp.error is not None]
        if bad:
            self.errors.append("offset sync: %s" % bad)
            return
        with self._lock:
            self.synced.update(offsets)

    def copied_total(self):
        with self._lock:
            return sum(self.copied.values())

    def stop(self):
        self._stop.set()
        self._t.join(20)
        for c in (self._source, self._source_offsets, self._target_offsets):
            with contextlib.suppress(Exception):
                c.close()


class _PausableStop(threading.Event):
    """A ProduceLoop's stop flag that also holds the loop while paused: every loop asks
    `_stop.is_set()` before each record, so a pause stands the producer still between two
    records (its connections stay open and are moved)."""

    def __init__(self):
        super().__init__()
        self.running = threading.Event()
        self.running.set()

    def is_set(self):
        while not super().is_set() and not self.running.wait(0.05):
            pass
        return super().is_set()


def pausable(loop):
    """Before start(): loop.pause() / loop.resume() hold and release it between two records."""
    loop._stop = _PausableStop()
    loop.pause = loop._stop.running.clear
    loop.resume = loop._stop.running.set
    return loop


class AiokafkaProduceLoop(ProduceLoop):
    client = "aiokafka"

    def _run(self):
        asyncio.run(self._main())

    async def _main(self):
        from aiokafka import AIOKafkaProducer
        p = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5, request_timeout_ms=10000,
                             **self.conf)
        await p.start()
        try:
            seq = self.first_seq
            while not self._stop.is_set():
                try:
                    fut = await p.send(self.topic, key=b"%d" % seq, value=value_of(seq))
                except Exception as e:  # noqa: BLE001
                    self._fail(seq, repr(e))
                    seq += 1
                    await asyncio.sleep(0.01)
                    continue
                self.sent[seq] = time.time()
                fut.add_done_callback(lambda f, s=seq: self._done(s, f))
                seq += 1
                await asyncio.sleep(self.interval)
            try:
                await asyncio.wait_for(p.flush(), self.flush_timeout)
                self.unflushed = 0
            except Exception as e:  # noqa: BLE001
                self.unflushed = "flush: %r" % e
        finally:
            with contextlib.suppress(Exception):
                await p.stop()

    def _done(self, seq, fut):
        if fut.cancelled() or fut.exception() is not None:
            self._fail(seq, "cancelled" if fut.cancelled() else repr(fut.exception()))
        else:
            md = fut.result()
            self._ack(seq, md.partition, md.offset)


class GroupReader:
    """A member of `group` reading `topic` through the proxy, auto-committing, until stop().
    values(): everything it read (duplicates kept)."""

    def __init__(self, client, bootstrap, topic, group, kafka_python_kwargs=None):
        self.client = client
        self.bootstrap = bootstrap
        self.topic = topic
        self.group = group
        self.kafka_python_kwargs = kafka_python_kwargs or {}
        self._values = []
        self.errors = []
        self.exception = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._guarded, name="group-%s" % client, daemon=True)
        self._t.start()

    def _got(self, value):
        with self._lock:
            self._values.append(value)

    def values(self):
        with self._lock:
            return list(self._values)

    def _guarded(self):
        try:
            {"confluent-kafka": self._confluent, "kafka-python": self._kafka_python,
             "aiokafka": lambda: asyncio.run(self._aiokafka())}[self.client]()
        except BaseException as e:  # noqa: BLE001  (reported by the test)
            self.exception = e

    def _confluent(self):
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group, "auto.offset.reset": "earliest",
                      "enable.auto.commit": True, "auto.commit.interval.ms": 500, "session.timeout.ms": 6000,
                      "heartbeat.interval.ms": 1000, "fetch.wait.max.ms": 100, **FAST})
        c.subscribe([self.topic])
        poll_until(c, self._stop, self._got, self.errors)

    def _kafka_python(self):
        from kafka import KafkaConsumer
        c = KafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=self.group,
                          auto_offset_reset="earliest", enable_auto_commit=True, auto_commit_interval_ms=500,
                          session_timeout_ms=6000, heartbeat_interval_ms=1000, fetch_max_wait_ms=100,
                          request_timeout_ms=10000, reconnect_backoff_max_ms=1000, metadata_max_age_ms=5000,
                          **self.kafka_python_kwargs)
        try:
            while not self._stop.is_set():
                for records in c.poll(timeout_ms=200).values():
                    for r in records:
                        self._got(r.value)
        finally:
            c.close()

    async def _aiokafka(self):
        from aiokafka import AIOKafkaConsumer
        c = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=self.group,
                             auto_offset_reset="earliest", enable_auto_commit=True, auto_commit_interval_ms=500,
                             session_timeout_ms=6000, heartbeat_interval_ms=1000, fetch_max_wait_ms=100,
                             request_timeout_ms=10000, metadata_max_age_ms=5000)
        await c.start()
        try:
            while not self._stop.is_set():
                for records in (await c.getmany(timeout_ms=200)).values():
                    for r in records:
                        self._got(r.value)
        finally:
            await c.stop()

    def stop(self):
        self._stop.set()
        self._t.join(20)
