#!/usr/bin/env python3
"""Allocation smoke benchmark: fails when kafka-proxy's pass-through path allocates per request.

Runs the proxy binary under Benchmarks/tools/malloccount.c (LD_PRELOAD; counters in a shared
file) against a tiny broker in this process, and drives Produce (1 KiB and 100 KiB requests,
streamed across reads) and Fetch (100 KiB responses, streamed across reads) through it on one
connection. Per workload, after a warm-up, it counts heap allocations over several windows of a
fixed number of requests and takes the smallest: what a request costs in steady state, whatever
else the process did meanwhile (a timer, a log line). Counts, not times, so a loaded machine only
makes it slower. A request that allocates shows as >= 1 allocation per request (or >= 1 per N
for something every N-th request); the limit, --max-per-request (default 0.02), is far below both
and far above the noise of a window.

    Benchmarks/alloc_smoke.py --proxy .build/release/kafka-proxy
Exit status: 0 all workloads at or under the limit, 1 one is over, 2 could not run.
"""
import argparse
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from bench import recv_exact, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

API_PRODUCE, API_FETCH, API_METADATA, API_VERSIONS = 0, 1, 3, 18
PRODUCE_VERSION, FETCH_VERSION = 3, 4   # no broker addresses in their responses: streamed, never rewritten


def s16(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


# ------------------------------------------------------------------ the broker

class Broker(threading.Thread):
    """Answers ApiVersions v0, Metadata v1 (itself as the only broker), Produce v3 and Fetch v4 at
    once, from one thread. A Fetch asks for `partition_max_bytes` and gets that many bytes of
    records back."""

    def __init__(self):
        super().__init__(daemon=True)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, None)
        self.stopping = False
        self.records = {}

    def run(self):
        while not self.stopping:
            for key, _ in self.sel.select(timeout=0.2):
                if key.data is None:
                    try:
                        conn, _ = self.listener.accept()
                    except OSError:
                        continue
                    conn.setblocking(False)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.sel.register(conn, selectors.EVENT_READ, {"in": bytearray(), "out": bytearray()})
                else:
                    self.serve(key.fileobj, key.data)

    def serve(self, conn, state):
        try:
            data = conn.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(conn)
            conn.close()
            return
        buf = state["in"]
        buf += data
        while len(buf) >= 4:
            size = struct.unpack_from(">i", buf)[0]
            if len(buf) < 4 + size:
                break
            frame = bytes(buf[4:4 + size])
            del buf[:4 + size]
            state["out"] += self.answer(frame)
        out = state["out"]
        while out:
            try:
                n = conn.send(out)
            except BlockingIOError:
                # The client reads its answers before it writes again: short waits only.
                time.sleep(0.0005)
                continue
            del out[:n]

    def answer(self, frame):
        api_key, version, correlation = struct.unpack_from(">hhi", frame)
        client_len = struct.unpack_from(">h", frame, 8)[0]
        body = frame[10 + max(0, client_len):]
        if api_key == API_VERSIONS:
            keys = [(API_PRODUCE, 0, PRODUCE_VERSION), (API_FETCH, 0, FETCH_VERSION), (API_METADATA, 0, 1),
                    (API_VERSIONS, 0, 0)]
            payload = struct.pack(">hi", 0, len(keys)) + b"".join(struct.pack(">hhh", *k) for k in keys)
        elif api_key == API_METADATA:
            # v1 (what the proxy's cluster probe asks): brokers [id, host, port, rack], controller, topics []
            payload = (struct.pack(">i", 1) + struct.pack(">i", 1) + s16("127.0.0.1") + struct.pack(">ih", self.port, -1)
                       + struct.pack(">ii", 1, 0))
        elif api_key == API_PRODUCE:
            # responses: [topic, [partition, error, base_offset]], throttle_time_ms (v1+), log_append_time (v2+)
            payload = (struct.pack(">i", 1) + s16("smoke") + struct.pack(">i", 1)
                       + struct.pack(">ihqq", 0, 0, 0, -1) + struct.pack(">i", 0))
        elif api_key == API_FETCH:
            # request v4: replica_id, max_wait, min_bytes, max_bytes, isolation, [topic, [partition, offset, max]]
            pos = 4 + 4 + 4 + 4 + 1
            topics = struct.unpack_from(">i", body, pos)[0]
            pos += 4
            name_len = struct.unpack_from(">h", body, pos)[0]
            pos += 2 + name_len + 4
            max_bytes = struct.unpack_from(">i", body, pos + 12)[0] if topics else 0
            records = self.records.get(max_bytes)
            if records is None:
                records = self.records[max_bytes] = bytes(max_bytes)
            payload = (struct.pack(">i", 0) + struct.pack(">i", 1) + s16("smoke") + struct.pack(">i", 1)
                       + struct.pack(">ihqqi", 0, 0, 1, 1, 0) + struct.pack(">i", len(records)) + records)
        else:
            payload = b""
        response = struct.pack(">i", correlation) + payload
        return struct.pack(">i", len(response)) + response

    def stop(self):
        self.stopping = True
        self.join(timeout=5)
        self.listener.close()


# ------------------------------------------------------------------ the client

class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.correlation = 0

    def request(self, api_key, version, body):
        self.correlation += 1
        header = struct.pack(">hhi", api_key, version, self.correlation) + s16("alloc-smoke")
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", recv_exact(self.sock, 4))[0]
        payload = recv_exact(self.sock, size)
        got = struct.unpack_from(">i", payload)[0]
        if got != self.correlation:
            raise RuntimeError(f"correlation id {got}, expected {self.correlation}")
        return len(payload)


def produce_body(record_bytes):
    records = bytes(record_bytes)
    return (struct.pack(">h", -1) + struct.pack(">hi", 1, 30000) + struct.pack(">i", 1) + s16("smoke")
            + struct.pack(">i", 1) + struct.pack(">i", 0) + struct.pack(">i", len(records)) + records)


def fetch_body(max_bytes):
    return (struct.pack(">iiiib", -1, 0, 1, max_bytes + 1024, 0) + struct.pack(">i", 1) + s16("smoke")
            + struct.pack(">i", 1) + struct.pack(">iqi", 0, 0, max_bytes))


# ------------------------------------------------------------------ the run

def read_counters(path):
    with open(path, "rb") as f:
        return struct.unpack("<3Q", f.read(24))


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def build_shim(out_dir):
    src = os.path.join(HERE, "tools", "malloccount.c")
    so = os.path.join(out_dir, "malloccount.so")
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise RuntimeError("no C compiler (cc) to build tools/malloccount.c")
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", so, src], check=True)
    return so


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxy", default=os.environ.get("KAFKA_PROXY_BIN", os.path.join(REPO, ".build/release/kafka-proxy")))
    ap.add_argument("--warmup", type=int, default=300, help="requests before counting, per workload")
    ap.add_argument("--window", type=int, default=1000, help="requests per counted window")
    ap.add_argument("--windows", type=int, default=3, help="windows per workload; the smallest count is kept")
    ap.add_argument("--max-per-request", type=float, default=0.02)
    ap.add_argument("--timeout", type=float, default=110, help="seconds for the whole run")
    a = ap.parse_args()
    if not os.access(a.proxy, os.X_OK):
        print(f"alloc-smoke: no kafka-proxy binary at {a.proxy}", file=sys.stderr)
        return 2

    started = time.time()
    work = tempfile.mkdtemp(prefix="alloc-smoke.")
    broker = Broker()
    broker.start()
    proxy = None
    try:
        shim = build_shim(work)
        counters = os.path.join(work, "counters.bin")
        port, admin, first_broker_port = free_ports(3)
        cfg = os.path.join(work, "proxy.yaml")
        with open(cfg, "w") as f:
            f.write(f"""listener:
  host: 127.0.0.1
  advertisedHost: 127.0.0.1
  bootstrapPort: {port}
  brokerPorts: {first_broker_port}-{first_broker_port}
admin:
  listen: 127.0.0.1:{admin}
clusters:
  smoke:
    bootstrapServers: ["127.0.0.1:{broker.port}"]
failover:
  healthCheckIntervalSeconds: 86400
logging:
  level: warning
""")
        env = dict(os.environ, LD_PRELOAD=shim, MALLOCCOUNT_FILE=counters)
        log = open(os.path.join(work, "proxy.log"), "w")
        proxy = subprocess.Popen([a.proxy, "--config", cfg], stdout=log, stderr=subprocess.STDOUT, env=env,
                                 start_new_session=True)
        wait_port(port, timeout=30, proc=proxy)
        c0 = read_counters(counters)
        client = Client(port)
        client.request(API_VERSIONS, 0, b"")
        setup = read_counters(counters)[0] - c0[0]
        # Accepting, dialling and rewriting ApiVersions allocate: zero here means nothing is counted.
        if setup == 0:
            raise RuntimeError("the malloc shim counted nothing for a connection set-up (is LD_PRELOAD ignored?)")
        print(f"alloc-smoke: connection set-up and ApiVersions: {setup} allocations (the shim counts)")
        workloads = [("produce-1k", API_PRODUCE, PRODUCE_VERSION, produce_body(1024)),
                     ("produce-100k", API_PRODUCE, PRODUCE_VERSION, produce_body(100 * 1024)),
                     ("fetch-100k", API_FETCH, FETCH_VERSION, fetch_body(100 * 1024))]
        worst = 0.0
        for name, key, version, body in workloads:
            for _ in range(a.warmup):
                client.request(key, version, body)
            counts = []
            for _ in range(a.windows):
                if time.time() - started > a.timeout:
                    raise RuntimeError(f"out of time ({a.timeout} s) in {name}")
                c0 = read_counters(counters)
                for _ in range(a.window):
                    client.request(key, version, body)
                c1 = read_counters(counters)
                counts.append(c1[0] - c0[0])
            per = min(counts) / a.window
            worst = max(worst, per)
            verdict = "ok" if per <= a.max_per_request else "FAIL"
            print(f"alloc-smoke: {name}: {per:.3f} allocations/request (windows of {a.window}: {counts}) {verdict}")
        if proxy.poll() is not None:
            raise RuntimeError(f"kafka-proxy exited with {proxy.returncode}")
        print(f"alloc-smoke: {time.time() - started:.1f} s")
        if worst > a.max_per_request:
            print(f"alloc-smoke: FAILED: the pass-through path allocates ({worst:.3f} per request, limit "
                  f"{a.max_per_request}); log: {log.name}", file=sys.stderr)
            return 1
        return 0
    except (RuntimeError, OSError, EOFError, subprocess.CalledProcessError) as e:
        print(f"alloc-smoke: could not run: {e}", file=sys.stderr)
        return 2
    finally:
        if proxy is not None and proxy.poll() is None:
            proxy.send_signal(signal.SIGTERM)
            try:
                proxy.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proxy.kill()
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
