"""Misbehaving clients are disconnected without disturbing well-behaved ones."""

import os
import socket
import struct
import threading
import time

import pytest

from helpers import producer, read_all, unique


def garbage():
    # A short frame whose header is nonsense (negative API key, random rest),
    # followed by more random bytes: whatever the proxy does with it (reject
    # it itself or forward it to the broker), the connection must end.
    body = bytearray(os.urandom(60))
    body[0:2] = struct.pack(">h", -12345)
    return struct.pack(">i", len(body)) + bytes(body) + os.urandom(4096)


def oversized():
    return struct.pack(">i", 0x7FFFFFFF) + os.urandom(2048)


def watch_disconnect(host, port, payload, result, timeout=10):
    s = socket.create_connection((host, port), timeout=5)
    try:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            result["closed"] = "reset while sending"
            return
        s.settimeout(timeout)
        t0 = time.time()
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    result["closed"] = "EOF after %.2fs" % (time.time() - t0)
                    return
                result.setdefault("bytes", 0)
                result["bytes"] += len(data)
        except socket.timeout:
            result["closed"] = None
        except ConnectionResetError:
            result["closed"] = "RST after %.2fs" % (time.time() - t0)
    finally:
        s.close()


@pytest.mark.parametrize("kind", ["garbage", "oversized"])
def test_bad_client_disconnected_while_producer_runs(cluster, proxied, kind):
    topic = unique("bad-" + kind)
    cluster.create_topic(topic, partitions=2)
    errors, acked = [], []

    def dr(err, msg):
        (errors if err else acked).append(err or msg.offset())

    p = producer(proxied.bootstrap, acks="all")
    # warm up: the producer has its connections before the bad client arrives
    p.produce(topic, value=b"warmup", on_delivery=dr)
    assert p.flush(20) == 0

    host, port = proxied.bootstrap.split(",")[0].rsplit(":", 1)
    result = {}
    payload = garbage() if kind == "garbage" else oversized()
    th = threading.Thread(target=watch_disconnect, args=(host, int(port), payload, result), daemon=True)
    th.start()
    sent = 1
    t0 = time.time()
    while th.is_alive() or time.time() - t0 < 2.0:
        p.produce(topic, value=b"m-%d" % sent, on_delivery=dr)
        sent += 1
        p.poll(0.01)
        if time.time() - t0 > 15:
            break
    th.join(1)
    assert p.flush(20) == 0
    assert not errors, errors[:5]
    assert len(acked) == sent
    got = read_all(proxied.bootstrap, topic, expected=sent, timeout=20)
    assert len(got) == sent

    if proxied.direct and kind == "oversized" and not result.get("closed"):
        pytest.skip("direct mode: %s keeps an oversized-frame connection open" % cluster.name)
    assert result.get("closed"), "%s client was not disconnected within 10s: %s" % (kind, result)
    assert not result.get("bytes"), "the %s client got an answer: %s" % (kind, result)
