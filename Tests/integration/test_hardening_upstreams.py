"""Bad upstreams (issue 7): a broker killed mid-request, one that accepts and never answers, one
that answers garbage, refused connections, a bootstrap name that does not resolve. Each gives
the client a clean disconnect, a log line with the cause and a metric, and the proxy recovers
when the broker does. The broker is a small Python server (FakeBroker) that either forwards to
a real Tansu broker (healthy) or misbehaves in the way the test sets."""

import contextlib
import os
import re
import socket
import struct
import threading
import time

import pytest

from failover_support import wait_until
from hardening_support import (Baseline, FakeBroker, connect, hardened_proxy, needs_proxy,  # noqa: F401
                               read_request, round_trip_api_versions, watch_end, api_versions_frame)
from helpers import produce_confluent, unique

pytestmark = [needs_proxy]


class Switchable:
    """A fake broker whose behaviour the test switches: forward (to Tansu), close, reset,
    silent, garbage, wrong_correlation."""

    def __init__(self, tansu, mode="forward", port=None):
        self.tansu = tansu
        self.mode = mode
        self.broker = FakeBroker(self._handle, port=port)
        self.address = self.broker.address
        self.port = self.broker.port

    def _handle(self, c):
        mode = self.mode
        if mode == "forward":
            return self._forward(c)
        while True:
            key, version, cid, payload = read_request(c)
            if mode == "close":                    # killed mid-request: FIN with the request unanswered
                c.close()
                return
            if mode == "reset":                    # killed mid-request with unread data: RST
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
                return
            if mode == "silent":                   # accepts, reads, never answers
                continue
            if mode == "garbage":
                # A size no response can have (negative, or over 2 GB): random sizes below the limit
                # would leave the proxy waiting for a frame that never completes.
                c.sendall(bytes([0x7f | (os.urandom(1)[0] & 0x80)]) + os.urandom(2) + b"\xff" + os.urandom(200))
                continue
            if mode == "wrong_correlation":
                body = struct.pack(">ih", cid + 1000, 0) + struct.pack(">i", 0)
                c.sendall(struct.pack(">i", len(body)) + body)
                continue

    def _forward(self, c):
        host, port = self.tansu.bootstrap.rsplit(":", 1)
        up = socket.create_connection((host, int(port)), timeout=5)
        up.settimeout(None)

        def pump(a, b):
            with contextlib.suppress(OSError):
                while True:
                    data = a.recv(65536)
                    if not data:
                        break
                    b.sendall(data)
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

        t = threading.Thread(target=pump, args=(up, c), daemon=True)
        t.start()
        pump(c, up)
        t.join(5)
        up.close()

    def stop(self):
        self.broker.stop()


@pytest.fixture
def switchable(tansu):
    made = []

    def make(mode="forward", port=None):
        s = Switchable(tansu, mode, port)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def client_sees_disconnect(p, timeout=15):
    s = connect(p.host_port)
    try:
        s.sendall(api_versions_frame(7))
        return watch_end(s, timeout)
    finally:
        s.close()


def assert_recovers(p, topic_cluster):
    """Raw ApiVersions and a real producer work again through the proxy."""
    wait_until(lambda: round_trip_api_versions(p.host_port), 20, "ApiVersions through the proxy again")
    topic = unique("recover")
    topic_cluster.create_topic(topic)
    produce_confluent(p.bootstrap, topic, n=10, acks="all")


def metric_delta(p, before, name, **labels):
    return p.metric(name, **labels) - before


ERROR_REASONS = ("broker_closed", "broker_io_error", "correlation_mismatch", "undecodable_response",
                 "invalid_frame_size", "frame_too_large", "unexpected_response", "request_timeout",
                 "broker_timeout", "idle_timeout", "upstream_unreachable", "upstream_connect_timeout")


def all_errors(p):
    return {r: p.errors(r) for r in ERROR_REASONS}


# --------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["close", "reset"])
def test_broker_killed_mid_request(tansu, hardened_proxy, switchable, how):
    fake = switchable("forward")
    p = hardened_proxy(fake.address)
    base = Baseline(p)
    fake.mode = how
    errors_before = all_errors(p)
    results = [client_sees_disconnect(p) for _ in range(3)]
    for end, got, _ in results:
        assert end in ("eof", "rst") and got == 0, results
    grew = {r: v - errors_before[r] for r, v in all_errors(p).items() if v > errors_before[r]}
    assert grew, ("a broker that died with a request outstanding (%s) left no kafka_proxy_errors_total: %s"
                  % ("FIN" if how == "close" else "RST", errors_before))
    log = p.log_text()
    assert re.search(r"broker .*(closed the connection|socket error|disconnected).*outstanding|responses outstanding|"
                     r"broker .*(reset|ECONNRESET|Connection reset)", log), \
        "no log line naming the broker failure:\n" + log[-3000:]
    fake.mode = "forward"
    assert_recovers(p, tansu)
    base.assert_back(what="broker killed mid-request")


@pytest.mark.timeout(120)
def test_broker_accepts_and_never_answers(tansu, hardened_proxy, switchable):
    fake = switchable("forward")
    p = hardened_proxy(fake.address, limits={"idleTimeoutSeconds": 4})
    base = Baseline(p)
    fake.mode = "silent"
    errors_before = all_errors(p)
    end, got, after = client_sees_disconnect(p, timeout=20)
    assert end in ("eof", "rst") and got == 0, \
        "a client whose broker never answers was not disconnected within 20s: %s" % ((end, got, after),)
    grew = [r for r, v in all_errors(p).items() if v > errors_before[r]]
    assert grew, "no kafka_proxy_errors_total for an unanswered request"
    # The log line must say what happened: the broker did not answer a request, not "idle".
    log = p.log_text()
    assert re.search(r"(did not answer|no answer|not answered|timed out|outstanding)", log), \
        ("the disconnect of a client whose broker never answered is logged without the cause "
         "(reasons counted: %s):\n%s" % (grew, log[-2000:]))
    fake.mode = "forward"
    assert_recovers(p, tansu)
    base.assert_back(what="a broker that never answers")


@pytest.mark.parametrize("mode,reasons", [
    ("garbage", ("invalid_frame_size", "frame_too_large", "correlation_mismatch", "undecodable_response")),
    ("wrong_correlation", ("correlation_mismatch",)),
])
def test_broker_answers_garbage(tansu, hardened_proxy, switchable, mode, reasons):
    fake = switchable("forward")
    p = hardened_proxy(fake.address)
    base = Baseline(p)
    fake.mode = mode
    before = {r: p.errors(r) for r in reasons}
    results = [client_sees_disconnect(p) for _ in range(3)]
    for end, got, _ in results:
        assert end in ("eof", "rst"), results
        assert got == 0, "garbage from the broker reached the client: %s" % (results,)
    assert sum(p.errors(r) - before[r] for r in reasons) >= 3, p.metrics()
    p.wait_log(r"broker .* sent a bad response", count=3)
    fake.mode = "forward"
    assert_recovers(p, tansu)
    base.assert_back(what="garbage from the broker")


def test_refused_connections(tansu, hardened_proxy, switchable):
    from conftest import free_port
    port = free_port()
    p = hardened_proxy("127.0.0.1:%d" % port, wait_ready=False)
    wait_until(lambda: p.get("/healthz")[0] == 200, 15, "/healthz")
    before = p.metric("kafka_proxy_upstream_connect_failures_total")
    end, got, _ = client_sees_disconnect(p, timeout=15)
    assert end in ("eof", "rst") and got == 0, (end, got)
    assert p.metric("kafka_proxy_upstream_connect_failures_total") >= before + 1
    p.wait_log(r"cannot connect to .*(refused|ECONNREFUSED|Connection refused)")
    status, body = p.get("/readyz")
    assert status == 503, (status, body)
    # the broker comes up on that port: the proxy recovers
    switchable("forward", port=port)
    wait_until(lambda: p.get("/readyz")[0] == 200, 30, "/readyz 200 once the broker listens")
    assert_recovers(p, tansu)


def test_bootstrap_name_does_not_resolve(tansu, hardened_proxy):
    p = hardened_proxy("no-such-broker.invalid:9092", wait_ready=False)
    wait_until(lambda: p.get("/healthz")[0] == 200, 15, "/healthz")
    before = p.metric("kafka_proxy_upstream_connect_failures_total")
    end, got, _ = client_sees_disconnect(p, timeout=15)
    assert end in ("eof", "rst") and got == 0, (end, got)
    assert p.metric("kafka_proxy_upstream_connect_failures_total") >= before + 1
    p.wait_log(r"cannot reach .*no-such-broker\.invalid")
    # the name "comes back": the config points at a resolvable broker (hot reload), the proxy recovers
    with open(p.config_path) as f:
        text = f.read()
    with open(p.config_path + ".tmp", "w") as f:
        f.write(text.replace("no-such-broker.invalid:9092", tansu.bootstrap))
    os.rename(p.config_path + ".tmp", p.config_path)
    wait_until(lambda: p.get("/readyz")[0] == 200, 30, "/readyz 200 after the name resolves")
    assert_recovers(p, tansu)
