"""Automatic failover and failback driven by health checks (issue 3).

Primary and dr are Tansu brokers started for this test only. A producer runs through the
proxy; the primary broker process is killed (the proxy must move clients to dr after
unhealthyAfterSeconds), then a new broker is started on the primary's port (the proxy must
fail back after failbackAfterSeconds of health).
"""

import json
import time

import pytest

from conftest import Tansu
from failover_support import (ClusterTail, ConfluentProduceLoop, analyse, failover_proxy,  # noqa: F401
                              failover_report, metric, metric_lines, needs_proxy, phase_wait, wait_settled,
                              wait_until)
from helpers import unique

pytestmark = needs_proxy

INTERVAL, UNHEALTHY_AFTER, FAILBACK_AFTER, DRAIN = 1, 3, 5, 2
FAILOVER = {"mode": "automatic", "order": ["primary", "dr"], "healthCheckIntervalSeconds": INTERVAL,
            "unhealthyAfterSeconds": UNHEALTHY_AFTER, "failback": "automatic",
            "failbackAfterSeconds": FAILBACK_AFTER, "drainTimeoutSeconds": DRAIN}
PARTITIONS = 3


class Brokers:
    """Every broker process of the test (for teardown and the failure log tails)."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.all = []

    def start(self, name, port=None):
        b = Tansu(self.tmp_path / ("%s-%d.log" % (name, len(self.all))), port=port)
        b.log_name = "tansu %s #%d" % (name, len(self.all))
        self.all.append(b)
        return b

    def log_owners(self):
        return list(self.all)

    def stop(self):
        for b in self.all:
            b.stop()


@pytest.fixture
def brokers(tmp_path):
    bs = Brokers(tmp_path)
    yield bs
    bs.stop()


def _cluster_health(p):
    s = p.status_or_none() or {}
    return {c.get("name"): c.get("healthy") for c in s.get("clusters", [])}


@pytest.mark.timeout(120)
def test_automatic_failover_and_failback(brokers, failover_proxy, failover_report):
    primary = brokers.start("primary")
    dr = brokers.start("dr")
    topic = unique("auto")
    for b in (primary, dr):
        b.create_topic(topic, PARTITIONS)
    p = failover_proxy({"primary": primary, "dr": dr}, active="primary", failover=FAILOVER, layout="configmap")
    wait_until(lambda: _cluster_health(p) == {"primary": True, "dr": True}, 10,
               "/status clusters: both healthy", detail=p.describe)

    old_tail = ClusterTail("primary", primary, topic, PARTITIONS)
    dr_tail = ClusterTail("dr", dr, topic, PARTITIONS)
    new_tail = None
    loop = ConfluentProduceLoop(p.bootstrap, topic, interval=0.005, **{"enable.idempotence": False}).start()
    notes, switches = [], []
    try:
        phase_wait(loop, old_tail, 0, "acknowledged records on primary", timeout=20, need=50, proxy=p)

        # ---- the primary broker dies
        t_kill = time.time()
        primary.proc.kill()
        primary.proc.wait(5)
        time.sleep(0.3)
        old_tail.stop()          # before anything listens on that port again
        switches.append((t_kill, "primary", "dr", "primary killed"))
        t_dr = p.wait_active("dr", UNHEALTHY_AFTER + INTERVAL + 12)
        notes.append("kill -> /status activeCluster dr: %.2fs (unhealthyAfterSeconds %d)"
                     % (t_dr - t_kill, UNHEALTHY_AFTER))
        assert t_dr - t_kill >= UNHEALTHY_AFTER - INTERVAL - 0.5, (
            "switched %.2fs after the kill, before unhealthyAfterSeconds=%d" % (t_dr - t_kill, UNHEALTHY_AFTER))
        phase_wait(loop, dr_tail, 0, "producer records arriving on dr after the automatic failover",
                   timeout=25, proxy=p)
        s = p.status()
        m = p.metrics()
        last = (s.get("failover") or {}).get("lastSwitch") or {}
        assert (last.get("from"), last.get("to"), last.get("reason")) == ("primary", "dr", "unhealthy"), \
            "/status failover.lastSwitch %s" % last
        assert _cluster_health(p).get("primary") is False, "/status clusters %s" % s.get("clusters")
        assert metric(m, "kafka_proxy_failovers_total", to="dr", reason="unhealthy") == 1, \
            metric_lines(m, "kafka_proxy_failovers_total")
        assert metric(m, "kafka_proxy_cluster_healthy", cluster="primary") == 0, \
            metric_lines(m, "kafka_proxy_cluster_healthy")
        assert metric(m, "kafka_proxy_active_cluster", cluster="dr") == 1, metric_lines(m, "kafka_proxy_active_cluster")

        # ---- a primary broker comes back on the same port (empty: memory storage)
        t_restart = time.time()
        primary2 = brokers.start("primary", port=primary.port)
        primary2.create_topic(topic, PARTITIONS)
        new_tail = ClusterTail("primary", primary2, topic, PARTITIONS)
        wait_until(lambda: _cluster_health(p).get("primary") is True, FAILBACK_AFTER,
                   "/status: primary healthy again", detail=p.describe)
        assert p.status().get("activeCluster") == "dr", "failed back before failbackAfterSeconds"
        t_back = p.wait_active("primary", FAILBACK_AFTER + INTERVAL + 12)
        notes.append("primary restarted -> /status activeCluster primary: %.2fs (failbackAfterSeconds %d)"
                     % (t_back - t_restart, FAILBACK_AFTER))
        assert t_back - t_restart >= FAILBACK_AFTER - 0.5, (
            "failed back %.2fs after the restart, before failbackAfterSeconds=%d" % (t_back - t_restart, FAILBACK_AFTER))
        switches.append((t_back, "dr", "primary", "failback"))
        phase_wait(loop, new_tail, 0, "producer records arriving on the restarted primary after failback",
                   timeout=25, proxy=p)
        s = p.status()
        m = p.metrics()
        last = (s.get("failover") or {}).get("lastSwitch") or {}
        assert (last.get("from"), last.get("to"), last.get("reason")) == ("dr", "primary", "failback"), \
            "/status failover.lastSwitch %s" % last
        assert metric(m, "kafka_proxy_failovers_total", to="primary", reason="failback") == 1, \
            metric_lines(m, "kafka_proxy_failovers_total")
        assert metric(m, "kafka_proxy_failovers_total", reason="unhealthy") == 1, \
            metric_lines(m, "kafka_proxy_failovers_total")
        assert metric(m, "kafka_proxy_active_cluster", cluster="primary") == 1
        assert metric(m, "kafka_proxy_cluster_healthy", cluster="primary") == 1
        notes.append("status: %s" % json.dumps({k: s.get(k) for k in ("activeCluster", "failover", "clusters")}))
    finally:
        loop.stop(flush_timeout=10)
        tails = {"primary (before kill)": old_tail, "dr": dr_tail}
        if new_tail is not None:
            tails["primary"] = new_tail
        wait_settled(loop, {k: v for k, v in tails.items() if v is not old_tail}, timeout=10)
        for t in tails.values():
            t.stop()
        rep = None
        if switches:
            # the killed broker kept its records in memory: what its tail had read before the kill counts
            switches_named = [(switches[0][0], "primary (before kill)", "dr", switches[0][3])] + switches[1:]
            try:
                rep = analyse(loop, tails, switches_named, drain=DRAIN)
                notes.append(rep["text"])
            except Exception as e:  # noqa: BLE001  (never hide the original failure)
                notes.append("analysis failed: %r" % e)
        failover_report("automatic failover", "\n".join(notes))

    assert rep is not None, "analysis failed (see the report section)"
    assert loop.exception is None and loop.fatal is None, loop.summary()
    acked = dict(loop.acked)
    # Acknowledged before the kill and not yet read by the tail: gone with the broker's memory.
    # Everything acknowledged after the kill must be on dr or on the new primary.
    lost_after_kill = sorted(s for s in rep["lost"] if acked[s][0] >= t_kill + 0.5)
    failover_report("automatic failover: lost records", "%d of the %d 'lost' were acknowledged by the primary "
                    "before it was killed (its memory storage went with it; excused), %d after the kill"
                    % (len(rep["lost"]) - len(lost_after_kill), len(rep["lost"]), len(lost_after_kill)))
    assert not lost_after_kill, ("%d records acknowledged after the kill are in neither cluster: %s\n%s"
                                 % (len(lost_after_kill), lost_after_kill[:20], rep["text"]))
    for g in rep["gaps"]:
        assert g["gap"] is not None, "no acknowledged delivery on %s after %s:\n%s" % (g["to"], g["label"], rep["text"])
    assert not rep["late_on_old"], ("acknowledgements from the old cluster after the drain: %s\n%s"
                                    % (rep["late_on_old"][:10], rep["text"]))
