"""Consumer groups across a switch, on a DR cluster whose offsets differ from the primary's.

A test mirror (MirrorMakerMirror below) copies the primary's records to dr, except the first
HISTORY records of every partition, and commits each group's translated offsets (primary offset
- HISTORY) on dr, as MirrorMaker 2's checkpoints do. A confluent-kafka producer (acks=all) writes
through the proxy; three groups read through it, all with their libraries' defaults (classic
protocol): groups A and B with two confluent-kafka consumers each, group C with two aiokafka
consumers (one on the librdkafka mock, which refuses a second aiokafka member's SyncGroup) (its own group: aiokafka's default assignor, roundrobin, is not librdkafka's first
choice, and a broker may refuse the mix). Every confluent-kafka consumer has librdkafka's default
client.id, so groups A and B share it (as do C's members, aiokafka's default). After the switch primary -> dr, every acknowledged record must reach every group
(duplicates allowed and reported): a member that fetched or committed its primary positions on dr
would skip HISTORY records per partition.
"""

import asyncio
import contextlib
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from failover_support import (DRAIN_SECONDS, ClusterTail, ConfluentProduceLoop, cluster_pair,  # noqa: F401
                              failover_proxy, failover_report, metric, mock_dr, mock_primary, needs_proxy,
                              phase_wait, seq_of, tansu_dr, tansu_primary, wait_settled, wait_until)
from helpers import poll_until, unique

pytestmark = needs_proxy

PARTITIONS = 3
HISTORY = 300        # records per partition on primary that dr never got
FAILOVER = {"mode": "manual", "order": "[primary, dr]", "drainTimeoutSeconds": DRAIN_SECONDS}


class MirrorMakerMirror:
    """Copies primary's records from offset HISTORY on to the same partition of dr (so a dr offset
    is the primary offset - HISTORY) and, until stop_offset_sync(), commits every group's
    translated offsets on dr."""

    def __init__(self, primary, dr, topic, groups):
        self.primary, self.dr, self.topic, self.groups = primary, dr, topic, groups
        self.copied = {p: 0 for p in range(PARTITIONS)}      # records copied per partition
        self.errors = []
        self.synced = {}                                     # group -> {partition: dr offset} last committed
        self._sync = threading.Event()
        self._sync.set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._src = Consumer({"bootstrap.servers": primary.bootstrap, "group.id": unique("mirror"),
                              "enable.auto.commit": False, "fetch.wait.max.ms": 100})
        self._src.assign([TopicPartition(topic, p, HISTORY) for p in range(PARTITIONS)])
        self._dst = Producer({"bootstrap.servers": dr.bootstrap, "acks": "all", "enable.idempotence": True,
                              "linger.ms": 2})
        self._offsets = {g: Consumer({"bootstrap.servers": c.bootstrap, "group.id": g, "enable.auto.commit": False})
                         for g in groups for c in (primary,)}
        self._dr_committers = {g: Consumer({"bootstrap.servers": dr.bootstrap, "group.id": g,
                                            "enable.auto.commit": False}) for g in groups}
        self._threads = [threading.Thread(target=self._copy, daemon=True, name="mirror-copy"),
                         threading.Thread(target=self._checkpoints, daemon=True, name="mirror-offsets")]
        for t in self._threads:
            t.start()

    def _copy(self):
        while not self._stop.is_set():
            for m in self._src.consume(500, 0.2):
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        self.errors.append(str(m.error()))
                    continue
                assert m.offset() - HISTORY == self.copied[m.partition()], "mirror out of step"
                while True:
                    try:
                        self._dst.produce(self.topic, value=m.value(), key=m.key(), partition=m.partition())
                        break
                    except BufferError:
                        self._dst.poll(0.05)
                with self._lock:
                    self.copied[m.partition()] += 1
            self._dst.poll(0)
        self._dst.flush(10)

    def _checkpoints(self):
        while not self._stop.is_set() and self._sync.wait(0.2):
            with self._lock:
                copied = dict(self.copied)
            self._dst.flush(5)       # a checkpoint never points past what dr has
            for g in self.groups:
                try:
                    committed = self._offsets[g].committed([TopicPartition(self.topic, p) for p in range(PARTITIONS)],
                                                           timeout=5)
                except Exception as e:  # noqa: BLE001
                    self.errors.append("committed(%s): %r" % (g, e))
                    continue
                if not self._sync.is_set():
                    return
                translated = {tp.partition: min(tp.offset - HISTORY, copied[tp.partition])
                              for tp in committed if tp.offset >= HISTORY}
                if translated and translated != self.synced.get(g):
                    try:
                        self._dr_committers[g].commit(offsets=[TopicPartition(self.topic, p, o)
                                                               for p, o in translated.items()], asynchronous=False)
                        self.synced[g] = translated
                    except Exception as e:  # noqa: BLE001  (the group has members on dr: MM2 skips it too)
                        self.errors.append("commit on dr (%s): %r" % (g, e))
            time.sleep(0.3)

    def stop_offset_sync(self):
        """MirrorMaker 2 does not sync the offsets of a group with members on the target: from the
        switch on the consumers commit on dr themselves."""
        self._sync.clear()
        self._threads[1].join(15)

    def copied_total(self):
        with self._lock:
            return sum(self.copied.values())

    def stop(self):
        self._stop.set()
        self._sync.set()
        for t in self._threads:
            t.join(20)
        for c in [self._src, *self._offsets.values(), *self._dr_committers.values()]:
            with contextlib.suppress(Exception):
                c.close()


class GroupReader:
    """One group member reading `topic` through the proxy until stop(): (time, value) per record."""

    def __init__(self, label, group):
        self.label, self.group = label, group
        self.got = []
        self.errors = []
        self.exception = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._t = threading.Thread(target=self._guarded, daemon=True, name="reader-" + label)

    def start(self):
        self._t.start()
        return self

    def _guarded(self):
        try:
            self._run()
        except BaseException as e:  # noqa: BLE001  (reported by the test)
            self.exception = e

    def _record(self, value):
        with self._lock:
            self.got.append((time.time(), value))

    def values(self):
        with self._lock:
            return [v for _, v in self.got]

    def records(self):
        with self._lock:
            return list(self.got)

    def stop(self):
        self._stop.set()
        self._t.join(30)


class ConfluentReader(GroupReader):
    def __init__(self, label, group, bootstrap, topic):
        super().__init__(label, group)
        # librdkafka's defaults (client.id "rdkafka", auto-commit every 5 s, group.protocol classic).
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
        self.c.subscribe([topic])

    def _run(self):
        poll_until(self.c, self._stop, self._record, self.errors)


class AiokafkaReader(GroupReader):
    def __init__(self, label, group, bootstrap, topic):
        super().__init__(label, group)
        self.bootstrap, self.topic = bootstrap, topic

    def _run(self):
        asyncio.run(self._consume())

    async def _consume(self):
        from aiokafka import AIOKafkaConsumer
        c = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap, group_id=self.group)
        await c.start()
        try:
            while not self._stop.is_set():
                batches = await c.getmany(timeout_ms=200)
                for records in batches.values():
                    for r in records:
                        self._record(r.value)
        finally:
            await c.stop()


def _commit_start(cluster, groups, topic, offset):
    for g in groups:
        c = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": g, "enable.auto.commit": False})
        try:
            c.commit(offsets=[TopicPartition(topic, p, offset) for p in range(PARTITIONS)], asynchronous=False)
        finally:
            c.close()


def _fill_history(cluster, topic):
    p = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "linger.ms": 20})
    for part in range(PARTITIONS):
        for i in range(HISTORY):
            p.produce(topic, value=b"history-%d-%d" % (part, i), partition=part)
    assert p.flush(30) == 0


@pytest.mark.timeout(240)
def test_group_consumers_follow_a_switch_to_a_dr_cluster_with_other_offsets(cluster_pair, failover_proxy,
                                                                             failover_report):
    pair = cluster_pair
    topic = unique("fo-groups")
    pair.create_topic(topic, PARTITIONS)
    if pair.kind == "mock":
        # Partition leaders differ between the clusters, so dr's leader epochs are 1 and primary's 0:
        # the proxy hides both from Metadata, and librdkafka then sends epoch 0 in its Fetch, which
        # dr fences on every partition unless the proxy clears it.
        for part in range(PARTITIONS):
            pair.dr.leader(topic, part, pair.dr.node_ids[(part + 1) % len(pair.dr.node_ids)])
    groups = {"A": unique("fo-ga"), "B": unique("fo-gb"), "C": unique("fo-gc")}
    _fill_history(pair.primary, topic)
    # The groups start after the history on primary, at the matching place (0) on dr.
    _commit_start(pair.primary, groups.values(), topic, HISTORY)
    _commit_start(pair.dr, groups.values(), topic, 0)

    p = failover_proxy(pair.by_name(), active="primary", failover=FAILOVER, layout="configmap")
    mirror = MirrorMakerMirror(pair.primary, pair.dr, topic, list(groups.values()))
    readers = [ConfluentReader("A1", groups["A"], p.bootstrap, topic),
               ConfluentReader("A2", groups["A"], p.bootstrap, topic),
               ConfluentReader("B1", groups["B"], p.bootstrap, topic),
               ConfluentReader("B2", groups["B"], p.bootstrap, topic),
               ]
    readers.append(AiokafkaReader("C1-aiokafka", groups["C"], p.bootstrap, topic))
    if pair.kind == "tansu":
        # The librdkafka mock answers the SyncGroup of a second aiokafka 0.14 member with
        # INVALID_REQUEST, without the proxy as well: on the mock, aiokafka's group has one member.
        readers.append(AiokafkaReader("C2-aiokafka", groups["C"], p.bootstrap, topic))
    for r in readers:
        r.start()
    tails = {name: ClusterTail(name, getattr(pair, name), topic, PARTITIONS) for name in ("primary", "dr")}
    loop = ConfluentProduceLoop(p.bootstrap, topic, interval=0.005).start()
    switched_at = None
    try:
        phase_wait(loop, tails["primary"], HISTORY * PARTITIONS, "acknowledged records on primary before the switch",
                   timeout=30, need=200, proxy=p)
        # every reader has consumed something on primary, so each group has members and positions there
        wait_until(lambda: all(r.values() for r in readers), 60, "every group member consuming on primary",
                   detail=lambda: repr([(r.label, len(r.values()), r.errors[-3:], r.exception) for r in readers]))
        time.sleep(6)        # an auto-commit (every 5 s) of primary positions, translated by the mirror
        switched_at = p.switch("dr")
        p.wait_active("dr", 5)
        # What primary acknowledged reaches dr through the mirror; then the checkpoints stop.
        wait_until(lambda: mirror.copied_total() >= tails["primary"].count() - HISTORY * PARTITIONS, 30,
                   "the mirror copying primary's tail")
        mirror.stop_offset_sync()
        time.sleep(15)
    finally:
        loop.stop(flush_timeout=10)
        wait_settled(loop, tails, timeout=20)
        acked = {seq for seq in loop.acked}
        want = {b"n-%08d" % s for s in acked}

        def caught_up():
            return all(want <= set(sum((r.values() for r in readers if r.group == g), [])) for g in groups.values())
        with contextlib.suppress(AssertionError):
            wait_until(caught_up, 40, "every group consuming every acknowledged record")
        for r in readers:
            r.stop()
        mirror.stop()
        for t in tails.values():
            t.stop()

    on_dr_only = set(tails["dr"].values()) - set(tails["primary"].values())
    lines = []
    missing_total = 0
    for label, g in groups.items():
        recs = sorted(rec for r in readers if r.group == g for rec in r.records())
        values = [v for _, v in recs]
        seqs = [seq_of(v) for v in values if seq_of(v) is not None]
        missing = sorted(seq_of(v) for v in want - set(values))
        missing_total += len(missing)
        where = {}
        for seq in missing:
            ta, part, off = loop.acked[seq]
            lo, hi, n = where.get(part, (off, off, 0))
            where[part] = (min(lo, off), max(hi, off), n + 1)
        firsts = [t for t, v in recs if t >= switched_at and v in on_dr_only]
        first = (firsts[0] - switched_at) if firsts else None
        lines.append("group %s (%s): consumed %d records (%d distinct, %d duplicates), acknowledged %d, missing %d %s; "
                     "(partition: acknowledged offsets low, high, count %s); first record from dr %s after the switch"
                     % (label, "+".join(r.label for r in readers if r.group == g), len(seqs), len(set(seqs)),
                        len(seqs) - len(set(seqs)), len(want), len(missing), missing[:10], where,
                        "%.3fs" % first if first is not None else "never"))
    metrics = p.metrics()
    refused = {api: metric(metrics, "kafka_proxy_commits_refused_total", cluster="dr", api=api)
               for api in ("OffsetCommit", "TxnOffsetCommit")}
    lines.append("commits refused on dr: %s; mirror copied %d (errors %s); checkpoints %s"
                 % (refused, mirror.copied_total(), mirror.errors[-3:], mirror.synced))
    lines.append("reader errors: %s" % [(r.label, r.errors[-3:], r.exception) for r in readers])
    text = "\n".join(lines)
    failover_report("groups %s" % pair.kind, text)

    assert loop.exception is None and loop.fatal is None, (loop.exception, loop.fatal)
    assert all(r.exception is None for r in readers), text
    assert len(want) > 500, text
    assert missing_total == 0, "acknowledged records that never reached a group:\n%s\n%s" % (text, p.describe())
    for line in lines[:len(groups)]:
        assert "never" not in line, text
