"""Drop-in compatibility with grepplabs/kafka-proxy (issue 8): `kafka-proxy server` with its flags,
`--config` underneath them with hot reload, and `print-config` with secrets redacted.
docs/kafka-proxy-compatibility.md lists every flag."""

import hashlib
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import DIRECT, HOST, PROXY_BIN, _http_get, _tail, free_port, free_port_range
from helpers import admin, produce_confluent, read_all, unique

pytestmark = pytest.mark.skipif(DIRECT, reason="KAFKA_PROXY_DIRECT=1: these tests exercise the proxy's command line")


def _binary():
    if not os.access(PROXY_BIN, os.X_OK):
        pytest.fail("proxy binary %s missing (swift build, or set KAFKA_PROXY_BIN)" % PROXY_BIN)
    return PROXY_BIN


def run_cli(*args, env=None, timeout=20):
    return subprocess.run([_binary(), *args], capture_output=True, text=True, timeout=timeout,
                          env=env, stdin=subprocess.DEVNULL)


class ServerProcess:
    """`kafka-proxy server <flags>` in the background, with its log in `workdir`."""

    log_name = "proxy"

    def __init__(self, workdir, args, admin_port):
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = str(workdir / "proxy.log")
        self.admin_url = "http://%s:%d" % (HOST, admin_port)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([_binary(), "server", *args], stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("kafka-proxy server exited with %s:\n%s" % (self.proc.returncode, _tail(self.log_path)))
            try:
                last = _http_get(self.admin_url + "/readyz", timeout=1)[0]
                if last == 200:
                    return
            except (OSError, ValueError) as e:
                last = e
            time.sleep(0.1)
        pytest.fail("not ready within %ds (last /readyz: %s):\n%s" % (timeout, last, _tail(self.log_path)))

    def get(self, path):
        return _http_get(self.admin_url + path)

    def status(self):
        code, body = self.get("/status")
        assert code == 200, body
        return json.loads(body)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def server(tmp_path):
    started = []

    def start(args, admin_port):
        s = ServerProcess(tmp_path / ("server%d" % len(started)), args, admin_port)
        started.append(s)
        return s

    yield start
    problems = []
    for s in started:
        rc = s.stop()
        if rc != 0:
            problems.append("exit code %s after SIGTERM:\n%s" % (rc, _tail(s.log_path, 40)))
    assert not problems, "\n".join(problems)


def test_server_flags_produce_and_consume(tansu, server):
    bootstrap_port, admin_port = free_port(), free_port()
    broker_ports = free_port_range(4)
    s = server(["--bootstrap-server-mapping", "%s,%s:%d" % (tansu.bootstrap, HOST, bootstrap_port),
                "--dynamic-sequential-min-port", str(broker_ports[0]),
                "--dynamic-sequential-max-ports=%d" % len(broker_ports),
                "--http-listen-address", "%s:%d" % (HOST, admin_port),
                "--http-metrics-path", "/metrics", "--http-health-path", "/health",
                "--log-format", "json", "--log-level", "debug"], admin_port)
    s.wait_ready()
    assert s.get("/health")[0] == 200          # grepplabs' default health path
    assert s.get("/metrics")[0] == 200

    bootstrap = "%s:%d" % (HOST, bootstrap_port)
    md = admin(bootstrap).list_topics(timeout=10)
    assert sorted(md.brokers) == tansu.node_ids
    assert all(b.host == HOST and b.port in broker_ports for b in md.brokers.values()), md.brokers

    topic = unique("compat")
    tansu.create_topic(topic, partitions=2)
    produce_confluent(bootstrap, topic, n=25, acks="all")
    got = read_all(bootstrap, topic, expected=25)
    assert sorted(got) == sorted(b"v-%d" % i for i in range(25))

    status = s.status()
    assert status["activeCluster"] == "default"
    assert status["clusters"][0]["bootstrapServers"] == [tansu.bootstrap]
    with open(s.log_path, "rb") as f:
        first = f.readline()
    json.loads(first)                           # --log-format json


def test_config_file_under_flags_hot_reloads_with_the_flags_reapplied(tansu, server, tmp_path):
    bootstrap_port, admin_port = free_port(), free_port()
    broker_ports = free_port_range(4)
    config = tmp_path / "proxy.yaml"
    # The file's cluster points nowhere; the mapping flag overrides it with the real broker.
    template = ("listener:\n  host: %s\n  bootstrapPort: %d\n  brokerPorts: %d-%d\n"
                "admin:\n  listen: %s:%d\n"
                "clusters:\n  primary:\n    bootstrapServers: [\"127.0.0.1:1\"]\n"
                "limits:\n  maxConnections: %%d\n"
                % (HOST, free_port(), broker_ports[0], broker_ports[-1], HOST, admin_port))
    config.write_text(template % 100)
    s = server(["--config", str(config),
                "--bootstrap-server-mapping", "%s,%s:%d" % (tansu.bootstrap, HOST, bootstrap_port)], admin_port)
    s.wait_ready()
    before = s.status()
    assert before["clusters"][0]["bootstrapServers"] == [tansu.bootstrap]

    assert before["configDigest"] == hashlib.sha256((template % 100).encode()).hexdigest(), before
    config.write_text(template % 200)
    # Wait for everything asserted below, not just the first sign of the reload: the generation, the
    # reload record and the digest of the new file (one snapshot in the proxy; the test must not
    # depend on that to pass, only to pass quickly).
    digest = hashlib.sha256((template % 200).encode()).hexdigest()
    deadline = time.time() + 10
    after = before
    while time.time() < deadline:
        after = s.status()
        if (after["configGeneration"] > before["configGeneration"] and after["lastReload"] is not None
                and after["configDigest"] == digest):
            break
        time.sleep(0.1)
    assert after["configGeneration"] > before["configGeneration"], after
    assert after["lastReload"] is not None, after
    assert after["configDigest"] == digest, after
    assert after["lastReload"]["result"] == "success", after["lastReload"]
    # The flags were applied to the reloaded file too: still the real broker, still the flag's port.
    assert after["clusters"][0]["bootstrapServers"] == [tansu.bootstrap]
    assert after["lastReload"]["restartRequired"] == []

    bootstrap = "%s:%d" % (HOST, bootstrap_port)
    topic = unique("compat-reload")
    tansu.create_topic(topic)
    produce_confluent(bootstrap, topic, n=5)
    assert len(read_all(bootstrap, topic, expected=5)) == 5


def test_print_config_redacts_the_password(tmp_path):
    r = run_cli("server", "--bootstrap-server-mapping", "kafka-0:9092,127.0.0.1:32400",
                "--sasl-enable", "--sasl-username", "app", "--sasl-password", "hunter2-secret",
                "--tls-enable", "--tls-ca-chain-cert-file", "/etc/kafka/ca.pem", "--print-config")
    assert r.returncode == 0, r.stderr
    assert "hunter2-secret" not in r.stdout + r.stderr
    assert 'password: "<redacted>"' in r.stdout
    assert "caFile: /etc/kafka/ca.pem" in r.stdout
    assert 'bootstrapServers: ["kafka-0:9092"]' in r.stdout

    # The password from the environment, as grepplabs reads it, is redacted too.
    env = dict(os.environ, SASL_PASSWORD="env-secret-42")
    r = run_cli("print-config", "--bootstrap-server-mapping", "kafka-0:9092,127.0.0.1:32400",
                "--sasl-enable", "--sasl-username", "app", env=env)
    assert r.returncode == 0, r.stderr
    assert "env-secret-42" not in r.stdout and '"<redacted>"' in r.stdout

    # print-config --config FILE: inline password redacted, file paths shown, and the output is a valid config.
    config = tmp_path / "in.yaml"
    config.write_text("listener: {bootstrapPort: 19092, brokerPorts: 19100-19110}\n"
                      "clusters:\n"
                      "  primary:\n"
                      "    bootstrapServers: [\"a:9092\"]\n"
                      "    sasl: {mechanism: SCRAM-SHA-512, username: app, password: \"file-secret-7\"}\n"
                      "  dr:\n"
                      "    bootstrapServers: [\"b:9092\"]\n"
                      "    sasl: {mechanism: PLAIN, username: app, passwordFile: /run/secrets/dr-password}\n")
    r = run_cli("print-config", "--config", str(config))
    assert r.returncode == 0, r.stderr
    assert "file-secret-7" not in r.stdout
    assert "passwordFile: /run/secrets/dr-password" in r.stdout
    assert r.stdout.startswith("# Effective kafka-proxy configuration")
    printed = tmp_path / "printed.yaml"
    printed.write_text(r.stdout)
    check = run_cli("check", "--config", str(printed))
    assert check.returncode == 0, check.stdout + check.stderr


def test_unknown_and_refused_flags_are_named():
    r = run_cli("server", "--bootstrap-server-mapping", "kafka-0:9092,127.0.0.1:32400",
                "--dial-address-mapping", "a:1,b:2", "--no-such-flag")
    assert r.returncode != 0
    assert "--dial-address-mapping is not supported" in r.stderr, r.stderr
    assert "unknown flag --no-such-flag" in r.stderr, r.stderr

    r = run_cli("server", "--bootstrap-server-mapping", "kafka-0:9092,127.0.0.1:32400", "--forbidden-api-keys", "20")
    assert r.returncode != 0
    assert "--forbidden-api-keys is not supported" in r.stderr, r.stderr
