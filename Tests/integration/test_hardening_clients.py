"""Bad clients over the network (issue 7), each while a real confluent-kafka producer keeps
producing through the same proxy without a delivery error; limits enforced; and after every
scenario the proxy's open descriptors and RSS (/proc/<pid>) return near their baseline."""

import random
import re
import socket
import struct
import threading
import time

import pytest

from hardening_support import (Baseline, BackgroundProducer, connect, fetch_v4_frame, hardened_proxy,  # noqa: F401
                               needs_proxy, proc_fds, proc_rss_kb, round_trip_api_versions, send_and_watch,
                               watch_end)
from helpers import read_all, unique

pytestmark = [needs_proxy]


def tls_client_hello():
    """A TLS 1.2/1.3 ClientHello record as a client with security.protocol=SSL would open with."""
    body = b"\x03\x03" + bytes(range(32)) + b"\x20" + bytes(32) + b"\x00\x04\x13\x01\xc0\x2f\x01\x00"
    ext = b"\x00\x00\x00\x0e\x00\x0c\x00\x00\x09localhost"          # server_name
    body += struct.pack(">H", len(ext)) + ext
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


def header(api_key=18, version=0, cid=1):
    return struct.pack(">hhih", api_key, version, cid, 2) + b"hc"


# (payload, who ends it, errors_total reason expected or None, log fragment expected or None)
BAD_INPUTS = {
    "size_2gb": (struct.pack(">I", 0x80000000) + header(), "proxy", "invalid_frame_size", "request size -2147483648"),
    "size_2gb_minus_1": (struct.pack(">i", 0x7FFFFFFF) + header() + b"\0" * 4096, "proxy", "frame_too_large",
                         "exceeds limits.maxRequestBytes"),
    "negative_size_minus_1": (struct.pack(">i", -1) + header(), "proxy", "invalid_frame_size", "request size -1"),
    "negative_size_minus_100": (struct.pack(">i", -100), "proxy", "invalid_frame_size", "request size -100"),
    "size_below_header": (struct.pack(">i", 3) + b"abc", "proxy", "invalid_frame_size", "request size 3"),
    "unknown_api_key": (struct.pack(">i", 10) + struct.pack(">hhi", 31000, 0, 1), "proxy", "unknown_api_key", None),
    "tls_client_hello": (tls_client_hello(), "proxy", "tls_client_hello_on_plain_listener", "TLS handshake"),
}


@pytest.fixture(scope="module")
def topic(tansu):
    t = unique("harden")
    tansu.create_topic(t, partitions=2)
    return t


def scenario(hproxy, topic, body, what, reads=True):
    """Runs body() while a producer produces through hproxy; checks no delivery error, the
    producer progressed during the scenario, every acked record is readable, and fds/RSS
    return to the baseline."""
    prod = BackgroundProducer(hproxy.bootstrap, topic)
    time.sleep(0.5)
    base = Baseline(hproxy)
    try:
        before = prod.acked_now()
        result = body()
        prod.wait_progress(more=10)
        assert prod.acked_now() > before, "the producer stalled during %s" % what
    finally:
        sent = prod.stop()
    base.assert_back(what=what)
    if reads:
        got = read_all(hproxy.bootstrap, topic, expected=sent, timeout=20)
        assert len(got) >= sent, "read %d of %d acknowledged records" % (len(got), sent)
    return result, base


# --------------------------------------------------------------------------
# malformed input
# --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_malformed_input_closes_only_that_connection(tansu, hardened_proxy, topic, kind):
    payload, _, reason, log_fragment = BAD_INPUTS[kind]
    p = hardened_proxy(tansu)
    before = p.errors(reason)

    def body():
        return [send_and_watch(p.host_port, payload, timeout=10) for _ in range(5)]

    results, _ = scenario(p, topic, body, kind, reads=False)
    for how, got, _ in results:
        assert how in ("eof", "rst"), "%s: connection not closed by the proxy within 10s: %s" % (kind, results)
        assert got == 0, "%s: the client got %d bytes back" % (kind, got)
    assert p.errors(reason) >= before + 5, p.metrics()
    if log_fragment:
        p.wait_log(re.escape(log_fragment))


def test_random_bytes(tansu, hardened_proxy, topic):
    """Many connections of pure random bytes (fixed seeds): each one ends, none gets an answer
    from the proxy itself that is not a well-formed response, the producer never notices."""
    p = hardened_proxy(tansu)
    rng = random.Random(7)
    payloads = [bytes(rng.getrandbits(8) for _ in range(rng.choice([1, 3, 7, 64, 1000, 20000]))) for _ in range(40)]

    def body():
        out = []
        threads = []

        def one(data):
            s = connect(p.host_port)
            try:
                try:
                    s.sendall(data)
                    s.shutdown(socket.SHUT_WR)      # the client is done: the proxy must end it too
                except OSError:
                    out.append(("rst", 0, 0))
                    return
                out.append(watch_end(s, 15))
            finally:
                s.close()

        for data in payloads:
            th = threading.Thread(target=one, args=(data,), daemon=True)
            th.start()
            threads.append(th)
        for th in threads:
            th.join(20)
        return out

    results, _ = scenario(p, topic, body, "random bytes", reads=True)
    assert len(results) == len(payloads)
    stuck = [r for r in results if r[0] is None]
    assert not stuck, "%d random-byte connections still open after 15s: %s" % (len(stuck), stuck[:3])


def test_truncated_frames_then_close(tansu, hardened_proxy, topic):
    """A frame cut short, then the client closes: the proxy ends both sides, counts and logs it."""
    p = hardened_proxy(tansu)
    frame = struct.pack(">i", 100) + header() + b"x" * 20          # 30 of 100 bytes
    frame_no_header = struct.pack(">i", 100) + b"\x00\x12"         # ends inside the header

    def body():
        for data in [frame, frame_no_header, struct.pack(">i", 100)[:2]] * 5:
            s = connect(p.host_port)
            s.sendall(data)
            time.sleep(0.05)
            s.close()
        time.sleep(1)

    base_sessions = p.metric("kafka_proxy_connections_active")
    scenario(p, topic, body, "truncated frames", reads=False)
    # the 15 truncated connections are gone
    assert p.metric("kafka_proxy_connections_active") <= base_sessions
    # README: truncated frames close with a log line saying why and kafka_proxy_errors_total{reason}
    assert p.errors("truncated_frame") >= 10, \
        "no kafka_proxy_errors_total{reason=\"truncated_frame\"} for clients that closed mid-frame:\n%s" \
        % "\n".join(l for l in p.metrics().splitlines() if "errors_total" in l)


# --------------------------------------------------------------------------
# slow clients and the idle timeout
# --------------------------------------------------------------------------

def test_idle_connection_closed_by_idle_timeout(tansu, hardened_proxy, topic):
    p = hardened_proxy(tansu, limits={"idleTimeoutSeconds": 2})
    before = p.errors("idle_timeout")

    def body():
        s = connect(p.host_port)
        try:
            return watch_end(s, 8)
        finally:
            s.close()

    (how, _, after), _ = scenario(p, topic, body, "idle connection", reads=False)
    assert how == "eof", "an idle connection was not closed within 8s (idleTimeoutSeconds: 2)"
    assert 1.5 <= after <= 5, "closed after %.1fs with idleTimeoutSeconds: 2" % after
    assert p.errors("idle_timeout") >= before + 1
    p.wait_log("idle for 2s, closing")


def test_slow_loris_cut_by_idle_timeout(tansu, hardened_proxy, topic):
    """One byte per second of a request that never completes: limits.idleTimeoutSeconds (2 s)
    must cut it. A byte that trickles in is not progress: only whole requests and responses are."""
    p = hardened_proxy(tansu, limits={"idleTimeoutSeconds": 2})
    frame = struct.pack(">i", 1000) + header() + b"y" * 990

    def body():
        s = connect(p.host_port)
        s.settimeout(1.0)
        t0 = time.time()
        try:
            for i, b in enumerate(frame[:20]):
                try:
                    s.sendall(bytes([b]))
                    data = s.recv(1)
                    if data == b"":
                        return "eof", time.time() - t0, i
                except socket.timeout:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    return "rst", time.time() - t0, i
            return None, time.time() - t0, 20
        finally:
            s.close()

    (how, after, sent), _ = scenario(p, topic, body, "slow loris", reads=False)
    assert how is not None, ("a client sending one byte per second was still connected after %.0fs "
                             "(%d bytes) with idleTimeoutSeconds: 2" % (after, sent))
    assert after < 8, "slow loris cut only after %.1fs" % after


# --------------------------------------------------------------------------
# many connections, limits
# --------------------------------------------------------------------------

@pytest.mark.timeout(240)
def test_ten_thousand_connections_opened_and_dropped(tansu, hardened_proxy, topic):
    p = hardened_proxy(tansu)
    total, batch = 10_000, 500
    accepted_before = p.metric("kafka_proxy_connections_total")

    def body():
        failures = 0
        for start in range(0, total, batch):
            socks = []
            for i in range(batch):
                try:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.connect(p.host_port)
                    socks.append(s)
                except OSError:
                    failures += 1
            for i, s in enumerate(socks):
                if i % 3 == 0:  # some send half a request first
                    try:
                        s.send(struct.pack(">i", 14) + b"\x00\x12")
                    except OSError:
                        pass
                if i % 2 == 0:  # some end with RST
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
        return failures

    failures, base = scenario(p, topic, body, "10,000 connections opened and dropped", reads=True)
    assert failures == 0, "%d of %d connects failed" % (failures, total)
    assert p.metric("kafka_proxy_connections_total") >= accepted_before + total
    # every client connection of the storm is gone (the producer and reader ones may remain)
    assert p.metric("kafka_proxy_connections_active") <= 6, p.metric("kafka_proxy_connections_active")
    round_trip_api_versions(p.host_port)


def test_max_connections_refuses_beyond_and_logs_once_per_burst(tansu, hardened_proxy, topic):
    p = hardened_proxy(tansu, limits={"maxConnections": 20})
    held = []

    def body():
        rejected_before = p.metric("kafka_proxy_connections_rejected_total")
        for _ in range(120):
            held.append(connect(p.host_port))
        time.sleep(1.0)
        ends = []
        for s in held:
            s.setblocking(False)
            try:
                ends.append(s.recv(1) == b"")
            except BlockingIOError:
                ends.append(False)
            except ConnectionResetError:
                ends.append(True)
        refused = sum(ends)
        rejected = p.metric("kafka_proxy_connections_rejected_total") - rejected_before
        for s in held:
            s.close()
        held.clear()
        return refused, rejected

    (refused, rejected), _ = scenario(p, topic, body, "maxConnections burst", reads=False)
    assert refused >= 100 - 6, "only %d of 120 connections beyond maxConnections 20 were refused" % refused
    assert rejected == refused, "kafka_proxy_connections_rejected_total +%d, refused %d" % (rejected, refused)
    log = p.log_text()
    lines = [l for l in log.splitlines() if "limits.maxConnections (20) reached" in l]
    assert len(lines) == 1, "expected one log line for the burst, got %d:\n%s" % (len(lines), "\n".join(lines[:5]))
    # below the limit again: accepted
    round_trip_api_versions(p.host_port)


def test_max_request_bytes(tansu, hardened_proxy, topic):
    p = hardened_proxy(tansu, limits={"maxRequestBytes": 65536})
    before = p.errors("frame_too_large")

    def body():
        over = struct.pack(">i", 65537) + header(api_key=0, version=3) + b"\0" * 4096
        return send_and_watch(p.host_port, over)

    over, _ = scenario(p, topic, body, "maxRequestBytes", reads=False)
    assert over[0] in ("eof", "rst") and over[1] == 0, over
    assert p.errors("frame_too_large") == before + 1
    p.wait_log(r"request of 65537 bytes exceeds limits.maxRequestBytes \(65536\)")


# --------------------------------------------------------------------------
# backpressure
# --------------------------------------------------------------------------

@pytest.mark.timeout(180)
def test_clients_that_never_read_their_responses_keep_memory_bounded(tansu, hardened_proxy, topic):
    """Pipelined Fetch requests (about 1 MiB of records each) from connections that never read:
    without backpressure the proxy would buffer every response. Its RSS must stay bounded."""
    p = hardened_proxy(tansu)
    big = unique("bp")
    tansu.create_topic(big, partitions=1)
    from helpers import producer
    filler = producer(p.bootstrap, acks="all", **{"message.max.bytes": 2000000})
    for i in range(100):
        filler.produce(big, value=bytes([i % 251]) * 10_000, partition=0)
    assert filler.flush(30) == 0
    conns, per_conn = 6, 300              # up to ~1.8 GB of responses if nothing pushed back
    samples = []

    def body():
        socks = []
        for c in range(conns):
            s = connect(p.host_port)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            socks.append(s)
        frames = [b"".join(fetch_v4_frame(big, cid) for cid in range(1, per_conn + 1))]
        senders = []
        for s in socks:
            def send(s=s):
                s.settimeout(30)
                try:
                    s.sendall(frames[0])
                except OSError:
                    pass
            th = threading.Thread(target=send, daemon=True)
            th.start()
            senders.append(th)
        base_bytes = p.metric("kafka_proxy_bytes_total", direction="broker_to_client")
        for _ in range(16):
            time.sleep(0.5)
            samples.append(proc_rss_kb(p.proc.pid))
        relayed = p.metric("kafka_proxy_bytes_total", direction="broker_to_client") - base_bytes
        for s in socks:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        for th in senders:
            th.join(5)
        return relayed

    relayed, base = scenario(p, topic, body, "unread responses", reads=False)
    peak_growth_mb = (max(samples) - base.rss_kb) / 1024
    assert peak_growth_mb < 120, ("proxy RSS grew by %.0f MiB with %d connections not reading "
                                  "(samples KiB: %s)" % (peak_growth_mb, conns, samples))
    # the pushback stops the broker side too: far less than everything was relayed
    assert relayed < conns * per_conn * 1_000_000 / 4, "relayed %d bytes to clients that read nothing" % relayed
