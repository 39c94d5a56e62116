"""A client retrying against a cluster whose SASL login fails gives one error line and a summary
with the count, not a line per attempt; the metric still counts every attempt."""

import re
import socket
import time

import pytest

from conftest import wait_port
from failover_support import metric
from sasl_support import GATE_USER, sasl_cluster, sasl_proxy, write_secret  # noqa: F401 (fixtures)

ATTEMPTS = 25
WINDOW = 10          # RepeatedErrorLog.defaultWindowSeconds, as docs/operations.md says


def _attempt(p):
    """One client connection: the proxy logs in upstream first, fails, and closes it."""
    host, port = p.bootstrap.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    finally:
        s.close()


@pytest.mark.timeout(90)
def test_repeated_sasl_failures_are_logged_once_and_summarised(sasl_cluster, sasl_proxy, tmp_path):
    cluster = sasl_cluster("the-right-password")
    pwfile = tmp_path / "password"
    write_secret(pwfile, "a-wrong-password")
    p = sasl_proxy(cluster, ["mechanism: SCRAM-SHA-256", "username: %s" % GATE_USER, "passwordFile: %s" % pwfile],
                   wait_ready=False)
    p.require_proxy()
    host, port = p.bootstrap.rsplit(":", 1)
    assert wait_port(host, int(port), 15), "the proxy's bootstrap port did not open"
    t0 = time.time()
    for _ in range(ATTEMPTS):
        _attempt(p)
    took = time.time() - t0
    assert took < WINDOW - 2, "the attempts took %.1fs: too slow to land in one window" % took

    def failures():
        return metric(p.metrics(), "kafka_proxy_sasl_authentication_failures_total", cluster="primary")
    deadline = time.time() + 10
    while failures() < ATTEMPTS and time.time() < deadline:
        time.sleep(0.1)
    # wait_port's connection is an attempt too
    total = failures()
    assert total in (ATTEMPTS, ATTEMPTS + 1), "the metric counts every failed login: %s, %d attempts" % (total, ATTEMPTS)

    summary = re.compile(r"cluster primary: SASL login failed \([^)]*\): (\d+) more time\(s\) in the last \d+s")
    deadline = t0 + WINDOW + 10
    found = None
    while time.time() < deadline and not found:
        found = summary.search(p.log_text())
        time.sleep(0.2)
    log = p.log_text()
    assert found, "no summary line within %ds:\n%s" % (WINDOW + 10, log[-4000:])
    # The test proxies log at debug level, where the repeats show; above it only the first one does.
    failed = [l for l in log.splitlines() if "SASL login to cluster primary" in l and "failed, closing" in l]
    loud = [l for l in failed if " debug " not in l]
    assert len(loud) == 1 and " error " in loud[0], "expected the first failure at error level and no more, got:\n%s" % (
        "\n".join(loud[:5]))
    assert len(failed) == total, "each repeat is still logged at debug level: %d lines, %d failures" % (len(failed), total)
    assert int(found.group(1)) == total - 1, (found.group(0), total)
    assert " error " in log[log.rfind("\n", 0, found.start()) + 1:found.start()], "the summary is logged at error level"
