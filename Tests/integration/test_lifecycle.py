"""Proxy process lifecycle: config check, readiness, SIGTERM drain."""

import os
import signal
import socket
import subprocess
import time

import pytest

import conftest
from helpers import consumer, produce_confluent, unique

pytestmark = pytest.mark.skipif(conftest.DIRECT, reason="KAFKA_PROXY_DIRECT=1: proxy process tests")


def test_check_accepts_good_and_rejects_bad_config(tansu, proxy, tmp_path):
    p = proxy(tansu)
    good = subprocess.run([conftest.PROXY_BIN, "check", "--config", p.config_path],
                          capture_output=True, timeout=20)
    assert good.returncode == 0, good.stderr.decode(errors="replace")

    bad = tmp_path / "bad.yaml"
    text = open(p.config_path).read()
    bad.write_text(text.replace("activeCluster: primary", "activeCluster: nosuchcluster"))
    r = subprocess.run([conftest.PROXY_BIN, "check", "--config", str(bad)], capture_output=True, timeout=20)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.strip(), "check printed no reason on stderr"

    garbage = tmp_path / "garbage.yaml"
    garbage.write_text("listener: [this is: not valid\n")
    r = subprocess.run([conftest.PROXY_BIN, "check", "--config", str(garbage)], capture_output=True, timeout=20)
    assert r.returncode == 1 and r.stderr.strip()


def test_check_reads_a_configmap_manifest(tmp_path):
    """`check` on the shipped ConfigMap manifest checks its data.kafka-proxy.yaml entry, and an
    error in that entry points at the manifest's own line."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    manifest = os.path.join(repo, "config", "kubernetes", "configmap.yaml")
    good = subprocess.run([conftest.PROXY_BIN, "check", "--config", manifest], capture_output=True, text=True, timeout=20)
    assert good.returncode == 0, good.stderr
    assert "ConfigMap" in good.stdout and "data.kafka-proxy.yaml" in good.stdout, good.stdout

    text = open(manifest).read()
    lines = text.splitlines()
    number = next(i + 1 for i, l in enumerate(lines) if l.strip().startswith("activeCluster:"))
    bad = tmp_path / "configmap.yaml"
    bad.write_text(text.replace("activeCluster: primary", "activeCluster: nosuchcluster", 1))
    r = subprocess.run([conftest.PROXY_BIN, "check", "--config", str(bad)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "apiVersion" not in r.stderr, r.stderr
    assert "%s:%d:" % (bad, number) in r.stderr and "nosuchcluster" in r.stderr, r.stderr


def test_readyz_follows_upstream(proxy, tmp_path):
    port = conftest.free_port()
    p = proxy("127.0.0.1:%d" % port, wait_ready=False)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            if p.get("/healthz", timeout=1)[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    assert p.get("/healthz")[0] == 200
    time.sleep(1.0)
    assert p.get("/readyz")[0] == 503          # nobody answers upstream yet
    broker = conftest.Tansu(tmp_path / "late-tansu.log", port=port)
    try:
        p.wait_ready(20)
        topic = unique("late")
        broker.create_topic(topic)
        produce_confluent(p.bootstrap, topic, n=3, acks="all")
    finally:
        assert p.stop(15) == 0
        broker.stop()


def test_sigterm_with_connected_clients_exits_zero(cluster, proxy):
    p = proxy(cluster)
    topic = unique("term")
    cluster.create_topic(topic, partitions=1)
    produce_confluent(p.bootstrap, topic, n=5, acks="all")
    c = consumer(p.bootstrap, unique("term-g"))
    c.subscribe([topic])
    deadline = time.time() + 20
    while time.time() < deadline and not c.assignment():
        c.poll(0.2)
    t0 = time.time()
    rc = p.stop(15)
    assert rc == 0, "exit code %s after SIGTERM" % rc
    assert time.time() - t0 < 15
    host, port = p.bootstrap.rsplit(":", 1)
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=1).close()
    c.close()
