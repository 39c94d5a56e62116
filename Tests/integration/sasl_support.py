"""Fixtures for the SASL tests (issue 5): Tansu behind saslgate.py, and the proxy
configured to log in to it.

  SaslGatedTansu   a Tansu broker that advertises the gate's address, with
                   saslgate.py in front of it (the proxy's upstream).  Its gate
                   verifies with scramp / plain comparison / a fixed token, never
                   with the proxy's code.  `events()` are the gate's JSON events.
  SaslProxy        kafka-proxy whose cluster `primary` has a `sasl:` section.
  sasl_cluster     fixture: a fresh SaslGatedTansu per test.
  sasl_proxy       fixture: factory SaslProxy(sasl_cluster, sasl_yaml_lines, ...),
                   stopped with SIGTERM (exit 0 checked) at teardown.

With KAFKA_PROXY_DIRECT=1 the factory hands back the gate itself and
`client_conf()` carries the SASL settings for librdkafka, which validates the
gate and the tests without the proxy.
"""

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time

import pytest

import conftest
from conftest import HOST, PROXY_BIN, Cluster, Proxy, ProxyFactory, _tail, free_port, tansu_bin, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
GATE_USER = "app"
ADMIN_USER = "admin"          # used by the harness itself (topic creation through the gate)
ADMIN_PASSWORD = "admin-secret"


class SaslGatedTansu(Cluster):
    name = "tansu+saslgate"
    log_name = "saslgate"
    supports_create_topics = True

    def __init__(self, workdir, password, token="it-token.abc_DEF-123", lifetime_ms=0, advertised_port=None,
                 gate_args=(), gate_env=None):
        """advertised_port: what Tansu advertises (default the gate's port; another when something,
        e.g. HAProxy, sits in front of the gate); gate_args/gate_env: extra saslgate.py options."""
        super().__init__()
        workdir.mkdir(parents=True, exist_ok=True)
        self.gate_port = free_port()
        self.tansu_port = free_port()
        self.bootstrap = "%s:%d" % (HOST, self.gate_port)
        self.node_ids = [111]
        self.log_path = str(workdir / "saslgate.log")
        self.tansu_log_path = str(workdir / "tansu.log")
        self._tansu_log = open(self.tansu_log_path, "wb")
        self.tansu = subprocess.Popen(
            [tansu_bin(), "broker", "--listener-url", "tcp://%s:%d" % (HOST, self.tansu_port),
             "--advertised-listener-url", "tcp://%s:%d" % (HOST, advertised_port or self.gate_port),
             "--storage-engine", "memory://tansu/", "--cluster-id", "sasl-%d" % self.tansu_port],
            stdout=self._tansu_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not wait_port(HOST, self.tansu_port, 15):
            self.stop()
            pytest.fail("tansu did not come up:\n" + _tail(self.tansu_log_path))
        self._events = []
        self._cond = threading.Condition()
        self._answers = queue.Queue()
        self._log = open(self.log_path, "w")
        self.gate = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "saslgate.py"), "--listen", self.bootstrap,
             "--upstream", "%s:%d" % (HOST, self.tansu_port), "--user", "%s:%s" % (GATE_USER, password),
             "--user", "%s:%s" % (ADMIN_USER, ADMIN_PASSWORD), "--token", token, "--lifetime-ms", str(lifetime_ms), *gate_args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1,
            env=gate_env)
        threading.Thread(target=self._reader, daemon=True).start()
        if not self.wait_event(lambda e: e["event"] == "ready", 10):
            self.stop()
            pytest.fail("saslgate.py did not start:\n" + _tail(self.log_path))

    def _reader(self):
        for line in self.gate.stdout:
            self._log.write(line)
            self._log.flush()
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") in ("ok", "error"):
                self._answers.put(event)
            with self._cond:
                self._events.append(event)
                self._cond.notify_all()

    def events(self, kind=None):
        with self._cond:
            return [e for e in self._events if kind is None or e["event"] == kind]

    def wait_event(self, pred, timeout):
        deadline = time.time() + timeout
        with self._cond:
            while True:
                for e in self._events:
                    if pred(e):
                        return e
                left = deadline - time.time()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def command(self, line):
        self.gate.stdin.write(line + "\n")
        self.gate.stdin.flush()
        answer = self._answers.get(timeout=5)
        assert answer["event"] == "ok", answer

    def auths(self, ok=True, user=GATE_USER):
        return [e for e in self.events("auth") if e["ok"] == ok and (user is None or e["user"] == user)]

    def admin_conf(self):
        return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                "sasl.username": ADMIN_USER, "sasl.password": ADMIN_PASSWORD}

    def create_topic(self, topic, partitions=1):
        from helpers import admin, wait_topic
        from confluent_kafka.admin import NewTopic
        a = admin(self.bootstrap, **self.admin_conf())
        a.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)],
                        operation_timeout=15, request_timeout=15)[topic].result(timeout=15)
        wait_topic(a, topic, partitions, 15)

    def stop(self):
        for proc, close in ((getattr(self, "gate", None), True), (self.tansu, False)):
            if proc is None or proc.poll() is not None:
                continue
            if close:
                with contextlib.suppress(Exception):
                    proc.stdin.write("quit\n")
                    proc.stdin.flush()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(3)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self._tansu_log.close()


class SaslProxy(Proxy):
    """kafka-proxy with `sasl:` under clusters.primary (sasl_lines: YAML lines without indent)."""

    def __init__(self, workdir, cluster, sasl_lines, wait_ready=True):
        self._prepare(workdir, cluster)
        sasl = "".join("      %s\n" % l for l in sasl_lines)
        self._start(
            "activeCluster: primary\n"
            "clusters:\n  primary:\n    bootstrapServers: [\"%s\"]\n    sasl:\n%s"
            "logging: {level: debug, format: text}\n" % (cluster.bootstrap, sasl), wait_ready)

    def client_conf(self):
        return {}


class DirectSaslGate:
    """KAFKA_PROXY_DIRECT=1: clients talk SASL to the gate themselves."""

    direct = True
    log_name = "proxy"
    log_path = None

    def __init__(self, cluster, sasl):
        self.cluster = cluster
        self.bootstrap = cluster.bootstrap
        self.sasl = sasl

    def require_proxy(self):
        pytest.skip("KAFKA_PROXY_DIRECT=1: only meaningful through the proxy")

    def client_conf(self):
        conf = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": self.sasl["mechanism"]}
        if "username" in self.sasl:
            conf["sasl.username"] = self.sasl["username"]
            conf["sasl.password"] = self.sasl["password"]
        if self.sasl["mechanism"] == "OAUTHBEARER":
            conf["sasl.oauthbearer.config"] = "principal=app"
            conf["enable.sasl.oauthbearer.unsecure.jwt"] = True
        return conf


class SaslProxyFactory(ProxyFactory):
    def __call__(self, cluster, sasl_lines, direct_sasl=None, wait_ready=True):
        """sasl_lines: the proxy's `sasl:` body; direct_sasl: what a client would need
        to talk to the gate itself (KAFKA_PROXY_DIRECT=1)."""
        self.cluster = cluster
        if conftest.DIRECT:
            return DirectSaslGate(cluster, direct_sasl or {})
        if not os.access(PROXY_BIN, os.X_OK):
            pytest.fail("proxy binary %s missing (swift build, or set KAFKA_PROXY_BIN)" % PROXY_BIN)
        p = SaslProxy(self.tmp_path / ("sproxy%d" % len(self.started)), cluster, sasl_lines, wait_ready)
        self.started.append(p)
        return p


@pytest.fixture
def sasl_proxy(tmp_path):
    yield from conftest.serve_factory(SaslProxyFactory(tmp_path))


def write_secret(path, value):
    """Replace a secret file the way Kubernetes does: a new file renamed over the old one."""
    tmp = str(path) + ".tmp"
    with open(tmp, "w") as f:
        f.write(value + "\n")
    os.replace(tmp, str(path))


@pytest.fixture
def sasl_cluster(tmp_path):
    """Factory: sasl_cluster(password=..., lifetime_ms=0, token=...) -> SaslGatedTansu."""
    started = []

    def make(password, **kw):
        c = SaslGatedTansu(tmp_path / ("gate%d" % len(started)), password, **kw)
        started.append(c)
        return c

    make.started = started
    yield make
    for c in started:
        c.stop()
