"""failover.probeTimeoutSeconds bounds a probe of a broker that accepts and never answers, and a
reload changes it for the probes already running."""

import socket
import threading

import pytest

from conftest import HOST, Cluster
from failover_support import mock_primary, failover_proxy, needs_proxy, wait_until  # noqa: F401

pytestmark = needs_proxy


class SilentBroker(Cluster):
    """Accepts connections and reads nothing, answers nothing (a frozen broker)."""
    name = "silent"

    def __init__(self):
        super().__init__()
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.bootstrap = "%s:%d" % (HOST, self.sock.getsockname()[1])
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(c)

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


def _probe_detail(p, name):
    s = p.status_or_none() or {}
    for c in s.get("clusters") or []:
        if c.get("name") == name:
            return (c.get("probe") or {}).get("detail") or ""
    return ""


@pytest.mark.timeout(60)
def test_probe_timeout_is_configurable_and_reloadable(mock_primary, failover_proxy):
    silent = SilentBroker()
    try:
        failover = {"mode": "manual", "healthCheckIntervalSeconds": 1, "probeTimeoutSeconds": 1}
        p = failover_proxy({"primary": mock_primary, "dr": silent}, active="primary", failover=failover,
                           layout="plain")
        wait_until(lambda: "no answer within 1s" in _probe_detail(p, "dr"), 10,
                   "/status: the probe of the silent cluster fails after probeTimeoutSeconds: 1",
                   detail=lambda: "detail %r\n%s" % (_probe_detail(p, "dr"), p.describe()))

        p.write_config(p.render(failover=dict(failover, probeTimeoutSeconds=3)), note="probeTimeoutSeconds 3")
        wait_until(lambda: "no answer within 3s" in _probe_detail(p, "dr"), 15,
                   "/status: after the reload the running probe gives up after 3s",
                   detail=lambda: "detail %r\n%s" % (_probe_detail(p, "dr"), p.describe()))
        assert p.status()["lastReload"]["result"] == "success"
        assert p.alive()
    finally:
        silent.close()
