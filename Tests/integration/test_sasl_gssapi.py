"""GSSAPI (Kerberos) to the upstream cluster (issue 5): a local MIT KDC started by the test,
the SASL gate verifying with Cyrus libsasl2's server side (gssapiv2 plugin, the service
keytab through KRB5_KTNAME), and the proxy logging in as app@REALM from a client keytab."""

import os

import pytest

from helpers import produce_confluent, read_all, unique
from krb5_support import KDC
from sasl_support import sasl_proxy  # noqa: F401 (fixture)
from sasl_support import SaslGatedTansu

PASSWORD = "unused-by-gssapi"
GSSAPI_PLUGIN_DIRS = ["/usr/lib/x86_64-linux-gnu/sasl2", "/usr/lib/aarch64-linux-gnu/sasl2", "/usr/lib/sasl2"]


def gssapi_plugin_present():
    return any(os.path.exists(os.path.join(d, "libgssapiv2.so.2")) for d in GSSAPI_PLUGIN_DIRS)


@pytest.fixture
def kerberos(tmp_path, monkeypatch):
    if not gssapi_plugin_present():
        pytest.fail("libsasl2-modules-gssapi-mit not installed: run scripts/install-test-deps")
    kdc = KDC(tmp_path / "kdc")
    try:
        service_keytab = kdc.path("kafka.keytab")
        app_keytab = kdc.path("app.keytab")
        kdc.principal("kafka/127.0.0.1", service_keytab)
        app = kdc.principal("app", app_keytab)
        # The proxy (started by the fixtures with this process's environment) finds the realm
        # through KRB5_CONFIG; its ticket cache stays in the temp directory.
        monkeypatch.setenv("KRB5_CONFIG", kdc.krb5_conf)
        monkeypatch.setenv("KRB5CCNAME", "FILE:" + kdc.path("proxy.ccache"))
        monkeypatch.delenv("KRB5_CLIENT_KTNAME", raising=False)
        yield kdc, app, app_keytab, service_keytab
    finally:
        kdc.stop()


@pytest.fixture
def gssapi_cluster(tmp_path, kerberos):
    kdc, app, app_keytab, service_keytab = kerberos
    # PLAIN stays enabled for the harness's own topic creation (admin user).
    env = kdc.env(KRB5_KTNAME="FILE:" + service_keytab, KRB5CCNAME="FILE:" + kdc.path("gate.ccache"))
    c = SaslGatedTansu(tmp_path / "gate", PASSWORD, gate_env=env,
                       gate_args=("--mechanisms", "GSSAPI,PLAIN", "--gssapi-service", "kafka",
                                  "--gssapi-host", "127.0.0.1"))
    yield c
    c.stop()


def test_gssapi_produce_consume_through_proxy(kerberos, gssapi_cluster, sasl_proxy):
    kdc, app, app_keytab, _ = kerberos
    cluster = gssapi_cluster
    p = sasl_proxy(cluster, ["mechanism: GSSAPI", "principal: %s" % app, "keytabFile: %s" % app_keytab,
                             "serviceName: kafka"])
    p.require_proxy()
    topic = unique("gssapi")
    cluster.create_topic(topic, 1)
    n = 20
    produce_confluent(p.bootstrap, topic, n=n)
    got = read_all(p.bootstrap, topic, n)
    assert sorted(got) == sorted(b"v-%d" % i for i in range(n))

    ok = [e for e in cluster.auths(user=None) if e["mechanism"] == "GSSAPI"]
    assert ok, "the gate saw no successful GSSAPI login: %s" % cluster.events("auth")
    assert all(e["user"] in ("app", app) for e in ok), ok
    assert not [e for e in cluster.auths(ok=False, user=None)], cluster.events("auth")
    assert not cluster.events("unauthenticated_request"), "client bytes reached the broker before the SASL login"
    # The KDC issued the service ticket for kafka/127.0.0.1 to app.
    events = kdc.events()
    assert "TGS_REQ" in events and "kafka/127.0.0.1@%s" % kdc.realm in events, events[-3000:]


def test_gssapi_rejected_by_gate_with_clear_log(kerberos, gssapi_cluster, sasl_proxy):
    """The service key changes after the gate's keytab was exported: the gate (Cyrus) cannot
    decrypt the proxy's ticket and rejects the login; the proxy says so and is not ready."""
    import time
    from confluent_kafka import KafkaException
    from helpers import admin
    kdc, app, app_keytab, _ = kerberos
    kdc.kadmin("cpw -randkey kafka/127.0.0.1@%s" % kdc.realm)
    cluster = gssapi_cluster
    p = sasl_proxy(cluster, ["mechanism: GSSAPI", "principal: %s" % app, "keytabFile: %s" % app_keytab,
                             "serviceName: kafka"], wait_ready=False)
    p.require_proxy()
    with pytest.raises(KafkaException):
        admin(p.bootstrap).list_topics(timeout=8)
    failed = [e for e in cluster.auths(ok=False, user=None) if e["mechanism"] == "GSSAPI"]
    assert failed, "the gate did not reject the GSSAPI login: %s" % cluster.events("auth")
    assert not [e for e in cluster.auths(user=None) if e["mechanism"] == "GSSAPI"]
    assert not cluster.events("unauthenticated_request")
    deadline = time.time() + 15
    line = None
    while time.time() < deadline and line is None:
        line = next((l for l in p.log_text().splitlines() if "GSSAPI" in l and "primary" in l
                     and ("fail" in l.lower() or "error" in l.lower())), None)
        time.sleep(0.2)
    assert line, "no log line naming the cluster and GSSAPI failure:\n" + p.log_text()[-3000:]
    assert "gss_accept_sec_context" in line, line   # the broker's (gate's) message is relayed
    status, body = p.get("/readyz")
    assert status == 503, (status, body)
