"""A KDC that stops answering must not freeze the proxy's event loops.

For GSSAPI, libsasl2 calls into Kerberos, which asks the KDC for tickets synchronously: a login
whose KDC black-holes its packets blocks for as long as Kerberos retries (about 18 s here). The
proxy runs login steps on threads of their own (LoginDriver), so while such logins wait, the
other connections of the same loops keep relaying, and the logins fail at the connect timeout
with a log line saying what they waited for.

Set-up (one proxy, one cluster: a proxy relays to one active cluster, and a cluster is either
SASL or not): the MIT KDC runs in a network namespace of the test's own, reached over a veth
pair (10.x addresses, nothing leaves this machine). A GSSAPI cluster (Tansu behind the SASL
gate, as in test_sasl_gssapi.py) is active. A confluent-kafka producer (acks=all) connects and
logs in while the KDC answers; its connections then relay without Kerberos. Then the KDC's
packets are dropped (a zero-length pfifo on its side of the veth: netem and iptables are not
available everywhere) and the proxy's ticket cache is removed, so every new login must ask the
KDC. New client connections start logins that hang in Kerberos; there are twice as many as the
proxy has loops (one per core, connections placed round-robin), so every loop, including the
producer's, has one. The producer's acknowledgements must keep coming: no gap over 100 ms (on
a busy machine, over twice the longest gap measured just before with the KDC healthy, at most
1 s; a blocked loop stops them for 10 s and more). And every hanging login must fail at the connect timeout, counted as reason "timeout"."""

import os
import random
import socket
import threading
import time

import pytest

from conftest import _tail
from krb5_support import KDC
from netns_support import netns  # noqa: F401 (fixture)
from sasl_support import sasl_proxy  # noqa: F401 (fixture)
from sasl_support import SaslGatedTansu
from test_sasl_gssapi import PASSWORD, gssapi_plugin_present

CONNECT_TIMEOUT_S = 10      # ProxyContext.connectTimeoutSeconds
# A login that blocked a loop would stop its connections for the KDC's timeout (seconds); a busy
# machine alone has shown 109 ms with a 16 ms calm baseline, so the floor sits well above that.
MAX_ACK_GAP_S = 0.300
MAX_LOADED_GAP_S = 1.0      # what a busy machine may add, at most (a blocked loop: 10 s and more)
BASELINE_S = 4
PRODUCE_EVERY_S = 0.010


@pytest.fixture
def far_kerberos(tmp_path, monkeypatch, netns):
    if not gssapi_plugin_present():
        pytest.fail("libsasl2-modules-gssapi-mit not installed: run scripts/install-test-deps")
    kdc = KDC(tmp_path / "kdc", host=netns.ns_addr, launch=netns.prefix)
    try:
        service_keytab = kdc.path("kafka.keytab")
        app_keytab = kdc.path("app.keytab")
        kdc.principal("kafka/127.0.0.1", service_keytab)
        app = kdc.principal("app", app_keytab)
        ccache = kdc.path("proxy.ccache")   # fresh: nothing cached before the proxy's first login
        monkeypatch.setenv("KRB5_CONFIG", kdc.krb5_conf)
        monkeypatch.setenv("KRB5CCNAME", "FILE:" + ccache)
        monkeypatch.delenv("KRB5_CLIENT_KTNAME", raising=False)
        yield kdc, app, app_keytab, service_keytab, ccache
    finally:
        kdc.stop()


@pytest.fixture
def gssapi_cluster(tmp_path, far_kerberos):
    kdc, _, _, service_keytab, _ = far_kerberos
    env = kdc.env(KRB5_KTNAME="FILE:" + service_keytab, KRB5CCNAME="FILE:" + kdc.path("gate.ccache"))
    c = SaslGatedTansu(tmp_path / "gate", PASSWORD, gate_env=env,
                       gate_args=("--mechanisms", "GSSAPI,PLAIN", "--gssapi-service", "kafka",
                                  "--gssapi-host", "127.0.0.1"))
    yield c
    c.stop()


class SteadyProducer:
    """Produces one record every PRODUCE_EVERY_S (acks=all) and notes when each ack arrives."""

    def __init__(self, bootstrap, topic):
        from confluent_kafka import Producer
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
                                  "enable.idempotence": False, "socket.nagle.disable": True})
        self.topic = topic
        self.acks, self.errors = [], []
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _delivered(self, err, msg):
        if err is not None:
            self.errors.append(err)
        else:
            self.acks.append(time.monotonic())

    def _run(self):
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.producer.produce(self.topic, value=b"v-%d" % self.sent, on_delivery=self._delivered)
            self.sent += 1
            next_at += PRODUCE_EVERY_S
            while True:
                left = next_at - time.monotonic()
                self.producer.poll(max(0.0, min(left, 0.005)))
                if left <= 0:
                    break

    def stop(self):
        if self._stop.is_set():
            return 0
        self._stop.set()
        self._thread.join(10)
        return self.producer.flush(30)

    def max_gap(self, start, end):
        """The longest time without an ack within [start, end], the edges included."""
        times = [start] + [t for t in list(self.acks) if start < t < end] + [end]
        gaps = [(b - a, a - start) for a, b in zip(times, times[1:])]
        return max(gaps)


def _metric(text, name, **labels):
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all('%s="%s"' % kv in line for kv in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.timeout(150)
def test_black_holed_kdc_does_not_stall_other_connections(far_kerberos, gssapi_cluster, sasl_proxy, netns):
    kdc, app, app_keytab, _, ccache = far_kerberos
    cluster = gssapi_cluster
    p = sasl_proxy(cluster, ["mechanism: GSSAPI", "principal: %s" % app, "keytabFile: %s" % app_keytab,
                             "serviceName: kafka"])
    p.require_proxy()
    topic = "kdc-unreachable-%d" % random.randrange(1 << 30)
    cluster.create_topic(topic, 1)

    # The producer's connections log in while the KDC answers.
    producer = SteadyProducer(p.bootstrap, topic)
    try:
        _stall_logins(p, kdc, ccache, netns, producer, cluster)
    finally:
        producer.stop()


def _stall_logins(p, kdc, ccache, netns, producer, cluster):
    deadline = time.time() + 20
    while len(producer.acks) < 100 and time.time() < deadline:
        time.sleep(0.05)
    assert len(producer.acks) >= 100, "the producer got %d acks through the proxy: %s" % (
        len(producer.acks), producer.errors[:3])
    assert "TGS_REQ" in kdc.events(), "the proxy did not get its service ticket from the KDC"
    # What this machine manages without any login in the way: on a loaded machine (CI shares its
    # cores) a producer sees gaps over 100 ms now and then. A blocked loop makes a gap of seconds.
    calm_start = time.monotonic()
    time.sleep(BASELINE_S)
    calm_gap, _ = producer.max_gap(calm_start, time.monotonic())
    allowed = min(MAX_LOADED_GAP_S, max(MAX_ACK_GAP_S, 2 * calm_gap))

    netns.drop_everything()
    os.remove(ccache)   # no ticket left: every new login must ask the KDC

    loops = os.sysconf("SC_NPROCESSORS_ONLN")
    hanging = []
    stall_start = time.monotonic()
    for _ in range(2 * max(1, loops)):
        s = socket.create_connection((p.bootstrap.split(":")[0], int(p.bootstrap.split(":")[1])), timeout=5)
        hanging.append(s)

    # The logins hang in Kerberos; each is closed at the connect timeout.
    closed_at = {}
    end = stall_start + CONNECT_TIMEOUT_S + 4
    for s in hanging:
        s.setblocking(False)
    while time.monotonic() < end and len(closed_at) < len(hanging):
        for i, s in enumerate(hanging):
            if i in closed_at:
                continue
            try:
                if s.recv(1) == b"":
                    closed_at[i] = time.monotonic() - stall_start
            except BlockingIOError:
                pass
            except OSError:
                closed_at[i] = time.monotonic() - stall_start
        time.sleep(0.05)
    stall_end = time.monotonic()
    for s in hanging:
        s.close()

    gap, at = producer.max_gap(stall_start, stall_end)
    acks_during = len([t for t in producer.acks if stall_start < t < stall_end])
    left = producer.stop()
    print("longest ack gap: %.0f ms while logins hung (at %.1f s), %.0f ms before; allowed %.0f ms"
          % (gap * 1000, at, calm_gap * 1000, allowed * 1000))
    assert netns.dropped() > 0, "no packet towards the KDC was dropped: the logins never asked it"
    assert gap <= allowed, (
        "the producer got no acknowledgement for %.0f ms (from %.1f s after the logins started; %d acks "
        "in %.1f s) while GSSAPI logins waited for the black-holed KDC: the loops were blocked "
        "(allowed %.0f ms; longest gap before the KDC went away: %.0f ms)"
        % (gap * 1000, at, acks_during, stall_end - stall_start, allowed * 1000, calm_gap * 1000))
    assert left == 0 and not producer.errors, (left, producer.errors[:3])

    assert len(closed_at) == len(hanging), "connections still open %.1f s after their logins started: %s" % (
        stall_end - stall_start, sorted(closed_at.values()))
    assert all(CONNECT_TIMEOUT_S - 1 <= t <= CONNECT_TIMEOUT_S + 3 for t in closed_at.values()), sorted(closed_at.values())

    log = p.log_text()
    lines = [l for l in log.splitlines() if "SASL GSSAPI login to cluster primary" in l
             and "did not finish within %ds" % CONNECT_TIMEOUT_S in l]
    assert len(lines) >= len(hanging), "expected %d timed-out logins in the log:\n%s" % (len(hanging), log[-4000:])
    # Each says what it waited for: Kerberos, or (more logins than login threads) a free thread.
    assert all("for the GSSAPI mechanism (Kerberos" in l or "login threads, all busy" in l for l in lines), lines
    assert any("for the GSSAPI mechanism (Kerberos" in l for l in lines), lines
    failures = _metric(p.metrics(), "kafka_proxy_sasl_authentication_failures_total",
                       cluster="primary", mechanism="GSSAPI", reason="timeout")
    assert failures >= len(hanging), (failures, [l for l in p.metrics().splitlines() if "sasl" in l])
    assert not cluster.events("unauthenticated_request")
