"""Support for the hardening tests (issue 7): a proxy with chosen limits, /proc measurements,
a producer that keeps producing in the background, raw-socket bad clients, fake brokers.

Pieces:
  HardenedProxy / hardened_proxy   the proxy with a `limits` section of the test's choosing
                                   (fixture: factory, SIGTERM + exit code 0 checked at teardown)
  proc_fds(), proc_rss_kb()        open descriptors and resident memory of a process (/proc)
  Baseline                         fds/RSS measured once, then `assert_back()` polls until both
                                   return near it (the no-leak check after each scenario)
  BackgroundProducer               a confluent-kafka producer (acks=all) producing every few ms;
                                   `stop()` flushes and asserts no delivery error
  send_and_watch()                 send bytes on a raw socket, report how the proxy ended it
  FakeBroker                       a tiny threaded TCP server with a per-connection handler
"""

import contextlib
import os
import re
import socket
import struct
import threading
import time

import pytest

import conftest
from conftest import HOST, PROXY_BIN, Proxy, free_port
from failover_support import metric, wait_until
from helpers import producer

DEFAULT_LIMITS = {"maxRequestBytes": 104857600, "maxConnections": 10000, "idleTimeoutSeconds": 600}

needs_proxy = pytest.mark.skipif(conftest.DIRECT, reason="KAFKA_PROXY_DIRECT=1: hardening tests need the proxy")


# --------------------------------------------------------------------------
# the proxy
# --------------------------------------------------------------------------

class HardenedProxy(Proxy):
    """conftest.Proxy with the limits (and log level) of the test's choosing."""

    def __init__(self, workdir, upstream, limits=None, log_level="info", extra_yaml="", wait_ready=True):
        self._prepare(workdir)
        lim = dict(DEFAULT_LIMITS, **(limits or {}))
        servers = ", ".join('"%s"' % a for a in upstream.split(","))
        self._start(
            "activeCluster: primary\n"
            "clusters:\n"
            "  primary:\n"
            "    bootstrapServers: [%s]\n"
            "limits: {%s}\n"
            "logging: {level: %s, format: text}\n"
            % (servers, ", ".join("%s: %s" % kv for kv in lim.items()), log_level) + extra_yaml, wait_ready)

    @property
    def host_port(self):
        return HOST, self.bootstrap_port

    def wait_log(self, pattern, timeout=10, count=1):
        rx = re.compile(pattern)
        return wait_until(lambda: len(rx.findall(self.log_text())) >= count, timeout,
                          "proxy log line /%s/" % pattern, detail=lambda: conftest._tail(self.log_path, 30))

    def metric(self, name, **labels):
        return metric(self.metrics(), name, **labels)

    def errors(self, reason):
        return self.metric("kafka_proxy_errors_total", reason=reason)


class HardenedProxyFactory:
    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.started = []

    def __call__(self, upstream, **kw):
        if conftest.DIRECT:
            pytest.skip("KAFKA_PROXY_DIRECT=1: hardening tests need the proxy")
        if not os.access(PROXY_BIN, os.X_OK):
            pytest.fail("proxy binary %s missing" % PROXY_BIN)
        upstream = upstream.bootstrap if hasattr(upstream, "bootstrap") else upstream
        p = HardenedProxy(self.tmp_path / ("hproxy%d" % len(self.started)), upstream, **kw)
        self.started.append(p)
        return p

    def log_owners(self):
        return list(self.started)

    def teardown(self):
        return conftest.stop_proxies(self.started)


@pytest.fixture
def hardened_proxy(tmp_path):
    yield from conftest.serve_factory(HardenedProxyFactory(tmp_path))


# --------------------------------------------------------------------------
# /proc
# --------------------------------------------------------------------------

def proc_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def proc_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for %d" % pid)


class Baseline:
    """Descriptors and RSS of the proxy at a quiet moment; `assert_back` after a scenario."""

    def __init__(self, proxy, fd_slack=10, rss_slack_mb=48):
        self.pid = proxy.proc.pid
        self.fd_slack = fd_slack
        self.rss_slack_kb = rss_slack_mb * 1024
        self.fds = proc_fds(self.pid)
        self.rss_kb = proc_rss_kb(self.pid)
        self.peak_rss_kb = self.rss_kb

    def sample(self):
        fds, rss = proc_fds(self.pid), proc_rss_kb(self.pid)
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        return fds, rss

    def assert_back(self, timeout=20, what="scenario"):
        last = {}

        def back():
            fds, rss = self.sample()
            last.update(fds=fds, rss_kb=rss)
            return fds <= self.fds + self.fd_slack and rss <= self.rss_kb + self.rss_slack_kb

        deadline = time.time() + timeout
        while time.time() < deadline:
            if back():
                return last
            time.sleep(0.25)
        raise AssertionError(
            "after %s the proxy did not return to its baseline within %ds: fds %d (baseline %d, slack %d), "
            "RSS %d KiB (baseline %d KiB, slack %d KiB)"
            % (what, timeout, last["fds"], self.fds, self.fd_slack, last["rss_kb"], self.rss_kb, self.rss_slack_kb))

    def __repr__(self):
        return "<baseline fds=%d rss=%d KiB>" % (self.fds, self.rss_kb)


# --------------------------------------------------------------------------
# the well-behaved client
# --------------------------------------------------------------------------

class BackgroundProducer:
    """Produces numbered records every `interval` seconds from a thread until stop()."""

    def __init__(self, bootstrap, topic, interval=0.005, **extra):
        self.topic = topic
        self.interval = interval
        conf = {"acks": "all", "enable.idempotence": False}
        conf.update(extra)
        self.p = producer(bootstrap, **conf)
        self.errors = []
        self.acked = 0
        self.sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # warm up: connections exist before the scenario starts
        self.p.produce(topic, value=b"warmup", on_delivery=self._dr)
        self.sent += 1
        assert self.p.flush(20) == 0, "warm-up record not delivered through the proxy"
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _dr(self, err, msg):
        with self._lock:
            if err is not None:
                self.errors.append(str(err))
            else:
                self.acked += 1

    def _run(self):
        while not self._stop.is_set():
            try:
                self.p.produce(self.topic, value=b"r-%d" % self.sent, on_delivery=self._dr)
                self.sent += 1
            except BufferError:
                pass
            self.p.poll(0)
            time.sleep(self.interval)

    def acked_now(self):
        with self._lock:
            return self.acked

    def wait_progress(self, more=20, timeout=15):
        start = self.acked_now()
        wait_until(lambda: self.acked_now() >= start + more, timeout,
                   "producer made progress (%d more acks)" % more)

    def stop(self, flush_timeout=30):
        self._stop.set()
        self._thread.join(5)
        left = self.p.flush(flush_timeout)
        assert left == 0, "%d records not delivered (errors: %s)" % (left, self.errors[:5])
        assert not self.errors, "delivery errors while the scenario ran: %s" % self.errors[:5]
        assert self.acked == self.sent, "acked %d of %d" % (self.acked, self.sent)
        return self.sent


# --------------------------------------------------------------------------
# raw sockets
# --------------------------------------------------------------------------

def connect(host_port, timeout=5):
    s = socket.create_connection(host_port, timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def watch_end(s, timeout):
    """How the peer ended the connection: 'eof', 'rst' or None (still open after timeout);
    plus the bytes received before."""
    s.settimeout(timeout)
    got = 0
    t0 = time.time()
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return "eof", got, time.time() - t0
            got += len(data)
    except socket.timeout:
        return None, got, time.time() - t0
    except (ConnectionResetError, BrokenPipeError):
        return "rst", got, time.time() - t0


def send_and_watch(host_port, payload, timeout=10):
    s = connect(host_port)
    try:
        try:
            s.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            return "rst", 0, 0.0
        return watch_end(s, timeout)
    finally:
        s.close()


def api_versions_frame(correlation_id=1):
    body = struct.pack(">hhih", 18, 0, correlation_id, 2) + b"hc"   # ApiVersions v0, client id "hc"
    return struct.pack(">i", len(body)) + body


def fetch_v4_frame(topic, correlation_id, partition=0, offset=0, max_bytes=1 << 20):
    t = topic.encode()
    body = struct.pack(">hhih", 1, 4, correlation_id, 2) + b"hc"
    body += struct.pack(">iiiib", -1, 100, 1, max_bytes, 0)
    body += struct.pack(">i", 1) + struct.pack(">h", len(t)) + t
    body += struct.pack(">i", 1) + struct.pack(">iqi", partition, offset, max_bytes)
    return struct.pack(">i", len(body)) + body


def round_trip_api_versions(host_port, timeout=5):
    """ApiVersions v0 through the proxy; returns the response payload."""
    s = connect(host_port, timeout)
    try:
        s.sendall(api_versions_frame(7))
        size = struct.unpack(">i", _recv_exact(s, 4))[0]
        payload = _recv_exact(s, size)
        assert struct.unpack(">i", payload[:4])[0] == 7
        return payload
    finally:
        s.close()


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


# --------------------------------------------------------------------------
# fake brokers
# --------------------------------------------------------------------------

class FakeBroker:
    """A TCP server on 127.0.0.1 whose connections run `handler(sock)` on their own threads.
    stop() closes the listener and every connection; start() again on the same port."""

    def __init__(self, handler, port=None):
        self.handler = handler
        self.port = port or free_port()
        self.address = "%s:%d" % (HOST, self.port)
        self.accepted = 0
        self._conns = []
        self._lock = threading.Lock()
        self._listener = None
        self.start()

    def start(self):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((HOST, self.port))
        ls.listen(128)
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def _accept(self, ls):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self._conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with contextlib.suppress(OSError, EOFError):
            self.handler(c)

    def stop(self):
        if self._listener:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()


def read_request(c):
    """One request frame from a fake broker's connection: (api_key, version, correlation_id, frame)."""
    size = struct.unpack(">i", _recv_exact(c, 4))[0]
    payload = _recv_exact(c, size)
    key, version, cid = struct.unpack(">hhi", payload[:8])
    return key, version, cid, payload
