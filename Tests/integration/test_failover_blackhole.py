"""Automatic failover when the active cluster black-holes: its packets are dropped, nothing resets.

That is what a failed data centre looks like from the proxy: connections neither close nor answer.
The primary (Tansu) runs in a network namespace of the test's own, reached over a veth pair;
dr runs on loopback. failover.mode is automatic. A confluent-kafka producer (acks=all) sends through
the proxy; then every packet the namespace sends is dropped. The proxy's probes time out
(probeTimeoutSeconds) and once the primary has failed them for unhealthyAfterSeconds the proxy
switches to dr: that must happen within unhealthyAfterSeconds + probeTimeoutSeconds, plus one probe
interval of slack (the black hole begins somewhere between two probes). The producer must carry on
on dr, and no acknowledged record may be lost: the namespace is healed after the switch so that
what the primary acknowledged before can be read back from it.
"""

import time

import pytest

from conftest import Tansu
from failover_support import (ClusterTail, ConfluentProduceLoop, analyse, failover_proxy,  # noqa: F401
                              failover_report, metric, needs_proxy, phase_wait, wait_settled, wait_until)
from helpers import unique
from netns_support import netns  # noqa: F401 (fixture)

pytestmark = needs_proxy

INTERVAL, PROBE_TIMEOUT, UNHEALTHY_AFTER, DRAIN = 1, 1, 2, 2
FAILOVER = {"mode": "automatic", "order": ["primary", "dr"], "healthCheckIntervalSeconds": INTERVAL,
            "probeTimeoutSeconds": PROBE_TIMEOUT, "unhealthyAfterSeconds": UNHEALTHY_AFTER,
            "failback": "manual", "drainTimeoutSeconds": DRAIN}
DETECT_WITHIN = UNHEALTHY_AFTER + PROBE_TIMEOUT + INTERVAL
PARTITIONS = 3


@pytest.fixture
def far_primary(tmp_path, netns):
    b = Tansu(tmp_path / "tansu-primary-netns.log", host=netns.ns_addr, launch=netns.prefix)
    b.log_name = "tansu primary (in %s)" % netns.name
    try:
        yield b
    finally:
        netns.heal()
        b.stop()


@pytest.fixture
def near_dr(tmp_path):
    b = Tansu(tmp_path / "tansu-dr.log")
    b.log_name = "tansu dr"
    yield b
    b.stop()


def _health(p):
    s = p.status_or_none() or {}
    return {c.get("name"): c.get("healthy") for c in s.get("clusters", [])}


@pytest.mark.timeout(150)
def test_black_holed_primary_fails_over_automatically(netns, far_primary, near_dr, failover_proxy,
                                                      failover_report):
    topic = unique("bh")
    for b in (far_primary, near_dr):
        b.create_topic(topic, PARTITIONS)
    p = failover_proxy({"primary": far_primary, "dr": near_dr}, active="primary", failover=FAILOVER,
                       layout="configmap")
    wait_until(lambda: _health(p) == {"primary": True, "dr": True}, 10, "/status clusters: both healthy",
               detail=p.describe)
    tails = {"primary": ClusterTail("primary", far_primary, topic, PARTITIONS),
             "dr": ClusterTail("dr", near_dr, topic, PARTITIONS)}
    loop = ConfluentProduceLoop(p.bootstrap, topic, interval=0.005).start()
    notes, switches, rep = [], [], None
    t_switch = None
    try:
        phase_wait(loop, tails["primary"], 0, "acknowledged records on primary", timeout=20, need=100, proxy=p)
        t_hole = time.time()
        netns.drop_everything()
        switches.append((t_hole, "primary", "dr", "primary black-holed"))
        t_switch = p.wait_active("dr", DETECT_WITHIN + 10)
        notes.append("black hole -> /status activeCluster dr: %.2fs (allowed %ds: unhealthyAfterSeconds %d + "
                     "probeTimeoutSeconds %d + healthCheckIntervalSeconds %d)"
                     % (t_switch - t_hole, DETECT_WITHIN, UNHEALTHY_AFTER, PROBE_TIMEOUT, INTERVAL))
        last = (p.status().get("failover") or {}).get("lastSwitch") or {}
        assert (last.get("from"), last.get("to"), last.get("reason")) == ("primary", "dr", "unhealthy"), last
        assert netns.dropped() > 0, "nothing was dropped: the black hole did not hold"
        phase_wait(loop, tails["dr"], 0, "producer records arriving on dr after the failover", timeout=30,
                   need=100, proxy=p)
        # What the primary acknowledged before the hole is still there: let the tail read it.
        netns.heal()
        assert metric(p.metrics(), "kafka_proxy_failovers_total", to="dr", reason="unhealthy") == 1
    finally:
        loop.stop(flush_timeout=15)
        wait_settled(loop, tails, timeout=30)
        for t in tails.values():
            t.stop()
        if switches:
            try:
                rep = analyse(loop, tails, switches, drain=DRAIN)
                notes.append(rep["text"])
            except Exception as e:  # noqa: BLE001  (never hide the original failure)
                notes.append("analysis failed: %r" % e)
        failover_report("black-holed primary: automatic failover", "\n".join(notes))

    assert t_switch - t_hole <= DETECT_WITHIN, (
        "switched %.2fs after the black hole (allowed %ds)\n%s" % (t_switch - t_hole, DETECT_WITHIN, "\n".join(notes)))
    assert t_switch - t_hole >= UNHEALTHY_AFTER - 0.2, (
        "switched %.2fs after the black hole, before unhealthyAfterSeconds=%d" % (t_switch - t_hole, UNHEALTHY_AFTER))
    assert rep is not None, "analysis failed (see the report section)"
    assert loop.exception is None and loop.fatal is None, loop.summary()
    assert not rep["lost"], "%d acknowledged records are in neither cluster:\n%s" % (len(rep["lost"]), rep["text"])
    g = rep["gaps"][0]
    assert g["gap"] is not None and g["acks_on_new"] > 0, rep["text"]
