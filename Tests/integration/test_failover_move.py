"""A switch that keeps the client connections (failover.onSwitch: move, the default).

The proxy waits for each connection's responses in flight, then connects the same route on the
new cluster underneath it. librdkafka never sees all its brokers go down, so it does not
re-bootstrap: the longest pause between acknowledgements across a switch and a switch back is the
proxy's own part (the drain of what is in flight, a new broker
connection and, for an idempotent producer, one InitProducerId). With `onSwitch: reconnect`
the same run pauses for librdkafka's re-bootstrap (1-2 s).
"""

import pytest

from failover_support import (DRAIN_SECONDS, ClusterTail, ConfluentProduceLoop, KafkaPythonProduceLoop,
                              analyse, cluster_pair, metric, failover_proxy, failover_report, mock_dr,  # noqa: F401
                              mock_primary, needs_proxy, phase_wait, tansu_dr, tansu_primary, wait_settled)
from helpers import unique

pytestmark = needs_proxy

PARTITIONS = 3
# The bound on the longest pause between acknowledgements across a switch.
MAX_PAUSE_S = 0.3
DWELL = DRAIN_SECONDS + 2.0


def _closed(p):
    """Client connections the proxy has closed so far (accepted minus open)."""
    m = p.metrics()
    return metric(m, "kafka_proxy_connections_total") - metric(m, "kafka_proxy_connections_active")


def _move_run(pair, failover_proxy, failover_report, loop_cls, on_switch="move", **producer_conf):
    topic = unique("mv")
    pair.create_topic(topic, PARTITIONS)
    failover = {"mode": "manual", "order": "[primary, dr]", "drainTimeoutSeconds": DRAIN_SECONDS,
                "onSwitch": on_switch}
    p = failover_proxy(pair.by_name(), active="primary", failover=failover, layout="configmap")
    tails = {name: ClusterTail(name, getattr(pair, name), topic, PARTITIONS) for name in ("primary", "dr")}
    # 500 records a second, acks=all (the clients' default).
    loop = loop_cls(p.bootstrap, topic, interval=0.002, **producer_conf).start()
    switches = []
    accepted = {}          # client connections closed, before the first switch and after the last
    try:
        phase_wait(loop, tails["primary"], 0, "acknowledged records on primary before any switch",
                   timeout=20, need=200, proxy=p)
        accepted["before"] = _closed(p)
        for target, label in (("dr", "failover (swap #1)"), ("primary", "failback (swap #2)")):
            base = tails[target].count()
            t = p.switch(target)
            switches.append((t, "primary" if target == "dr" else "dr", target, label))
            phase_wait(loop, tails[target], base, "records arriving on %s after the swap" % target,
                       timeout=20, dwell_until=t + DWELL, proxy=p)
        accepted["after"] = _closed(p)
    finally:
        loop.stop(flush_timeout=10)
        wait_settled(loop, tails, timeout=20)
        for t in tails.values():
            t.stop()
        rep = None
        if switches:
            rep = analyse(loop, tails, switches)
            failover_report("move %s/%s onSwitch=%s %s" % (pair.kind, loop.client, on_switch, producer_conf),
                            rep["text"] + "\nclient connections closed by the proxy (before the first switch, after the last): %s" % accepted)
    assert rep is not None
    rep["loop"] = loop
    assert loop.exception is None and loop.fatal is None, (loop.exception, loop.fatal, rep["text"])
    assert not rep["lost"], "%d acknowledged records are in neither cluster:\n%s" % (len(rep["lost"]), rep["text"])
    for g in rep["gaps"]:
        assert g["gap"] is not None, "no acknowledged delivery on %s after %s:\n%s" % (g["to"], g["label"], rep["text"])
    return rep, accepted


@pytest.mark.timeout(150)
@pytest.mark.parametrize("idempotence", [True, False], ids=["idempotent", "not-idempotent"])
def test_confluent_producer_keeps_its_connections_across_switches(cluster_pair, failover_proxy, failover_report,
                                                                   idempotence):
    rep, accepted = _move_run(cluster_pair, failover_proxy, failover_report, ConfluentProduceLoop,
                              **{"enable.idempotence": idempotence})
    assert accepted["after"] == accepted["before"], (
        "client connections were closed across the switches instead of being moved (closed before, after): %s\n%s"
        % (accepted, rep["text"]))
    # librdkafka re-bootstraps when every broker connection goes down at once; a move never does that.
    assert not [e for _, e in rep["loop"].client_errors if "_ALL_BROKERS_DOWN" in e], rep["text"]
    for g in rep["gaps"]:
        assert g["longest_ack_stall"] <= MAX_PAUSE_S, (
            "longest pause between acknowledgements around %s: %.3f s (allowed %.1f s)\n%s"
            % (g["label"], g["longest_ack_stall"], MAX_PAUSE_S, rep["text"]))


@pytest.mark.timeout(150)
def test_kafka_python_producer_keeps_its_connections_across_switches(cluster_pair, failover_proxy, failover_report):
    rep, accepted = _move_run(cluster_pair, failover_proxy, failover_report, KafkaPythonProduceLoop,
                              enable_idempotence=False, **cluster_pair.primary.kafka_python_kwargs)
    assert accepted["after"] == accepted["before"], (accepted, rep["text"])
    for g in rep["gaps"]:
        assert g["longest_ack_stall"] <= MAX_PAUSE_S, (g, rep["text"])


@pytest.mark.timeout(150)
def test_reconnect_mode_closes_and_the_producer_reconnects(cluster_pair, failover_proxy, failover_report):
    """`onSwitch: reconnect` keeps the old behaviour: the connections close and are opened again."""
    rep, accepted = _move_run(cluster_pair, failover_proxy, failover_report, ConfluentProduceLoop,
                              on_switch="reconnect", **{"enable.idempotence": True})
    assert accepted["after"] > accepted["before"], ("no connection was closed by the switches: %s\n%s"
                                                    % (accepted, rep["text"]))
