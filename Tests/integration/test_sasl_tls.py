"""SASL over TLS (issue 5, SASL_SSL): HAProxy terminates TLS in front of the SASL gate
(saslgate.py, verifying SCRAM with scramp), which sits in front of Tansu. The proxy's
cluster has both `tls` and `sasl`; applications connect to the proxy in plaintext with no
credentials."""

import shutil

import pytest

from conftest import HOST, free_port
from helpers import admin, produce_confluent, read_all, unique, wait_topic
from sasl_support import ADMIN_PASSWORD, ADMIN_USER, GATE_USER, SaslGatedTansu, write_secret
from tls_support import PKI, HAProxy, cluster_yaml, tls_proxy  # noqa: F401 (fixture)

PASSWORD = "tls-S3cret-pw"


@pytest.fixture
def sasl_ssl_world(tmp_path):
    if shutil.which("haproxy") is None:
        pytest.fail("haproxy not installed: run scripts/install-test-deps")
    pki = PKI(tmp_path / "pki")
    tls_port = free_port()
    # Tansu advertises HAProxy's port, so per-broker connections also go TLS -> gate -> Tansu.
    gated = SaslGatedTansu(tmp_path / "gate", PASSWORD, advertised_port=tls_port)
    haproxy = None
    try:
        haproxy = HAProxy(tmp_path, pki, {"sasl_tls": (tls_port, gated.gate_port, "server.pem", "")})
        yield pki, gated, haproxy, "%s:%d" % (HOST, tls_port)
    finally:
        if haproxy is not None:
            haproxy.stop()
        gated.stop()


def test_scram_over_tls_produce_consume(sasl_ssl_world, tls_proxy, tmp_path):
    pki, gated, haproxy, tls_addr = sasl_ssl_world
    # The harness creates the topic as a SASL_SSL client of HAProxy itself.
    topic = unique("sasltls")
    from confluent_kafka.admin import NewTopic
    a = admin(tls_addr, **{"security.protocol": "SASL_SSL", "ssl.ca.location": pki.path("ca.crt"),
                           "sasl.mechanism": "PLAIN", "sasl.username": ADMIN_USER, "sasl.password": ADMIN_PASSWORD})
    a.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)],
                    operation_timeout=15, request_timeout=15)[topic].result(timeout=15)
    wait_topic(a, topic, 1, 15)

    pwfile = tmp_path / "password"
    write_secret(pwfile, PASSWORD)
    clusters = cluster_yaml("primary", tls_addr, {"caFile": pki.path("ca.crt")})
    clusters += "    sasl:\n      mechanism: SCRAM-SHA-512\n      username: %s\n      passwordFile: %s\n" % (GATE_USER, pwfile)
    p = tls_proxy(clusters)

    n = 20
    produce_confluent(p.bootstrap, topic, n=n)
    got = read_all(p.bootstrap, topic, n)
    assert sorted(got) == sorted(b"v-%d" % i for i in range(n))

    ok = [e for e in gated.auths() if e["mechanism"] == "SCRAM-SHA-512"]
    assert ok, "the gate saw no successful SCRAM-SHA-512 login as %s: %s" % (GATE_USER, gated.events("auth"))
    assert not gated.auths(ok=False), gated.auths(ok=False)
    assert not gated.events("unauthenticated_request"), "client bytes reached the broker before the SASL login"
    # Every connection the gate saw came through HAProxy's TLS frontend (the gate listens only
    # behind it), and HAProxy logged the proxy's connections on that frontend.
    # HAProxy's TLS frontend ("~" = SSL) accepted at least one connection per gate login.
    tls_conns = haproxy.log().count("conn sasl_tls~")
    assert tls_conns >= len(gated.auths(user=None)), (tls_conns, gated.events("auth"), haproxy.log())
    log = p.log()
    assert "cluster primary TLS" in log, log[-3000:]
    assert "SASL SCRAM-SHA-512 login to cluster primary broker %s succeeded" % tls_addr in log, log[-3000:]
    assert PASSWORD not in log + p.get("/status")[1] + p.metrics()
