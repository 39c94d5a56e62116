"""A fleet of sidecars confirmed through a real Prometheus: kafka_proxy_config_info{digest,active_cluster}.

Three proxies, each in a network namespace of its own (as pods are: every one has its own 127.0.0.1,
so they all read byte-identical config files), watch ONE ConfigMap-style directory
(kafka-proxy.yaml -> ..data/kafka-proxy.yaml, ..data -> ..<timestamp>). The namespaces hang off a
bridge on this host with private addresses only; the two Tansu clusters (primary, dr) listen on the
bridge's host address, so the one config reaches them from every namespace. A Prometheus server
(Debian's `prometheus`) scrapes the three admin endpoints; after the ConfigMap switches
activeCluster to dr, `count by (digest, active_cluster) (kafka_proxy_config_info)` must return one
group: the new file's digest, cluster dr, count 3, with the old series gone (not left at 0).

Needs root (ip netns, ip link) and /usr/bin/prometheus (scripts/install-test-deps installs it).
Everything created here (namespaces, bridge, processes) is removed whatever happens.
"""

import contextlib
import hashlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.parse

import pytest

from conftest import DIRECT, PROXY_BIN, Tansu, _http_get, _tail, free_port
from failover_support import ConfigMapDir, wait_until

PROXIES = 3
ADMIN_PORT = 9080
BOOTSTRAP_PORT = 9092
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

pytestmark = [pytest.mark.skipif(DIRECT, reason="KAFKA_PROXY_DIRECT=1: needs the proxy"),
              pytest.mark.timeout(120)]


class KubeletConfigMap(ConfigMapDir):
    FILE = "kafka-proxy.yaml"


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def pick_subnet():
    """A /24 under 10.0.0.0/8 that no route on this host touches (other test runs make their own)."""
    routes = ip("-4", "route", "show", "table", "all").stdout
    used = []
    for line in routes.splitlines():
        words = line.split()
        if not words:
            continue
        # "[type] prefix ...": the route type is optional (unicast when left out)
        word = words[1] if words[0] in ("local", "broadcast", "unicast", "multicast", "anycast", "unreachable",
                                        "blackhole", "prohibit", "throw", "nat") and len(words) > 1 else words[0]
        with contextlib.suppress(ValueError):
            used.append(ipaddress.ip_network(word if word != "default" else "0.0.0.0/0", strict=False))
    seed = os.getpid()
    for i in range(400):
        n = (seed + i * 7919) % (200 * 250)
        net = ipaddress.ip_network("10.%d.%d.0/24" % (50 + n // 250, n % 250))
        if not any(net.overlaps(u) for u in used if u.prefixlen > 0):
            return net
    pytest.fail("no free 10.x.y.0/24 for the test's namespaces:\n" + routes)


class Fleet:
    """Namespaces, bridge and processes of one test; stop() undoes all of it."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        tag = "kpf%d" % (os.getpid() % 100000)
        self.bridge = tag + "b"
        self.namespaces = []
        self.procs = []          # (name, Popen, log file, log path)
        self.subnet = pick_subnet()
        hosts = list(self.subnet.hosts())
        self.host_ip = str(hosts[0])
        self.pod_ips = [str(h) for h in hosts[1:1 + PROXIES]]
        self.tag = tag

    def build_network(self):
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", "%s/%d" % (self.host_ip, self.subnet.prefixlen), "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for i, pod_ip in enumerate(self.pod_ips):
            ns = "%s-pod%d" % (self.tag, i)
            ip("netns", "add", ns)
            self.namespaces.append(ns)
            host_end, pod_end = "%sh%d" % (self.tag, i), "%sn%d" % (self.tag, i)
            ip("link", "add", host_end, "type", "veth", "peer", "name", pod_end)
            ip("link", "set", pod_end, "netns", ns)
            ip("link", "set", host_end, "master", self.bridge, "up")
            ip("-n", ns, "addr", "add", "%s/%d" % (pod_ip, self.subnet.prefixlen), "dev", pod_end)
            ip("-n", ns, "link", "set", pod_end, "up")
            ip("-n", ns, "link", "set", "lo", "up")

    def spawn(self, name, argv, netns=None):
        log_path = str(self.tmp_path / (name + ".log"))
        log = open(log_path, "wb")
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv     # ip execs the command: same pid
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append((name, proc, log, log_path))
        return proc, log_path

    def logs(self):
        return "\n".join("--- %s (%s)\n%s" % (name, "running" if p.poll() is None else "exit %s" % p.returncode,
                                                _tail(path, 25))
                         for name, p, _, path in self.procs)

    def stop(self):
        for _, proc, _, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc, log, _ in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            log.close()
        for ns in self.namespaces:     # deleting a namespace deletes its veth pair too
            ip("netns", "del", ns, check=False)
        for i in range(PROXIES):       # a pair whose end never reached its namespace
            if ip("link", "show", "%sh%d" % (self.tag, i), check=False).returncode == 0:
                ip("link", "del", "%sh%d" % (self.tag, i), check=False)
        ip("link", "del", self.bridge, check=False)


def render(primary, dr, active):
    # Byte-identical for every pod: only addresses every namespace sees the same way.
    return ("listener:\n"
            "  host: 127.0.0.1\n"
            "  advertisedHost: 127.0.0.1\n"
            "  bootstrapPort: %d\n"
            "  brokerPorts: 9100-9107\n"
            "admin:\n"
            "  listen: 0.0.0.0:%d\n"
            "activeCluster: %s\n"
            "clusters:\n"
            "  primary:\n"
            "    bootstrapServers: [\"%s\"]\n"
            "  dr:\n"
            "    bootstrapServers: [\"%s\"]\n"
            "failover:\n"
            "  healthCheckIntervalSeconds: 1\n"
            "logging: {level: info, format: text}\n"
            % (BOOTSTRAP_PORT, ADMIN_PORT, active, primary.bootstrap, dr.bootstrap))


def promql(prom_url, query):
    status, body = _http_get(prom_url + "/api/v1/query?" + urllib.parse.urlencode({"query": query}), timeout=5)
    assert status == 200, body
    answer = json.loads(body)
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def groups(result):
    return sorted((r["metric"].get("digest"), r["metric"].get("active_cluster"), r["value"][1]) for r in result)


def test_prometheus_sees_one_digest_and_cluster_for_the_whole_fleet_after_a_switch(tmp_path):
    assert os.geteuid() == 0, "needs root for ip netns (CI runs as root)"
    assert shutil.which("ip"), "iproute2 missing"
    assert os.access(PROMETHEUS, os.X_OK), "prometheus missing (scripts/install-test-deps installs it)"
    fleet = Fleet(tmp_path)
    clusters = []
    try:
        fleet.build_network()
        primary = Tansu(tmp_path / "tansu-primary.log", host=fleet.host_ip)
        clusters.append(primary)
        dr = Tansu(tmp_path / "tansu-dr.log", host=fleet.host_ip)
        clusters.append(dr)

        configmap = KubeletConfigMap(tmp_path / "configmap")
        first = render(primary, dr, "primary")
        configmap.write(first)
        first_digest = hashlib.sha256(first.encode()).hexdigest()

        for i, ns in enumerate(fleet.namespaces):
            fleet.spawn("proxy%d" % i, [PROXY_BIN, "--config", configmap.path], netns=ns)
        admin_urls = ["http://%s:%d" % (pod_ip, ADMIN_PORT) for pod_ip in fleet.pod_ips]

        def all_ready():
            for name, proc, _, _ in fleet.procs:
                assert proc.poll() is None, "%s exited:\n%s" % (name, fleet.logs())
            return all(_http_get(url + "/readyz", timeout=1)[0] == 200 for url in admin_urls)
        wait_until(all_ready, 30, "all %d proxies ready" % PROXIES, detail=fleet.logs)

        for url in admin_urls:
            status = json.loads(_http_get(url + "/status")[1])
            assert status["configDigest"] == first_digest, status
            assert status["activeCluster"] == "primary", status

        prom_port = free_port()
        prom_url = "http://127.0.0.1:%d" % prom_port
        prom_config = tmp_path / "prometheus.yml"
        prom_config.write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: kafka-proxy\n"
            "    static_configs:\n"
            "      - targets: [%s]\n" % ", ".join('"%s:%d"' % (a, ADMIN_PORT) for a in fleet.pod_ips))
        fleet.spawn("prometheus", [PROMETHEUS, "--config.file=%s" % prom_config,
                                   "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
                                   "--web.listen-address=127.0.0.1:%d" % prom_port])

        query = "count by (digest, active_cluster) (kafka_proxy_config_info)"

        def converged(digest, cluster):
            def check():
                up = promql(prom_url, "sum(up{job=\"kafka-proxy\"})")
                return (up and up[0]["value"][1] == str(PROXIES)
                        and groups(promql(prom_url, query)) == [(digest, cluster, str(PROXIES))])
            return check

        wait_until(converged(first_digest, "primary"), 30, "Prometheus: 3 proxies on the first digest and primary",
                   interval=0.5, detail=lambda: "%s\n%s" % (groups(promql(prom_url, query)), fleet.logs()))
        builds = promql(prom_url, "count by (version, commit) (kafka_proxy_build_info)")
        assert len(builds) == 1 and builds[0]["value"][1] == str(PROXIES), builds

        # The switch, as kubectl edit + kubelet deliver it: a new ..data directory, swapped atomically.
        second = render(primary, dr, "dr")
        second_digest = hashlib.sha256(second.encode()).hexdigest()
        assert second_digest != first_digest
        configmap.write(second)

        def all_switched():
            return all(json.loads(_http_get(url + "/status")[1])["configDigest"] == second_digest
                       and json.loads(_http_get(url + "/status")[1])["activeCluster"] == "dr" for url in admin_urls)
        wait_until(all_switched, 30, "every proxy on the new digest and dr", detail=fleet.logs)

        wait_until(converged(second_digest, "dr"), 30, "Prometheus: one group (new digest, dr) of 3",
                   interval=0.5, detail=lambda: "%s\n%s" % (groups(promql(prom_url, query)), fleet.logs()))
        # The old series went away (no stale 0 left to be counted), on every proxy.
        assert groups(promql(prom_url, "count by (digest, active_cluster) (kafka_proxy_config_info == 0)")) == []
        per_pod = promql(prom_url, "kafka_proxy_config_info")
        assert len(per_pod) == PROXIES, per_pod
        assert sorted(r["metric"]["instance"] for r in per_pod) == sorted("%s:%d" % (a, ADMIN_PORT)
                                                                         for a in fleet.pod_ips)

        for name, _, _, path in fleet.procs:
            if name.startswith("proxy"):
                with open(path, errors="replace") as f:
                    log = f.read()
                assert "digest %s" % second_digest in log, "%s: no reload line with the digest:\n%s" % (name, log)
    finally:
        fleet.stop()
        for c in clusters:
            c.stop()
