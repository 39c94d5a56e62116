"""SASL to the upstream cluster (issue 5): the proxy logs in to a SASL gate in front of
Tansu (saslgate.py, verifying with scramp / plain comparison / a fixed token), and
applications connect to the proxy without any credentials."""

import json
import time

import pytest
from confluent_kafka import KafkaException

from helpers import admin, produce_confluent, read_all, producer, unique
from sasl_support import GATE_USER, sasl_cluster, sasl_proxy, write_secret  # noqa: F401 (fixtures)

PASSWORD = "s3cret-Pa55word"


def produce_and_read(p, cluster, n=20):
    topic = unique("sasl")
    cluster.create_topic(topic, 1)
    conf = p.client_conf()
    produce_confluent(p.bootstrap, topic, n=n, **conf)
    got = read_all(p.bootstrap, topic, n, **conf)
    assert sorted(got) == sorted(b"v-%d" % i for i in range(n))


def assert_no_secret_leak(p, *secrets):
    if getattr(p, "direct", False):
        return
    text = p.log_text() + p.get("/status")[1] + p.metrics()
    for s in secrets:
        assert s not in text, "a secret appears in the proxy's log, /status or /metrics"


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_produce_consume_through_proxy(sasl_cluster, sasl_proxy, tmp_path, mechanism):
    cluster = sasl_cluster(PASSWORD)
    pwfile = tmp_path / "password"
    write_secret(pwfile, PASSWORD)
    p = sasl_proxy(cluster, ["mechanism: %s" % mechanism, "username: %s" % GATE_USER, "passwordFile: %s" % pwfile],
                   direct_sasl={"mechanism": mechanism, "username": GATE_USER, "password": PASSWORD})
    produce_and_read(p, cluster)
    ok = [e for e in cluster.auths() if e["mechanism"] == mechanism]
    assert ok, "the gate saw no successful %s login as %s: %s" % (mechanism, GATE_USER, cluster.events("auth"))
    assert not cluster.events("unauthenticated_request"), "client bytes reached the broker before the SASL login"
    assert not cluster.auths(ok=False)
    assert_no_secret_leak(p, PASSWORD)
    assert_probe_learned_api_versions(p)


def assert_probe_learned_api_versions(p):
    """The probe of a SASL cluster learns its ApiVersions ranges from the login's own request."""
    if getattr(p, "direct", False):
        return
    deadline = time.time() + 10
    while True:
        clusters = json.loads(p.get("/status")[1])["clusters"]
        if all(c.get("apiVersionsKnown") for c in clusters) or time.time() > deadline:
            break
        time.sleep(0.2)
    assert all(c.get("apiVersionsKnown") for c in clusters), clusters


def test_wrong_password_rejected_with_clear_log(sasl_cluster, sasl_proxy, tmp_path):
    cluster = sasl_cluster(PASSWORD)
    pwfile = tmp_path / "password"
    write_secret(pwfile, "not-the-password-42")
    p = sasl_proxy(cluster, ["mechanism: SCRAM-SHA-512", "username: %s" % GATE_USER, "passwordFile: %s" % pwfile],
                   direct_sasl={"mechanism": "SCRAM-SHA-512", "username": GATE_USER, "password": "not-the-password-42"},
                   wait_ready=False)
    p.require_proxy()
    with pytest.raises(KafkaException):
        admin(p.bootstrap).list_topics(timeout=8)
    assert cluster.auths(ok=False), "the gate saw no failed login"
    assert not cluster.auths(ok=True)
    assert not cluster.events("unauthenticated_request")
    deadline = time.time() + 15
    while time.time() < deadline:
        log = p.log_text()
        if "SCRAM-SHA-512" in log and "Invalid user credentials" in log:
            break
        time.sleep(0.2)
    log = p.log_text()
    line = next((l for l in log.splitlines() if "SCRAM-SHA-512" in l and "Invalid user credentials" in l), None)
    assert line, "no log line naming the mechanism and the broker's message:\n" + log[-3000:]
    assert "primary" in line, line
    status, body = p.get("/readyz")
    assert status == 503, (status, body)
    assert "sasl" in body.lower() or "authentication" in body.lower(), body
    metrics = p.metrics()
    assert "kafka_proxy_sasl_authentication_failures_total" in metrics, metrics
    assert_no_secret_leak(p, "not-the-password-42")


def test_password_file_rotation(sasl_cluster, sasl_proxy, tmp_path):
    cluster = sasl_cluster(PASSWORD)
    pwfile = tmp_path / "password"
    write_secret(pwfile, PASSWORD)
    p = sasl_proxy(cluster, ["mechanism: SCRAM-SHA-256", "username: %s" % GATE_USER, "passwordFile: %s" % pwfile],
                   direct_sasl={"mechanism": "SCRAM-SHA-256", "username": GATE_USER, "password": PASSWORD})
    p.require_proxy()
    produce_and_read(p, cluster)
    new = "rotated-Pa55word-2"
    cluster.command("passwd %s %s" % (GATE_USER, new))
    write_secret(pwfile, new)
    before = len(cluster.auths())
    produce_and_read(p, cluster)       # new client connections -> new upstream connections and logins
    after = cluster.auths()[before:]
    assert after, "no login after the rotation"
    assert not cluster.auths(ok=False), "a login used the old password: %s" % cluster.auths(ok=False)
    assert_no_secret_leak(p, PASSWORD, new)


def test_oauthbearer_token_file(sasl_cluster, sasl_proxy, tmp_path):
    token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhcHAifQ.first"
    cluster = sasl_cluster(PASSWORD, token=token)
    tokfile = tmp_path / "token"
    write_secret(tokfile, token)
    p = sasl_proxy(cluster, ["mechanism: OAUTHBEARER", "tokenFile: %s" % tokfile],
                   direct_sasl={"mechanism": "OAUTHBEARER"})
    p.require_proxy()
    produce_and_read(p, cluster)
    assert [e for e in cluster.auths(user="token") if e["mechanism"] == "OAUTHBEARER"]
    second = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhcHAifQ.second"
    cluster.command("token " + second)
    write_secret(tokfile, second)
    produce_and_read(p, cluster)
    assert not cluster.auths(ok=False, user=None), cluster.auths(ok=False, user=None)
    assert_no_secret_leak(p, token, second)


@pytest.mark.timeout(120)
def test_reauthentication_before_session_expiry(sasl_cluster, sasl_proxy, tmp_path):
    """Session lifetime 3 s: over ~11 s of steady traffic on one producer the proxy must
    log in again on the same upstream connection at least twice; the gate closes any
    connection that sends a request after its session expired."""
    cluster = sasl_cluster(PASSWORD, lifetime_ms=3000)
    pwfile = tmp_path / "password"
    write_secret(pwfile, PASSWORD)
    p = sasl_proxy(cluster, ["mechanism: SCRAM-SHA-256", "username: %s" % GATE_USER, "passwordFile: %s" % pwfile],
                   direct_sasl={"mechanism": "SCRAM-SHA-256", "username": GATE_USER, "password": PASSWORD})
    topic = unique("reauth")
    cluster.create_topic(topic, 1)
    prod = producer(p.bootstrap, **p.client_conf())
    errors, delivered = [], []

    def dr(err, msg):
        (errors if err is not None else delivered).append(err or msg.offset())

    sent = 0
    end = time.time() + 11
    while time.time() < end:
        prod.produce(topic, value=b"r-%d" % sent, on_delivery=dr)
        sent += 1
        prod.poll(0.05)
    assert prod.flush(20) == 0
    assert not errors, errors[:5]
    assert len(delivered) == sent
    assert not cluster.events("expired"), "a session expired before re-authentication: %s" % cluster.events("expired")
    per_conn = {}
    for e in cluster.auths():
        per_conn[e["conn"]] = max(per_conn.get(e["conn"], 0), e["count"])
    assert max(per_conn.values()) >= 3, "no connection re-authenticated twice: %s" % per_conn


def test_client_starting_sasl_gets_an_error_not_a_hang(sasl_cluster, sasl_proxy, tmp_path):
    cluster = sasl_cluster(PASSWORD)
    pwfile = tmp_path / "password"
    write_secret(pwfile, PASSWORD)
    p = sasl_proxy(cluster, ["mechanism: PLAIN", "username: %s" % GATE_USER, "passwordFile: %s" % pwfile])
    p.require_proxy()
    conf = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
            "sasl.username": "someone", "sasl.password": "whatever"}
    errors = []
    a = admin(p.bootstrap, error_cb=lambda e: errors.append(e), **conf)
    start = time.time()
    with pytest.raises(KafkaException):
        a.list_topics(timeout=6)
    a.poll(1)   # error_cb runs only while the client is polled (list_topics does not serve it)
    assert errors, "the client got no error callback"
    text = " ".join(str(e) for e in errors)
    assert "mechanism" in text.lower() or "sasl" in text.lower(), text
    assert time.time() - start < 10
