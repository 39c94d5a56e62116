"""A config version published by rename applies at once.

kubelet publishes a ConfigMap by renaming a new `..data` symlink over the old one, and a
write-temp-then-rename edit renames a finished file onto the path: each is a whole new version in
one atomic step, so the proxy reloads on the rename instead of waiting out the debounce it keeps
for in-place writes (which truncate first and may write in several steps).

Measured: from the rename to the first /status answer that shows the new active cluster, polled
without pause. /status is updated when the reload is applied, just before the switch starts (the
log line "switching active cluster"). Compared as a median of several swaps, so one slow answer on
a loaded machine does not decide; each swap toggles activeCluster.
"""

import statistics
import time

import pytest

from failover_support import (DRAIN_SECONDS, failover_proxy, failover_report, needs_proxy,  # noqa: F401
                              tansu_dr, tansu_primary, wait_until)

pytestmark = needs_proxy

FAILOVER = {"mode": "manual", "drainTimeoutSeconds": DRAIN_SECONDS}
MAX_MEDIAN_S = 0.030      # the switch starts within 30 ms of the swap
SWAPS = 9
TIMEOUT_S = 5


def _swap_latencies(p, how, swaps):
    """Toggle activeCluster `swaps` times; per swap, seconds from the rename to /status showing it."""
    latencies = []
    for i in range(swaps):
        target = "dr" if p.active == "primary" else "primary"
        gen = p.generation()
        time.sleep(0.25)          # let the previous switch settle; a swap lands at a random point otherwise
        t = p.switch(target, how=how)
        seen = None
        deadline = t + TIMEOUT_S
        while time.time() < deadline:
            s = p.status_or_none() or {}
            if s.get("activeCluster") == target:
                seen = time.time()
                assert s.get("configGeneration") == gen + 1, s
                break
        assert seen is not None, "swap %d (%s -> %s): /status never showed it within %ds\n%s" % (
            i + 1, how, target, TIMEOUT_S, p.describe())
        latencies.append(seen - t)
    return latencies


def _fmt(xs):
    return ", ".join("%.1f" % (x * 1000) for x in xs)


@pytest.mark.timeout(90)
def test_configmap_data_swap_applies_at_once(tansu_primary, tansu_dr, failover_proxy, failover_report):
    p = failover_proxy({"primary": tansu_primary, "dr": tansu_dr}, active="primary", failover=FAILOVER,
                       layout="configmap")
    lat = _swap_latencies(p, None, SWAPS)
    med = statistics.median(lat)
    failover_report("reload latency: ..data swap", "ms from the rename of ..data to /status: %s; median %.1f ms"
                    % (_fmt(lat), med * 1000))
    assert med < MAX_MEDIAN_S, ("median %.1f ms from the ..data swap to /status showing the new active cluster "
                                "(allowed %.0f ms): %s ms" % (med * 1000, MAX_MEDIAN_S * 1000, _fmt(lat)))
    # The switch itself started: one log line per swap.
    wait_until(lambda: p.log_text().count("switching active cluster") >= SWAPS, TIMEOUT_S,
               "a switch log line per swap", detail=lambda: p.log_text()[-3000:])


@pytest.mark.timeout(90)
def test_rename_onto_the_file_applies_at_once_and_inplace_still_waits(tansu_primary, tansu_dr, failover_proxy,
                                                                      failover_report):
    p = failover_proxy({"primary": tansu_primary, "dr": tansu_dr}, active="primary", failover=FAILOVER,
                       layout="plain")
    lat = _swap_latencies(p, "rename", 5)
    med = statistics.median(lat)
    # An in-place write is debounced: it applies, whole, but not at once.
    inplace = _swap_latencies(p, "inplace", 3)
    failover_report("reload latency: rename and in-place",
                    "rename: %s ms, median %.1f ms; in-place write: %s ms" % (_fmt(lat), med * 1000, _fmt(inplace)))
    assert med < MAX_MEDIAN_S, "median %.1f ms from the rename to /status (allowed %.0f ms): %s ms" % (
        med * 1000, MAX_MEDIAN_S * 1000, _fmt(lat))
    assert min(inplace) >= 0.080, "an in-place write applied after %s ms: not debounced" % _fmt(inplace)
    assert "rejected" not in p.log_text(), p.log_text()[-3000:]


@pytest.mark.timeout(60)
def test_inplace_write_in_steps_is_read_whole(tansu_primary, tansu_dr, failover_proxy, failover_report):
    """An editor that writes the file in several steps, 10 ms apart: the debounce waits for the
    last one, so no half file is ever read (it would be rejected, or worse, parse)."""
    p = failover_proxy({"primary": tansu_primary, "dr": tansu_dr}, active="primary", failover=FAILOVER,
                       layout="plain")
    text = p.render(active="dr")
    cut = text.index("clusters:")
    before = p.reloads("error")
    with open(p.config_path, "w") as f:
        f.write(text[:cut])
        f.flush()
        for piece in (text[cut:cut + 20], text[cut + 20:]):
            time.sleep(0.01)
            f.write(piece)
            f.flush()
    p.active = "dr"
    p.wait_active("dr", TIMEOUT_S)
    time.sleep(0.3)
    assert p.reloads("error") == before, p.log_text()[-3000:]
    assert p.status()["activeCluster"] == "dr"
