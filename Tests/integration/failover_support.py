"""Support for the hot-reload and failover tests (issue 3).

Pieces:
  ConfigMapDir    the config laid out like a Kubernetes ConfigMap volume
                  (config.yaml -> ..data/config.yaml, ..data -> ..<timestamp>),
                  switched the way kubelet does it (new timestamped dir, temp
                  symlink ..data_tmp renamed over ..data, old dir removed).
  PlainConfig     a plain file: in-place write, write-temp-then-rename, delete.
  FailoverProxy   the proxy with two (or more) clusters, a failover section and
                  one of the layouts above; /status and /metrics helpers.
  ClusterTail     reads a topic straight from one cluster (not through the proxy)
                  from the beginning, continuously, recording partition/offset.
  ConfluentProduceLoop, KafkaPythonProduceLoop
                  send numbered records every few ms through the proxy and
                  record every delivery report (ack time, partition, offset).
  analyse()       where every acknowledged record ended up, lost records,
                  duplicates and the gap between each switch and the first
                  acknowledged delivery on the new cluster.

Fixtures (import them into a test module): tansu_primary/tansu_dr and
mock_primary/mock_dr (module scope), cluster_pair (parametrized tansu|mock),
failover_proxy (factory, SIGTERM + exit code 0 checked at teardown),
failover_report (prints and attaches a text section to the test report).
"""

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

import conftest
from conftest import HOST, PROXY_BIN, MockCluster, Proxy, ProxyFactory, Tansu, free_port, free_port_range
from helpers import FAST, unique

LOG_LEVEL = os.environ.get("FAILOVER_LOG_LEVEL", "info")
DRAIN_SECONDS = 2

needs_proxy = pytest.mark.skipif(conftest.DIRECT, reason="KAFKA_PROXY_DIRECT=1: failover needs the proxy")


# --------------------------------------------------------------------------
# small utilities
# --------------------------------------------------------------------------

def wait_until(pred, timeout, what, interval=0.1, detail=None):
    """Poll pred() until it returns a truthy value (returned) or fail with `what`."""
    deadline = time.time() + timeout
    last = None
    while True:
        try:
            last = pred()
        except (OSError, ValueError, KeyError) as e:
            last = e
            if time.time() >= deadline:
                break
            time.sleep(interval)
            continue
        if last and not isinstance(last, Exception):
            return last
        if time.time() >= deadline:
            break
        time.sleep(interval)
    extra = detail() if detail else ""
    raise AssertionError("%s: not within %.1fs (last: %r)%s" % (what, timeout, last, ("\n" + extra) if extra else ""))


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text -> [(name, {label: value}, float)]."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m.group(3) or ""))
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        out.append((m.group(1), labels, value))
    return out


def metric(text, name, **labels):
    """Sum of the samples of `name` whose labels include `labels` (0 if none)."""
    total = 0.0
    for n, ls, v in parse_metrics(text):
        if n == name and all(ls.get(k) == str(val) for k, val in labels.items()):
            total += v
    return total


def metric_lines(text, prefix):
    return "\n".join(l for l in text.splitlines() if l.startswith(prefix))


def render_config(listener, admin_listen, clusters, active, failover=None, log_level=None, extra=""):
    """The proxy's YAML. listener: dict(host, advertisedHost, bootstrapPort, brokerPorts);
    clusters: {name: "h:p,h:p"} (order kept); failover: {key: value} (lists allowed)."""
    lines = ["# written by the failover tests at %.3f" % time.time(), "listener:"]
    for k in ("host", "advertisedHost", "bootstrapPort", "brokerPorts"):
        if k in listener:
            lines.append("  %s: %s" % (k, listener[k]))
    lines += ["admin:", "  listen: %s" % admin_listen, "activeCluster: %s" % active, "clusters:"]
    for name, bootstrap in clusters.items():
        servers = ", ".join('"%s"' % a for a in bootstrap.split(","))
        lines += ["  %s:" % name, "    bootstrapServers: [%s]" % servers]
    if failover:
        lines.append("failover:")
        for k, v in failover.items():
            if isinstance(v, (list, tuple)):
                v = "[%s]" % ", ".join(str(x) for x in v)
            lines.append("  %s: %s" % (k, v))
    lines.append("limits: {maxRequestBytes: 104857600, maxConnections: 10000, idleTimeoutSeconds: 600}")
    lines.append("logging: {level: %s, format: text}" % (log_level or LOG_LEVEL))
    text = "\n".join(lines) + "\n"
    return text + extra


# --------------------------------------------------------------------------
# config file layouts
# --------------------------------------------------------------------------

class ConfigMapDir:
    """A directory laid out like a Kubernetes ConfigMap volume:

        root/config.yaml -> ..data/config.yaml
        root/..data      -> ..2026_11_23_14_19_00.000000001
        root/..2026_11_23_14_19_00.000000001/config.yaml

    write() does what kubelet's atomic writer does: a new timestamped directory
    with the new file, a temporary symlink ..data_tmp pointing at it, renamed
    over ..data (one atomic rename), then the old timestamped directory removed."""

    FILE = "config.yaml"

    def __init__(self, root):
        self.root = str(root)
        os.makedirs(self.root, exist_ok=True)
        self.path = os.path.join(self.root, self.FILE)
        self.versions = 0
        self._seq = 0

    def _new_dir_name(self):
        # kubelet: "..2026_11_23_14_19_00.123456789" (UTC time, then a unique suffix)
        self._seq += 1
        return time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()) + "%09d" % (
            (time.time_ns() + self._seq) % 1_000_000_000)

    def current_dir(self):
        data = os.path.join(self.root, "..data")
        return os.readlink(data) if os.path.islink(data) else None

    def write(self, text):
        """Publish a new version; returns the time.time() of the atomic swap."""
        name = self._new_dir_name()
        while os.path.exists(os.path.join(self.root, name)):
            name = self._new_dir_name()
        new_dir = os.path.join(self.root, name)
        os.mkdir(new_dir, 0o755)
        with open(os.path.join(new_dir, self.FILE), "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        old = self.current_dir()
        tmp = os.path.join(self.root, "..data_tmp")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(name, tmp)
        t = time.time()
        os.replace(tmp, os.path.join(self.root, "..data"))
        if not os.path.lexists(self.path):
            os.symlink(os.path.join("..data", self.FILE), self.path)
        if old and old != name:
            import shutil
            shutil.rmtree(os.path.join(self.root, old), ignore_errors=True)
        self.versions += 1
        return t

    def read(self):
        with open(self.path) as f:
            return f.read()


class PlainConfig:
    """A regular file, changed in place, by write-temp-then-rename, or deleted."""

    def __init__(self, root, name="proxy.yaml"):
        self.root = str(root)
        os.makedirs(self.root, exist_ok=True)
        self.path = os.path.join(self.root, name)

    def write(self, text, how="inplace"):
        """Returns the time.time() at which the change became visible."""
        if how == "inplace":
            with open(self.path, "w") as f:      # O_TRUNC + write + close on the same inode
                f.write(text)
                t = time.time()
            return t
        if how == "rename":
            tmp = self.path + ".tmp-%d" % os.getpid()
            with open(tmp, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            t = time.time()
            os.replace(tmp, self.path)
            return t
        raise ValueError(how)

    def delete(self):
        t = time.time()
        os.unlink(self.path)
        return t

    def read(self):
        with open(self.path) as f:
            return f.read()


class SymlinkedDirConfig(PlainConfig):
    """root/current/proxy.yaml where root/current is a symlink to a version directory.

    write() changes the file in place; swap() publishes a new version by pointing
    root/current at a new directory (atomic rename of a temporary symlink in root).
    The directory the proxy watches (root/current, resolved) does not change in a swap,
    so only a SIGHUP makes the proxy read the new version: that isolates the SIGHUP path."""

    def __init__(self, root, name="proxy.yaml"):
        self.top = str(root)
        os.makedirs(self.top, exist_ok=True)
        self.version = 0
        self.name = name
        self._publish()
        super().__init__(os.path.join(self.top, "current"), name)

    def _publish(self, text=None):
        self.version += 1
        vdir = os.path.join(self.top, "v%d" % self.version)
        os.mkdir(vdir)
        if text is not None:
            with open(os.path.join(vdir, self.name), "w") as f:
                f.write(text)
        tmp = os.path.join(self.top, "current_tmp")
        os.symlink("v%d" % self.version, tmp)
        t = time.time()
        os.replace(tmp, os.path.join(self.top, "current"))
        return t

    def swap(self, text):
        return self._publish(text)


# --------------------------------------------------------------------------
# the proxy with several clusters
# --------------------------------------------------------------------------

class FailoverProxy(Proxy):
    """kafka-proxy in front of several clusters, its config in `layout`
    ("configmap", "plain" or "symlinked-dir"). Reuses Proxy's wait_ready/status/metrics/stop."""

    def __init__(self, workdir, clusters, active="primary", failover=None, layout="configmap",
                 wait_ready=True):
        self.clusters = dict(clusters)                  # name -> Cluster
        self.cluster = self.clusters.get(active)        # for the log attachment of ProxyFactory
        self.active = active
        self.failover = dict(failover or {})
        self.advertised_host = HOST
        self.bootstrap_port = free_port()
        self.admin_port = free_port()
        self.broker_ports = free_port_range(16)
        self.bootstrap = "%s:%d" % (HOST, self.bootstrap_port)
        self.admin_url = "http://%s:%d" % (HOST, self.admin_port)
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = str(workdir / "proxy.log")
        self.layout = layout
        self.files = {"configmap": lambda: ConfigMapDir(workdir / "configmap"),
                      "plain": lambda: PlainConfig(workdir),
                      "symlinked-dir": lambda: SymlinkedDirConfig(workdir / "cfg")}[layout]()
        self.config_path = self.files.path
        self.history = []                                # (time, what)
        self._write(self.render(), initial=True)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([PROXY_BIN, "--config", self.config_path],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        if wait_ready:
            self.wait_ready(20)

    # ---- config

    def listener(self, **override):
        d = {"host": HOST, "advertisedHost": HOST, "bootstrapPort": self.bootstrap_port,
             "brokerPorts": "%d-%d" % (self.broker_ports[0], self.broker_ports[-1])}
        d.update(override)
        return d

    def render(self, active=None, failover=None, listener=None, extra="", log_level=None):
        return render_config(listener or self.listener(), "%s:%d" % (HOST, self.admin_port),
                             {n: c.bootstrap for n, c in self.clusters.items()},
                             active or self.active, self.failover if failover is None else failover,
                             log_level=log_level, extra=extra)

    def _write(self, text, how=None, initial=False):
        if isinstance(self.files, ConfigMapDir):
            return self.files.write(text)
        return self.files.write(text, how or "inplace")

    def write_config(self, text, how=None, note="edit"):
        """Change the file (configmap swap, or plain in-place/rename); returns the change time."""
        t = self._write(text, how)
        self.history.append((t, note))
        return t

    def switch(self, to, how=None):
        """Change activeCluster in the file; returns the time of the change."""
        self.active = to
        return self.write_config(self.render(active=to), how, note="activeCluster -> %s" % to)

    def sighup(self):
        t = time.time()
        self.proc.send_signal(signal.SIGHUP)
        self.history.append((t, "SIGHUP"))
        return t

    # ---- observation

    def status_or_none(self):
        try:
            code, body = self.get("/status", timeout=2)
            return json.loads(body) if code == 200 else None
        except (OSError, ValueError):
            return None

    def generation(self):
        return self.status()["configGeneration"]

    def reloads(self, result):
        return metric(self.metrics(), "kafka_proxy_config_reloads_total", result=result)

    def wait_active(self, name, timeout, since=None):
        """Wait until /status activeCluster == name; returns the time it was first seen."""
        def ok():
            s = self.status_or_none()
            return s is not None and s.get("activeCluster") == name
        wait_until(ok, timeout, "/status activeCluster == %r" % name, interval=0.05,
                   detail=lambda: "status: %s" % json.dumps(self.status_or_none())[:2000])
        return time.time()

    def alive(self):
        return self.proc.poll() is None

    def describe(self):
        s = self.status_or_none()
        return "proxy status: %s" % (json.dumps(s)[:3000] if s is not None else "<unavailable>")


class FailoverProxyFactory(ProxyFactory):
    def __call__(self, clusters, **kw):
        if conftest.DIRECT:
            pytest.skip("KAFKA_PROXY_DIRECT=1: failover needs the proxy")
        if not os.access(PROXY_BIN, os.X_OK):
            pytest.fail("proxy binary %s missing (swift build, or set KAFKA_PROXY_BIN)" % PROXY_BIN)
        p = FailoverProxy(self.tmp_path / ("fproxy%d" % len(self.started)), clusters, **kw)
        self.started.append(p)
        return p

    def log_owners(self):
        owners = list(self.started)
        for p in self.started:
            owners += list(p.clusters.values())
        return owners


@pytest.fixture
def failover_proxy(tmp_path):
    yield from conftest.serve_factory(FailoverProxyFactory(tmp_path))


# --------------------------------------------------------------------------
# cluster pairs
# --------------------------------------------------------------------------

class ClusterPair:
    def __init__(self, kind, primary, dr):
        self.kind = kind
        self.primary = primary
        self.dr = dr

    def by_name(self):
        return {"primary": self.primary, "dr": self.dr}

    def create_topic(self, topic, partitions):
        for c in (self.primary, self.dr):
            c.create_topic(topic, partitions)
        if self.kind == "tansu":
            return
        # the mock cluster answers Metadata for a fresh topic at once; nothing to wait for

    def log_owners(self):
        return [self.primary, self.dr]

    def __repr__(self):
        return "<%s pair primary=%s dr=%s>" % (self.kind, self.primary.bootstrap, self.dr.bootstrap)


@pytest.fixture(scope="module")
def tansu_primary(tmp_path_factory):
    b = Tansu(tmp_path_factory.mktemp("tansu-primary") / "tansu-primary.log")
    b.log_name = "tansu primary"
    yield b
    b.stop()


@pytest.fixture(scope="module")
def tansu_dr(tmp_path_factory):
    b = Tansu(tmp_path_factory.mktemp("tansu-dr") / "tansu-dr.log")
    b.log_name = "tansu dr"
    yield b
    b.stop()


@pytest.fixture(scope="module")
def mock_primary(tmp_path_factory):
    c = MockCluster(tmp_path_factory.mktemp("mock-primary") / "mock-primary.log", brokers=3)
    c.log_name = "mockcluster primary"
    yield c
    c.stop()


@pytest.fixture(scope="module")
def mock_dr(tmp_path_factory):
    c = MockCluster(tmp_path_factory.mktemp("mock-dr") / "mock-dr.log", brokers=3)
    c.log_name = "mockcluster dr"
    yield c
    c.stop()


@pytest.fixture(params=["tansu", "mock"])
def cluster_pair(request):
    if request.param == "tansu":
        return ClusterPair("tansu", request.getfixturevalue("tansu_primary"), request.getfixturevalue("tansu_dr"))
    return ClusterPair("mock", request.getfixturevalue("mock_primary"), request.getfixturevalue("mock_dr"))


@pytest.fixture
def failover_report(request):
    """emit(title, text): print it, attach it as a report section (shown with the
    failure, or with -rP) and record it as a user property (junit xml, and the
    terminal summary hook in conftest)."""
    def emit(title, text):
        print("\n=== %s ===\n%s" % (title, text))
        request.node.add_report_section("call", title, text)
        request.node.user_properties.append(("failover_report", "%s: %s" % (title, text)))
    return emit


# --------------------------------------------------------------------------
# reading a cluster directly
# --------------------------------------------------------------------------

class ClusterTail:
    """Reads `topic` straight from `cluster` (no proxy), from the beginning of every
    partition, in a thread, until stop(). Keeps (partition, offset, value, time seen)."""

    def __init__(self, name, cluster, topic, partitions):
        self.name = name
        self.cluster = cluster
        self.topic = topic
        self._records = []
        self._lock = threading.Lock()
        self.errors = []
        self._stop = threading.Event()
        self._c = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": unique("tail"),
                            "enable.auto.commit": False, "enable.partition.eof": False,
                            "fetch.wait.max.ms": 100, "auto.offset.reset": "earliest", **FAST})
        self._c.assign([TopicPartition(topic, p, -2) for p in range(partitions)])  # -2: beginning
        self._t = threading.Thread(target=self._run, name="tail-%s" % name, daemon=True)
        self._t.start()

    def _run(self):
        try:
            while not self._stop.is_set():
                msgs = self._c.consume(500, 0.2)
                now = time.time()
                for m in msgs:
                    if m.error():
                        if m.error().code() != KafkaError._PARTITION_EOF:
                            self.errors.append((now, str(m.error())))
                        continue
                    with self._lock:
                        self._records.append((m.partition(), m.offset(), m.value(), now))
        finally:
            with contextlib.suppress(Exception):
                self._c.close()

    def records(self):
        with self._lock:
            return list(self._records)

    def count(self):
        with self._lock:
            return len(self._records)

    def values(self):
        with self._lock:
            return [r[2] for r in self._records]

    def stop(self):
        self._stop.set()
        self._t.join(10)


# --------------------------------------------------------------------------
# producers
# --------------------------------------------------------------------------

def value_of(seq):
    return b"n-%08d" % seq


def seq_of(value):
    if value and value.startswith(b"n-"):
        with contextlib.suppress(ValueError):
            return int(value[2:])
    return None


class ProduceLoop:
    """Sends value_of(0), value_of(1), ... every `interval` seconds until stop().
    acked: seq -> (ack time, partition, offset); failed: seq -> (time, error)."""

    client = "?"

    def __init__(self, bootstrap, topic, interval=0.005, first_seq=0, **conf):
        self.first_seq = first_seq
        self.flush_timeout = 10
        self.bootstrap = bootstrap
        self.topic = topic
        self.interval = interval
        self.conf = conf
        self.sent = {}
        self.acked = {}
        self.failed = {}
        self.client_errors = []          # (time, text) from the client's error channel
        self.fatal = None
        self.unflushed = None
        self.exception = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._t = None

    def start(self):
        self._t = threading.Thread(target=self._guarded, name="produce-%s" % self.client, daemon=True)
        self._t.start()
        return self

    def _guarded(self):
        try:
            self._run()
        except BaseException as e:   # noqa: BLE001  (reported by the test)
            self.exception = e

    def stop(self, flush_timeout=10):
        """Stop sending, flush for at most flush_timeout s (what is not acknowledged by then
        does not count as acknowledged), wait for the thread."""
        self.flush_timeout = flush_timeout
        self._stop.set()
        if self._t:
            self._t.join(flush_timeout + 15)
            if self._t.is_alive():
                self.exception = self.exception or RuntimeError("producer thread did not stop")

    def _ack(self, seq, partition, offset):
        with self._lock:
            self.acked[seq] = (time.time(), partition, offset)

    def _fail(self, seq, err):
        with self._lock:
            self.failed[seq] = (time.time(), str(err))

    def acked_count(self):
        with self._lock:
            return len(self.acked)

    def acks_since(self, t):
        with self._lock:
            return sum(1 for (ta, _, _) in self.acked.values() if ta >= t)

    def recent_failures(self, n=5):
        with self._lock:
            items = sorted(self.failed.items(), key=lambda kv: kv[1][0])[-n:]
        return ["seq %d at %.3f: %s" % (s, t, e) for s, (t, e) in items]

    def summary(self):
        with self._lock:
            return ("%s producer: sent %d, acked %d, failed %d, unflushed %s, fatal %s, exception %r, "
                    "last failures %s, client errors (last 5) %s"
                    % (self.client, len(self.sent), len(self.acked), len(self.failed), self.unflushed,
                       self.fatal, self.exception,
                       ["%s" % e for _, e in sorted(self.failed.values())[-3:]],
                       [e for _, e in self.client_errors[-5:]]))


class ConfluentProduceLoop(ProduceLoop):
    client = "confluent-kafka"

    def _run(self):
        conf = {"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 5,
                "message.timeout.ms": 30000, "request.timeout.ms": 10000, "retry.backoff.ms": 100,
                "error_cb": self._on_error, **FAST}
        if os.environ.get("FAILOVER_CLIENT_DEBUG"):       # e.g. "eos,broker,metadata": librdkafka log on stderr
            conf["debug"] = os.environ["FAILOVER_CLIENT_DEBUG"]
        conf.update(self.conf)
        p = Producer(conf)
        seq = self.first_seq
        next_at = time.time()
        while not self._stop.is_set() and self.fatal is None:
            try:
                p.produce(self.topic, key=b"%d" % seq, value=value_of(seq), on_delivery=self._on_delivery)
            except BufferError:
                p.poll(0.05)
                continue
            except KafkaException as e:
                self.fatal = self.fatal or e
                break
            self.sent[seq] = time.time()
            seq += 1
            p.poll(0)
            next_at += self.interval
            delay = next_at - time.time()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.time()
        self.unflushed = p.flush(self.flush_timeout)

    def _on_delivery(self, err, msg):
        seq = seq_of(msg.value())
        if seq is None:
            return
        if err is not None:
            self._fail(seq, err)
        else:
            self._ack(seq, msg.partition(), msg.offset())

    def _on_error(self, err):
        self.client_errors.append((time.time(), str(err)))
        if err.fatal():
            self.fatal = self.fatal or err


class KafkaPythonProduceLoop(ProduceLoop):
    client = "kafka-python"

    def _run(self):
        from kafka import KafkaProducer
        conf = {"bootstrap_servers": self.bootstrap, "acks": "all", "linger_ms": 5,
                "request_timeout_ms": 10000, "delivery_timeout_ms": 30000, "max_block_ms": 10000,
                "retry_backoff_ms": 100, "reconnect_backoff_max_ms": 1000, "metadata_max_age_ms": 5000,
                "bootstrap_timeout_ms": 15000}
        conf.update(self.conf)
        p = KafkaProducer(**conf)
        try:
            seq = self.first_seq
            next_at = time.time()
            consecutive = 0
            while not self._stop.is_set():
                try:
                    fut = p.send(self.topic, key=b"%d" % seq, value=value_of(seq))
                except Exception as e:  # noqa: BLE001  (KafkaTimeoutError, an idempotence state error...)
                    self.sent[seq] = time.time()
                    self._fail(seq, "send(): %r" % e)
                    self.client_errors.append((time.time(), "send(): %r" % e))
                    seq += 1
                    consecutive += 1
                    time.sleep(min(0.2, 0.01 * consecutive))
                    continue
                consecutive = 0
                self.sent[seq] = time.time()
                fut.add_callback(self._on_ok, seq)
                fut.add_errback(self._on_err, seq)
                seq += 1
                next_at += self.interval
                delay = next_at - time.time()
                if delay > 0:
                    time.sleep(delay)
                else:
                    next_at = time.time()
            try:
                p.flush(timeout=self.flush_timeout)
                self.unflushed = 0
            except Exception as e:  # noqa: BLE001
                self.unflushed = "flush: %r" % e
        finally:
            with contextlib.suppress(Exception):
                p.close(timeout=5)

    def _on_ok(self, seq, md):
        self._ack(seq, md.partition, md.offset)

    def _on_err(self, seq, exc):
        self._fail(seq, repr(exc))


# --------------------------------------------------------------------------
# analysis
# --------------------------------------------------------------------------

def wait_settled(loop, tails, timeout=20, quiet=1.0):
    """After the producer stopped: wait until every acknowledged record is visible in
    some tail (or timeout), then until the tails have been quiet for `quiet` seconds."""
    def found_all():
        stored = set()
        for t in tails.values():
            stored.update(t.values())
        return all(value_of(s) in stored for s in list(loop.acked))
    deadline = time.time() + timeout
    while time.time() < deadline and not found_all():
        time.sleep(0.2)
    counts = [t.count() for t in tails.values()]
    quiet_since = time.time()
    while time.time() < deadline and time.time() - quiet_since < quiet:
        time.sleep(0.2)
        now = [t.count() for t in tails.values()]
        if now != counts:
            counts, quiet_since = now, time.time()


def analyse(loop, tails, switches, drain=DRAIN_SECONDS):
    """loop: a stopped ProduceLoop; tails: {cluster name: ClusterTail};
    switches: [(time of the change, from, to, label)]. Returns a dict with
    'lost', 'gaps', 'duplicates', 'late_on_old', 'text', ..."""
    stored = {}                                  # value -> [(cluster, partition, offset)]
    per_cluster = {}
    for name, tail in tails.items():
        recs = tail.records()
        per_cluster[name] = len(recs)
        for p, o, v, _ in recs:
            stored.setdefault(v, []).append((name, p, o))

    with loop._lock:
        acked = dict(loop.acked)
        failed = dict(loop.failed)
    where = {}
    lost, mismatched, ambiguous = [], [], 0
    for seq, (t, p, o) in acked.items():
        locs = stored.get(value_of(seq))
        if not locs:
            lost.append(seq)
            continue
        exact = [c for (c, pp, oo) in locs if (pp, oo) == (p, o)]
        if len(exact) == 1:
            where[seq] = exact[0]
        elif exact:
            ambiguous += 1
            where[seq] = exact[0]
        else:
            mismatched.append(seq)
            where[seq] = locs[0][0]

    ours = {v: locs for v, locs in stored.items() if seq_of(v) is not None}
    dup_total = sum(len(l) - 1 for l in ours.values())
    dup_cross = sum(1 for l in ours.values() if len({c for c, _, _ in l}) > 1)
    dup_within = {name: sum(1 for l in ours.values() if sum(1 for c, _, _ in l if c == name) > 1)
                  for name in tails}
    stored_unacked = sum(1 for v in ours if seq_of(v) not in acked)

    ack_times = sorted((t, where.get(seq)) for seq, (t, _, _) in acked.items())
    gaps, late_on_old = [], []
    bounds = [s[0] for s in switches[1:]] + [float("inf")]
    for (T, old, new, label), until in zip(switches, bounds):
        on_new = [t for t, c in ack_times if c == new and T <= t < until]
        on_old = [t for t, c in ack_times if c == old and T <= t < until]
        before = [t for t, _ in ack_times if t < T]
        first_new = min(on_new) if on_new else None
        last_old = max(on_old) if on_old else None
        window = [t for t, _ in ack_times if T <= t < min(until, T + 60)]
        seq_times = ([before[-1]] if before else []) + window
        stall = max((b - a for a, b in zip(seq_times, seq_times[1:])), default=None)
        gaps.append({"label": label, "at": T, "from": old, "to": new,
                     "gap": None if first_new is None else first_new - T,
                     "acks_on_new": len(on_new), "acks_on_old_after": len(on_old),
                     "last_old_after": None if last_old is None else last_old - T,
                     "longest_ack_stall": stall})
        threshold = T + drain + 1.5
        late_on_old += [(label, t - T) for t in on_old if t > threshold]

    def fmt(x):
        return "-" if x is None else "%.3fs" % x

    lines = ["%s, topic %s" % (loop.summary(), loop.topic),
             "records read directly: %s" % ", ".join("%s %d" % kv for kv in per_cluster.items()),
             "acknowledged: %d, lost (acknowledged, found in no cluster): %d" % (len(acked), len(lost)),
             "duplicates: %d extra copies (%d records on both clusters, within a cluster: %s); "
             "stored but never acknowledged: %d"
             % (dup_total, dup_cross, ", ".join("%s %d" % kv for kv in dup_within.items()), stored_unacked),
             "delivery reports not matching the stored partition/offset: %d, ambiguous: %d"
             % (len(mismatched), ambiguous),
             "delivery failures (not acknowledged): %d" % len(failed)]
    for g in gaps:
        lines.append("%-22s %s -> %s: first ack on %s after %s (acks there: %d); %s acked %d more, "
                     "last %s after the change; longest pause between acks %s"
                     % (g["label"], g["from"], g["to"], g["to"], fmt(g["gap"]), g["acks_on_new"], g["from"],
                        g["acks_on_old_after"], fmt(g["last_old_after"]), fmt(g["longest_ack_stall"])))
    if lost:
        lines.append("lost (seq: ack time, partition, offset): %s"
                     % ", ".join("%d: %.3f p%d@%d" % ((s,) + acked[s]) for s in sorted(lost)[:20]))
    return {"lost": lost, "gaps": gaps, "duplicates": dup_total, "late_on_old": late_on_old,
            "mismatched": mismatched, "acked": len(acked), "failed": len(failed), "where": where,
            "text": "\n".join(lines)}


def phase_wait(loop, tail, baseline, what, timeout=25, need=30, dwell_until=None, proxy=None):
    """Wait until `tail` (the cluster traffic should now go to) has `need` records more than
    `baseline` while the producer is alive, then until `dwell_until` (a time) has passed."""
    def progressed():
        if loop.fatal is not None or loop.exception is not None:
            raise AssertionError("producer died: %s" % loop.summary())
        if proxy is not None and not proxy.alive():
            raise AssertionError("kafka-proxy exited with code %s while waiting for: %s"
                                 % (proxy.proc.returncode, what))
        return tail.count() >= baseline + need
    wait_until(progressed, timeout, what, interval=0.05,
               detail=lambda: "%s\n%s read directly: %d (baseline %d)\n%s"
               % (loop.summary(), tail.name, tail.count(), baseline, proxy.describe() if proxy else ""))
    if dwell_until:
        while time.time() < dwell_until:
            time.sleep(0.05)


class TrafficProbe:
    """Checks that traffic flows through the proxy and lands on the expected cluster:
    a long-lived producer (kept across config edits) plus a fresh one per check, both
    acks=all; the records are then looked for directly in each cluster."""

    def __init__(self, proxy, clusters, topic, partitions=1):
        self.proxy = proxy
        self.topic = topic
        self.tails = {name: ClusterTail(name, c, topic, partitions) for name, c in clusters.items()}
        self.n = 0
        self._long = self._producer()

    def _producer(self):
        return Producer({"bootstrap.servers": self.proxy.bootstrap, "acks": "all", "linger.ms": 2,
                         "message.timeout.ms": 15000, "request.timeout.ms": 5000, **FAST})

    def _send(self, prod, tag, count):
        errs, values = [], []
        for _ in range(count):
            self.n += 1
            v = b"probe-%s-%d" % (tag.encode(), self.n)
            values.append(v)
            prod.produce(self.topic, value=v, on_delivery=lambda err, msg: err and errs.append(err))
        left = prod.flush(15)
        assert left == 0 and not errs, ("producing through the proxy (%s): %d not delivered, errors %s\n%s"
                                        % (tag, left, errs[:3], self.proxy.describe()))
        return values

    def check(self, expect, tag="check", count=3, timeout=10):
        """Produce `count` records on the long-lived and on a fresh producer; all acknowledged
        and found on cluster `expect` (and on no other)."""
        values = self._send(self._long, tag + "-long", count)
        fresh = self._producer()
        values += self._send(fresh, tag + "-fresh", count)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if set(values) <= set(self.tails[expect].values()):
                break
            time.sleep(0.1)
        where = {name: sorted(set(values) & set(t.values())) for name, t in self.tails.items()}
        assert set(where[expect]) == set(values), (
            "%s: acknowledged records not (all) on %s: found %s\n%s"
            % (tag, expect, {k: len(v) for k, v in where.items()}, self.proxy.describe()))
        others = {k: v for k, v in where.items() if k != expect and v}
        assert not others, "%s: records expected on %s also found on %s" % (tag, expect, others)

    def close(self):
        with contextlib.suppress(Exception):
            self._long.flush(5)
        for t in self.tails.values():
            t.stop()
