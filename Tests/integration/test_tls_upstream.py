"""The proxy dialling TLS clusters: HAProxy terminates TLS in front of Tansu."""

import shutil

from confluent_kafka import Consumer

from helpers import admin_create_topic, produce_confluent, read_all, unique
from tls_support import cluster_yaml, tls_proxy, tls_world  # noqa: F401 (fixtures)


def produce_and_group_consume(bootstrap, n=20):
    topic = unique("tls")
    admin_create_topic(bootstrap, topic, 1)
    produce_confluent(bootstrap, topic, n=n)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("g"), "auto.offset.reset": "earliest",
                  "enable.auto.commit": True})
    c.subscribe([topic])
    got = []
    import time
    deadline = time.time() + 40
    while len(got) < n and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.commit(asynchronous=False)
    c.close()
    assert sorted(got) == sorted(b"v-%d" % i for i in range(n))


def test_tls_produce_and_group_consume(tls_world, tls_proxy):
    p = tls_proxy(cluster_yaml("primary", tls_world.addr("tls"), {"caFile": tls_world.pki.path("ca.crt")}))
    produce_and_group_consume(p.bootstrap)
    assert "TLS" in p.log()


def test_mtls(tls_world, tls_proxy):
    pki = tls_world.pki
    p = tls_proxy(cluster_yaml("primary", tls_world.addr("mtls"), {
        "caFile": pki.path("ca.crt"), "certFile": pki.path("client.crt"), "keyFile": pki.path("client.key")}))
    produce_and_group_consume(p.bootstrap)
    assert "cn=proxy-client-1" in tls_world.haproxy.log()


def test_mtls_without_client_certificate_fails_with_message(tls_world, tls_proxy):
    p = tls_proxy(cluster_yaml("primary", tls_world.addr("mtls"), {"caFile": tls_world.pki.path("ca.crt")}),
                  wait_ready=False)
    assert p.wait_log("set tls.certFile and tls.keyFile") or p.wait_log("alert"), p.log()[-3000:]
    assert p.get("/healthz")[0] == 200


def expect_failure(tls_world, tls_proxy, frontend, tls, needle, reason):
    plain = tls_world.tansu  # the proxy keeps serving: a plain second cluster and the admin endpoint
    p = tls_proxy(cluster_yaml("primary", tls_world.addr(frontend), tls)
                  + cluster_yaml("plain", "127.0.0.1:%d" % plain.port), wait_ready=False)
    # A client connection makes a session dial the broker (the probe also does, every few seconds).
    from helpers import api_versions
    from conftest import wait_port
    assert wait_port("127.0.0.1", p.bootstrap_port, 10)
    try:
        api_versions("127.0.0.1", p.bootstrap_port, timeout=5)
    except Exception:
        pass
    assert p.wait_log(needle), p.log()[-4000:]
    assert "cluster primary" in p.log()
    assert p.get("/healthz")[0] == 200
    assert 'reason="%s"' % reason in p.metrics()
    assert p.proc.poll() is None


def test_wrong_ca(tls_world, tls_proxy):
    expect_failure(tls_world, tls_proxy, "foreign", {"caFile": tls_world.pki.path("ca.crt")},
                   "unknown CA: the broker's certificate CN=localhost, issued by CN=IT Other CA", "tls_unknown_ca")


def test_hostname_mismatch(tls_world, tls_proxy):
    expect_failure(tls_world, tls_proxy, "tls",
                   {"caFile": tls_world.pki.path("ca.crt"), "serverName": "kafka-a.example.com"},
                   "hostname mismatch: the broker's certificate CN=localhost is not valid for 'kafka-a.example.com'",
                   "tls_hostname_mismatch")


def test_expired_certificate(tls_world, tls_proxy):
    expect_failure(tls_world, tls_proxy, "expired", {"caFile": tls_world.pki.path("ca.crt")},
                   "the broker's certificate CN=expired.localhost expired at", "tls_certificate_expired")


def test_plain_broker_behind_tls_config(tls_world, tls_proxy):
    p = tls_proxy(cluster_yaml("primary", "127.0.0.1:%d" % tls_world.tansu.port,
                               {"caFile": tls_world.pki.path("ca.crt")}), wait_ready=False)
    from helpers import api_versions
    from conftest import wait_port
    assert wait_port("127.0.0.1", p.bootstrap_port, 10)
    try:
        api_versions("127.0.0.1", p.bootstrap_port, timeout=5)
    except Exception:
        pass
    assert p.wait_log("plain-TCP port", timeout=25), p.log()[-4000:]


def test_insecure_skip_verify_warns(tls_world, tls_proxy):
    p = tls_proxy(cluster_yaml("primary", tls_world.addr("foreign"), {"insecureSkipVerify": True}))
    assert "insecureSkipVerify is true" in p.log()
    produce_and_group_consume(p.bootstrap, n=5)


def test_client_certificate_rotation(tls_world, tls_proxy, tmp_path):
    pki = tls_world.pki
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(pki.path("client.crt"), live / "client.crt")
    shutil.copy(pki.path("client.key"), live / "client.key")
    p = tls_proxy(cluster_yaml("primary", tls_world.addr("mtls"), {
        "caFile": pki.path("ca.crt"), "certFile": str(live / "client.crt"), "keyFile": str(live / "client.key")}))
    produce_and_group_consume(p.bootstrap, n=5)
    # A broken rotation (certificate without its key) keeps the old material.
    shutil.copy(pki.path("client2.crt"), live / "client.crt")
    assert p.wait_log("keeping the previous material"), p.log()[-3000:]
    produce_and_group_consume(p.bootstrap, n=5)
    # Now the key too: new connections present the new certificate.
    before = tls_world.haproxy.log().count("cn=proxy-client-2")
    shutil.copy(pki.path("client2.key"), live / "client.key")
    assert p.wait_log("material changed"), p.log()[-3000:]
    produce_and_group_consume(p.bootstrap, n=5)
    assert tls_world.haproxy.log().count("cn=proxy-client-2") > before
