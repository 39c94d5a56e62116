"""A transactional read-process-write loop (confluent-kafka) across switches (failover.onSwitch: move).

The loop consumes an input topic in a group, produces one output record per input record and
commits the consumed offsets in the same transaction (send_offsets_to_transaction). The input is
produced on both clusters, identically. The transaction open at a switch cannot move: its
coordinator is on the old cluster. The client gets an abortable error, aborts, rewinds to its
committed offsets and goes on with a new producer id from the new cluster's coordinator, without
a restart. On each cluster the output read with isolation.level=read_committed then holds every
input record the group committed there exactly once (offsets and output commit together); checked
on Tansu only: the librdkafka mock keeps no TxnOffsetCommit offsets and does not hide aborted
records from read_committed consumers.
"""

import contextlib
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from failover_support import (DRAIN_SECONDS, cluster_pair, failover_proxy, failover_report, metric,  # noqa: F401
                              mock_dr, mock_primary, needs_proxy, tansu_dr, tansu_primary, wait_until)
from helpers import FAST, unique

pytestmark = needs_proxy

PARTITIONS = 2
INPUT_RECORDS = 4000
# Records per transaction, and a pause between transactions: the loop runs for the whole test.
BATCH = 10
PAUSE_S = 0.02


def _produce_input(cluster, topic):
    p = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 5, **FAST})
    for i in range(INPUT_RECORDS):
        # One partition per record by index: the same offsets on both clusters.
        p.produce(topic, partition=i % PARTITIONS, key=b"%d" % i, value=b"in-%06d" % i)
        if i % 500 == 0:
            p.poll(0)
    assert p.flush(30) == 0, "input not written to %s" % cluster.bootstrap


class TransactionalLoop:
    """Consume -> produce -> send_offsets_to_transaction -> commit, until stop().

    Errors are handled as confluent-kafka documents: txn_requires_abort() -> abort_transaction()
    and rewind to the committed offsets; retriable() -> retry the same call; fatal -> stop."""

    def __init__(self, bootstrap, input_topic, output_topic, group, transactional_id):
        self.input_topic = input_topic
        self.output_topic = output_topic
        self.group = group
        self.commits = []            # time of every committed transaction
        self.aborts = []             # (time, error text) of every abortable error
        self.retries = []            # (time, error text) of every retriable error
        self.fatal = None
        self.exception = None
        self._stop = threading.Event()
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                                  "isolation.level": "read_committed", "fetch.wait.max.ms": 100,
                                  "session.timeout.ms": 10000, "heartbeat.interval.ms": 500, **FAST})
        self.producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id,
                                  "transaction.timeout.ms": 10000, "linger.ms": 5,
                                  "error_cb": self._on_error, **FAST})
        self._t = threading.Thread(target=self._guarded, name="txn-loop", daemon=True)

    def start(self):
        self.producer.init_transactions(30)
        self.consumer.subscribe([self.input_topic])
        self._t.start()
        return self

    def stop(self):
        self._stop.set()
        self._t.join(60)
        with contextlib.suppress(Exception):
            self.consumer.close()
        if self._t.is_alive():
            self.exception = self.exception or RuntimeError("transactional loop did not stop")

    def _on_error(self, err):
        if err.fatal():
            self.fatal = self.fatal or err

    def _guarded(self):
        try:
            self._run()
        except BaseException as e:   # noqa: BLE001  (reported by the test)
            self.exception = e

    def _rewind(self):
        """After an abort: go back to the offsets the group committed (the aborted records are redone)."""
        assignment = self.consumer.assignment()
        if not assignment:
            return
        for tp in self.consumer.committed(assignment, timeout=30):
            self.consumer.seek(TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else -2))

    def _call(self, what, fn):
        """One transactional call; retried while retriable. Returns False when the transaction was aborted."""
        while True:
            try:
                fn()
                return True
            except KafkaException as e:
                err = e.args[0]
                if err.fatal():
                    self.fatal = self.fatal or err
                    raise
                if err.txn_requires_abort():
                    self.aborts.append((time.time(), "%s: %s" % (what, err)))
                    self._abort()
                    return False
                if err.retriable():
                    self.retries.append((time.time(), "%s: %s" % (what, err)))
                    time.sleep(0.1)
                    continue
                raise

    def _abort(self):
        while True:
            try:
                self.producer.abort_transaction(30)
                break
            except KafkaException as e:
                err = e.args[0]
                if err.retriable():
                    self.retries.append((time.time(), "abort_transaction: %s" % err))
                    continue
                raise
        self._rewind()

    def _run(self):
        while not self._stop.is_set() and self.fatal is None:
            msgs = [m for m in self.consumer.consume(BATCH, 0.5) if not m.error()]
            if not msgs:
                continue
            self.producer.begin_transaction()
            ok = True
            for m in msgs:
                while True:
                    try:
                        self.producer.produce(self.output_topic, key=m.key(), value=b"out-" + m.value(),
                                              partition=m.partition())
                        break
                    except BufferError:
                        self.producer.poll(0.05)
                    except KafkaException as e:
                        if e.args[0].txn_requires_abort():
                            self.aborts.append((time.time(), "produce: %s" % e.args[0]))
                            self._abort()
                            ok = False
                            break
                        raise
                if not ok:
                    break
            if not ok:
                continue
            positions = self.consumer.position(self.consumer.assignment())
            if not self._call("send_offsets_to_transaction", lambda: self.producer.send_offsets_to_transaction(
                    positions, self.consumer.consumer_group_metadata(), 30)):
                continue
            if not self._call("commit_transaction", lambda: self.producer.commit_transaction(30)):
                continue
            self.commits.append(time.time())
            time.sleep(PAUSE_S)

    def summary(self):
        return ("transactional loop: %d commits, %d aborts %s, %d retries %s, fatal %s, exception %r"
                % (len(self.commits), len(self.aborts), [a for _, a in self.aborts[:4]], len(self.retries),
                   [r for _, r in self.retries[:4]], self.fatal, self.exception))


def _committed_output(cluster, topic, group, input_topic):
    """(output values read with read_committed, the group's committed input offsets) on one cluster."""
    c = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": unique("check"),
                  "enable.auto.commit": False, "isolation.level": "read_committed",
                  "enable.partition.eof": True, **FAST})
    try:
        c.assign([TopicPartition(topic, p, -2) for p in range(PARTITIONS)])
        values, eof = [], set()
        deadline = time.time() + 30
        while len(eof) < PARTITIONS and time.time() < deadline:
            for m in c.consume(500, 0.5):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        eof.add(m.partition())
                    continue
                values.append(m.value())
        assert len(eof) == PARTITIONS, "output on %s not read to its end (last stable offset stuck?)" % cluster.bootstrap
    finally:
        c.close()
    g = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": group, "enable.auto.commit": False, **FAST})
    try:
        committed = {tp.partition: tp.offset for tp in g.committed(
            [TopicPartition(input_topic, p) for p in range(PARTITIONS)], timeout=20)}
    finally:
        g.close()
    return values, committed


def _check_exactly_once(name, values, committed):
    """Every input record below the group's committed offset appears once in the output, nothing else."""
    expected = set()
    for partition, offset in committed.items():
        # Input record i is at offset i // PARTITIONS of partition i % PARTITIONS.
        expected.update(b"out-in-%06d" % (o * PARTITIONS + partition) for o in range(max(offset, 0)))
    seen = {}
    for v in values:
        seen[v] = seen.get(v, 0) + 1
    duplicates = sorted(v for v, n in seen.items() if n > 1)
    missing = sorted(expected - set(seen))
    extra = sorted(set(seen) - expected)
    text = ("%s: %d output records (read_committed), committed input offsets %s; duplicates %d, missing %d, "
            "beyond the committed offsets %d" % (name, len(values), committed, len(duplicates), len(missing), len(extra)))
    return text, duplicates, missing, extra


@pytest.mark.timeout(240)
def test_transactional_loop_continues_across_switches(cluster_pair, failover_proxy, failover_report):
    pair = cluster_pair
    input_topic, output_topic = unique("txin"), unique("txout")
    for topic in (input_topic, output_topic):
        pair.create_topic(topic, PARTITIONS)
    for cluster in (pair.primary, pair.dr):
        _produce_input(cluster, input_topic)
    failover = {"mode": "manual", "order": "[primary, dr]", "drainTimeoutSeconds": DRAIN_SECONDS}
    p = failover_proxy(pair.by_name(), active="primary", failover=failover, layout="configmap")
    loop = TransactionalLoop(p.bootstrap, input_topic, output_topic, unique("txg"), unique("txid")).start()
    phases = []
    try:
        wait_until(lambda: len(loop.commits) >= 20 or loop.exception or loop.fatal, 60,
                   "transactions committed on primary before any switch")
        for target in ("dr", "primary"):
            t = p.switch(target)
            before = len([c for c in loop.commits if c < t])
            wait_until(lambda: len(loop.commits) >= before + 20 or loop.exception or loop.fatal, 90,
                       "transactions committed on %s after the switch" % target, detail=loop.summary)
            assert loop.exception is None and loop.fatal is None, loop.summary()
            phases.append((target, t))
            time.sleep(1.0)
    finally:
        loop.stop()
    refused = metric(p.metrics(), "kafka_proxy_transaction_requests_refused_total")
    texts = [loop.summary(), "transactional requests refused by the proxy: %d" % refused]
    for target, t in phases:
        # From the last commit before the swap to the 20th after it.
        around = [c for c in loop.commits if c < t][-1:] + [c for c in loop.commits if c >= t][:20]
        aborted = [a for a, _ in loop.aborts if a >= t][:1]
        resumed = [c for c in loop.commits if aborted and c > aborted[0]][:1]
        texts.append("switch to %s: longest pause between commits %.3f s; abortable error %s s after the swap, "
                     "next commit %s s after it"
                     % (target, max(b - a for a, b in zip(around, around[1:])),
                        "%.3f" % (aborted[0] - t) if aborted else "-",
                        "%.3f" % (resumed[0] - aborted[0]) if resumed else "-"))
    problems = []
    if pair.kind == "tansu":
        # The librdkafka mock keeps no offsets of TxnOffsetCommit and shows aborted records to
        # read_committed consumers: exactly-once cannot be checked on it.
        for name, cluster in (("primary", pair.primary), ("dr", pair.dr)):
            values, committed = _committed_output(cluster, output_topic, loop.group, input_topic)
            text, duplicates, missing, extra = _check_exactly_once(name, values, committed)
            texts.append(text)
            if duplicates or missing or extra:
                problems.append("%s: duplicates %s, missing %s, beyond %s"
                                % (name, duplicates[:5], missing[:5], extra[:5]))
    failover_report("transactions %s" % pair.kind, "\n".join(texts))
    assert loop.exception is None and loop.fatal is None, "\n".join(texts)
    # The open transaction cannot move: the proxy refused it on the new cluster, the client aborted.
    assert refused > 0 and loop.aborts, "\n".join(texts)
    assert not problems, "\n".join(problems + texts)
