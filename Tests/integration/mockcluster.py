#!/usr/bin/env python3
"""A controllable multi-broker Kafka cluster for the integration tests.

Starts librdkafka's in-process mock cluster (the ``rd_kafka_mock_*`` API
exported by the librdkafka bundled in the confluent-kafka wheel) through
ctypes, prints the bootstrap servers on stdout as one line, then reads
commands on stdin, one per line, answering ``ok`` or ``error <text>``:

    create TOPIC PARTITIONS RF      create a topic (rd_kafka_mock_topic_create)
    leader TOPIC PARTITION BROKERID move a partition's leadership
    down BROKERID                   make a broker refuse/drop connections
    up BROKERID                     bring it back
    apiversion APIKEY MIN MAX       cap what every broker offers for an API in ApiVersions
                                    (rd_kafka_mock_set_apiversion; -1 -1 removes the API)
    bootstraps                      answer "ok HOST:PORT,..." again
    quit                            (or EOF) destroy the cluster and exit 0

Usage: mockcluster.py [--brokers N] [--partitions N]

What the mock cluster supports (librdkafka 2.16.0 as bundled in the
confluent-kafka 2.16.1 wheel; checked with a raw ApiVersions request and real
clients):

* Broker ids are 1..N; every broker listens on 127.0.0.1:<random port> and
  advertises exactly that address in Metadata.
* API keys answered (ApiVersions): Produce v0-10, Fetch v0-16, ListOffsets
  v0-7, Metadata v0-13, OffsetCommit v0-9, OffsetFetch v0-6, FindCoordinator
  v0-3, JoinGroup v0-6, Heartbeat v0-5, LeaveGroup v0-4, SyncGroup v0-4,
  ApiVersions v0-2, InitProducerId v0-4, OffsetForLeaderEpoch v2,
  AddPartitionsToTxn v0-1, AddOffsetsToTxn v0-1, EndTxn v0-1,
  TxnOffsetCommit v0-3, ConsumerGroupHeartbeat v1, GetTelemetrySubscriptions
  v0, PushTelemetry v0, ShareGroupHeartbeat/ShareFetch/ShareAcknowledge v1.
* NOT supported: CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs,
  DescribeGroups, ListGroups, DeleteRecords, DescribeCluster, SaslHandshake.
  An AdminClient.create_topics() through it just times out ("Failed while
  waiting for controller"). Topics are created with the ``create`` command
  here, or auto-created when a producer names an unknown topic (a
  ``leader`` command on an unknown topic also creates it).
* Idempotent producing, consumer groups (classic protocol) and OffsetCommit /
  OffsetFetch work. An OffsetFetch for *all* topics of a group (null topic
  list, what AdminClient.list_consumer_group_offsets sends without
  partitions) answers with nothing: name the partitions.
* ListOffsets by timestamp answers -1; only earliest/latest are meaningful.
* ApiVersions above v2 is answered with UNSUPPORTED_VERSION in a form
  kafka-python 3.x cannot decode: pin kafka-python to api_version=(2, 1, 0).
* ``down`` closes the broker's connections and refuses new ones; partitions
  it leads do NOT move on their own, use ``leader`` for that.
* Garbage and oversized (0x7fffffff) frames make a mock broker drop the
  connection at once.
"""

import ctypes
import glob
import os
import sys


def _find_librdkafka():
    import confluent_kafka  # noqa: F401  (only used to locate the wheel)

    site = os.path.dirname(os.path.dirname(confluent_kafka.__file__))
    cands = sorted(glob.glob(os.path.join(site, "confluent_kafka.libs", "librdkafka*.so*")))
    if not cands:
        raise RuntimeError("librdkafka from the confluent-kafka wheel not found in %s" % site)
    return cands[0]


def _load():
    lib = ctypes.CDLL(_find_librdkafka())
    vp, cp, i, i32 = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int32
    sigs = {
        "rd_kafka_conf_new": (vp, []),
        "rd_kafka_conf_set": (i, [vp, cp, cp, cp, ctypes.c_size_t]),
        "rd_kafka_new": (vp, [i, vp, cp, ctypes.c_size_t]),
        "rd_kafka_destroy": (None, [vp]),
        "rd_kafka_err2str": (cp, [i]),
        "rd_kafka_mock_cluster_new": (vp, [vp, i]),
        "rd_kafka_mock_cluster_destroy": (None, [vp]),
        "rd_kafka_mock_cluster_bootstraps": (cp, [vp]),
        "rd_kafka_mock_topic_create": (i, [vp, cp, i, i]),
        "rd_kafka_mock_partition_set_leader": (i, [vp, cp, i32, i32]),
        "rd_kafka_mock_broker_set_down": (i, [vp, i32]),
        "rd_kafka_mock_broker_set_up": (i, [vp, i32]),
        "rd_kafka_mock_set_apiversion": (i, [vp, ctypes.c_int16, ctypes.c_int16, ctypes.c_int16]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


class MockCluster:
    def __init__(self, brokers=3):
        self.lib = _load()
        lib = self.lib
        errstr = ctypes.create_string_buffer(512)
        conf = lib.rd_kafka_conf_new()
        # The handle only hosts the mock cluster; keep it quiet.
        for k, v in (("log_level", "3"), ("client.id", "mockcluster")):
            if lib.rd_kafka_conf_set(conf, k.encode(), v.encode(), errstr, len(errstr)) != 0:
                raise RuntimeError(errstr.value.decode())
        self.rk = lib.rd_kafka_new(0, conf, errstr, len(errstr))  # 0 = RD_KAFKA_PRODUCER
        if not self.rk:
            raise RuntimeError("rd_kafka_new: " + errstr.value.decode())
        self.mc = lib.rd_kafka_mock_cluster_new(self.rk, brokers)
        if not self.mc:
            raise RuntimeError("rd_kafka_mock_cluster_new failed")

    def bootstraps(self):
        return self.lib.rd_kafka_mock_cluster_bootstraps(self.mc).decode()

    def _check(self, err):
        if err != 0:
            raise RuntimeError(self.lib.rd_kafka_err2str(err).decode())

    def create(self, topic, partitions, rf):
        self._check(self.lib.rd_kafka_mock_topic_create(self.mc, topic.encode(), int(partitions), int(rf)))

    def leader(self, topic, partition, broker):
        self._check(self.lib.rd_kafka_mock_partition_set_leader(self.mc, topic.encode(), int(partition), int(broker)))

    def down(self, broker):
        self._check(self.lib.rd_kafka_mock_broker_set_down(self.mc, int(broker)))

    def up(self, broker):
        self._check(self.lib.rd_kafka_mock_broker_set_up(self.mc, int(broker)))

    def apiversion(self, api_key, min_version, max_version):
        self._check(self.lib.rd_kafka_mock_set_apiversion(self.mc, int(api_key), int(min_version), int(max_version)))

    def close(self):
        if self.mc:
            self.lib.rd_kafka_mock_cluster_destroy(self.mc)
            self.mc = None
        if self.rk:
            self.lib.rd_kafka_destroy(self.rk)
            self.rk = None


def handle(mc, line):
    parts = line.split()
    if not parts:
        return None
    cmd, args = parts[0].lower(), parts[1:]
    want = {"create": 3, "leader": 3, "down": 1, "up": 1, "apiversion": 3, "bootstraps": 0, "quit": 0}
    if cmd not in want:
        return "error unknown command %r" % cmd
    if len(args) != want[cmd]:
        return "error %s takes %d arguments" % (cmd, want[cmd])
    try:
        if cmd == "create":
            mc.create(args[0], int(args[1]), int(args[2]))
        elif cmd == "leader":
            mc.leader(args[0], int(args[1]), int(args[2]))
        elif cmd == "down":
            mc.down(int(args[0]))
        elif cmd == "up":
            mc.up(int(args[0]))
        elif cmd == "apiversion":
            mc.apiversion(int(args[0]), int(args[1]), int(args[2]))
        elif cmd == "bootstraps":
            return "ok " + mc.bootstraps()
    except (ValueError, RuntimeError) as e:
        return "error %s" % e
    return "ok"


def main(argv):
    brokers = 3
    if "--brokers" in argv:
        brokers = int(argv[argv.index("--brokers") + 1])
    mc = MockCluster(brokers)
    try:
        print(mc.bootstraps(), flush=True)
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            if line.lower() == "quit":
                print("ok", flush=True)
                break
            print(handle(mc, line), flush=True)
    finally:
        mc.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
