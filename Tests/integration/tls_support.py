"""TLS fixtures: a PKI made with the openssl command line, HAProxy terminating TLS in front of
Tansu brokers (tcp mode), and a proxy whose config carries `tls` sections."""

import os
import shutil
import subprocess
import time

import pytest

from conftest import HOST, Proxy, free_port, free_port_range, tansu_bin, wait_port, _tail


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


class PKI:
    """CA, other CA; server (SAN localhost + 127.0.0.1), expired server, foreign server;
    client and client2 (for rotation), foreign client."""

    def __init__(self, directory):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self._ca("ca", "/CN=IT Test CA")
        self._ca("other-ca", "/CN=IT Other CA")
        self._leaf("server", "ca", "/CN=localhost", "DNS:localhost,IP:127.0.0.1")
        self._leaf("expired", "ca", "/CN=expired.localhost", "DNS:localhost,IP:127.0.0.1", days=-1)
        self._leaf("foreign", "other-ca", "/CN=localhost", "DNS:localhost,IP:127.0.0.1")
        self._leaf("client", "ca", "/CN=proxy-client-1", None)
        self._leaf("client2", "ca", "/CN=proxy-client-2", None)
        self._leaf("app-client", "ca", "/CN=app-client", None)
        for name in ("server", "expired", "foreign"):
            with open(self.path(name + ".pem"), "w") as out:
                out.write(open(self.path(name + ".crt")).read() + open(self.path(name + ".key")).read())

    def path(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name, subject):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", self.path(name + ".key"), "-out", self.path(name + ".crt"), "-days", "30",
                "-subj", subject)

    def _leaf(self, name, ca, subject, san, days=30):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", self.path(name + ".key"), "-out", self.path(name + ".csr"), "-subj", subject)
        with open(self.path(name + ".ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\n" + ("subjectAltName=%s\n" % san if san else ""))
        openssl("x509", "-req", "-in", self.path(name + ".csr"), "-CA", self.path(ca + ".crt"),
                "-CAkey", self.path(ca + ".key"), "-CAcreateserial", "-days", str(days),
                "-extfile", self.path(name + ".ext"), "-out", self.path(name + ".crt"))


class TansuBehind:
    """A Tansu broker that advertises `advertised` (an HAProxy frontend), so the proxy's
    per-broker connections go through HAProxy too."""

    def __init__(self, log_path, advertised_port):
        self.port = free_port()
        self.log_path = str(log_path)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [tansu_bin(), "broker", "--listener-url", "tcp://%s:%d" % (HOST, self.port),
             "--advertised-listener-url", "tcp://%s:%d" % (HOST, advertised_port),
             "--storage-engine", "memory://tansu/", "--cluster-id", "tls-%d" % self.port],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not wait_port(HOST, self.port, 15):
            self.stop()
            pytest.fail("tansu did not come up:\n%s" % _tail(self.log_path))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log.close()


class HAProxy:
    """One HAProxy with a TLS frontend per scenario; logs each connection with the client CN."""

    def __init__(self, workdir, pki, frontends):
        """frontends: name -> (port, backend_port, pem, extra bind options)"""
        self.log_path = str(workdir / "haproxy.log")
        cfg = [
            "global",
            "  log stdout format raw local0 info",
            "defaults",
            "  mode tcp",
            "  log global",
            "  timeout connect 5s",
            "  timeout client 60s",
            "  timeout server 60s",
            '  log-format "conn %ft cn=%[ssl_c_s_dn(CN)] serial=%[ssl_c_serial,hex]"',
            "  option logasap",
        ]
        for name, (port, backend_port, pem, extra) in frontends.items():
            cfg += ["frontend %s" % name,
                    "  bind %s:%d ssl crt %s %s" % (HOST, port, pki.path(pem), extra),
                    "  default_backend be_%s" % name,
                    "backend be_%s" % name,
                    "  server s1 %s:%d" % (HOST, backend_port)]
        path = str(workdir / "haproxy.cfg")
        with open(path, "w") as f:
            f.write("\n".join(cfg) + "\n")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", path], stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        for port, *_ in frontends.values():
            if not wait_port(HOST, port, 10):
                self.stop()
                pytest.fail("haproxy did not come up:\n%s" % _tail(self.log_path))

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self._log.close()


class TLSWorld:
    """The module's brokers: `plain_tansu` unused by HAProxy; `tansu` behind frontend `tls`
    (also `foreign` and `expired` certs), `mtls_tansu` behind frontend `mtls` (client cert required)."""

    def __init__(self, workdir):
        self.pki = PKI(workdir / "pki")
        self.ports = dict(zip(["tls", "mtls", "foreign", "expired"], free_port_range(4)))
        self.tansu = TansuBehind(workdir / "tansu.log", self.ports["tls"])
        self.mtls_tansu = TansuBehind(workdir / "tansu-mtls.log", self.ports["mtls"])
        self.haproxy = HAProxy(workdir, self.pki, {
            "tls": (self.ports["tls"], self.tansu.port, "server.pem", ""),
            "mtls": (self.ports["mtls"], self.mtls_tansu.port, "server.pem",
                     "verify required ca-file %s" % self.pki.path("ca.crt")),
            "foreign": (self.ports["foreign"], self.tansu.port, "foreign.pem", ""),
            "expired": (self.ports["expired"], self.tansu.port, "expired.pem", ""),
        })

    def addr(self, frontend):
        return "%s:%d" % (HOST, self.ports[frontend])

    def stop(self):
        self.haproxy.stop()
        self.tansu.stop()
        self.mtls_tansu.stop()


def cluster_yaml(name, bootstrap, tls=None):
    """A clusters entry; tls: dict of tls keys (strings/bools)."""
    lines = ["  %s:" % name, '    bootstrapServers: ["%s"]' % bootstrap]
    if tls is not None:
        lines.append("    tls:")
        for key, value in tls.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            else:
                value = '"%s"' % value
            lines.append("      %s: %s" % (key, value))
    return "\n".join(lines) + "\n"


class TLSProxy(Proxy):
    """A proxy started from a full config (the base class writes a single plain cluster)."""

    def __init__(self, workdir, clusters_yaml, listener_tls=None, wait_ready=True, active="primary"):
        self._prepare(workdir)
        listener = ""
        if listener_tls:
            listener = "  tls:\n" + "".join('    %s: "%s"\n' % kv for kv in listener_tls.items())
        self._start("activeCluster: %s\nclusters:\n%slogging: {level: debug, format: text}\n"
                    % (active, clusters_yaml), wait_ready, ready_timeout=30, listener_extra=listener)

    def log(self):
        return self.log_text()

    def wait_log(self, needle, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if needle in self.log():
                return True
            time.sleep(0.2)
        return False


@pytest.fixture(scope="module")
def tls_world(tmp_path_factory):
    if shutil.which("haproxy") is None:
        pytest.fail("haproxy not installed: run scripts/install-test-deps")
    world = TLSWorld(tmp_path_factory.mktemp("tls"))
    yield world
    world.stop()


@pytest.fixture
def tls_proxy(tmp_path):
    started = []

    def start(clusters_yaml, **kwargs):
        p = TLSProxy(tmp_path / ("proxy%d" % len(started)), clusters_yaml, **kwargs)
        started.append(p)
        return p

    yield start
    for p in started:
        rc = p.stop(15)
        assert rc == 0, "kafka-proxy exit code after SIGTERM: %s\n%s" % (rc, _tail(p.log_path, 40))
