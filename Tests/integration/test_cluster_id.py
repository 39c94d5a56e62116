"""The cluster id clients see: one for the proxy when it can move them between clusters.

Each cluster has its own id. librdkafka warns at every switch that a broker "reports different
ClusterId ... a client must not be simultaneously connected to multiple clusters", and clients
that key state by the id would reset it; with more than one cluster configured the proxy answers
an id derived from the cluster names instead (the same on every proxy with the same clusters).
With one cluster the broker's own id passes unchanged.
"""

import base64
import hashlib
import logging
import io

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from failover_support import (DRAIN_SECONDS, failover_proxy, failover_report, needs_proxy,  # noqa: F401
                              tansu_dr, tansu_primary, wait_until)
from helpers import unique

pytestmark = needs_proxy


def presented_id(names):
    digest = hashlib.sha256(("kafka-proxy clusters " + ",".join(sorted(names))).encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def cluster_id(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).cluster_id


def test_one_id_across_a_switch_and_no_client_warning(tansu_primary, tansu_dr, failover_proxy):
    direct = {cluster_id(tansu_primary.bootstrap), cluster_id(tansu_dr.bootstrap)}
    assert len(direct) == 2, "the two clusters must differ for this test: %s" % direct
    p = failover_proxy({"primary": tansu_primary, "dr": tansu_dr}, active="primary",
                       failover={"mode": "manual", "drainTimeoutSeconds": DRAIN_SECONDS})
    expected = presented_id(["primary", "dr"])
    assert cluster_id(p.bootstrap) == expected

    lines = io.StringIO()
    log = logging.getLogger(unique("rdkafka"))
    log.addHandler(logging.StreamHandler(lines))
    log.propagate = False
    topic = unique("cid")
    for c in (tansu_primary, tansu_dr):
        c.create_topic(topic, 1)
    producer = Producer({"bootstrap.servers": p.bootstrap, "logger": log})
    acked = []

    def produce_one():
        producer.produce(topic, b"x", on_delivery=lambda err, msg: acked.append(err))
        producer.flush(10)

    produce_one()
    for target in ("dr", "primary"):
        p.switch(target)
        p.wait_active(target, timeout=5)
        n = len(acked)
        wait_until(lambda: (produce_one(), len(acked) > n)[1], 20, "a record acknowledged on %s" % target)
        assert cluster_id(p.bootstrap) == expected
    producer.flush(10)
    assert all(err is None for err in acked), acked
    assert "ClusterId" not in lines.getvalue(), lines.getvalue()


def test_one_cluster_passes_its_own_id(tansu_primary, failover_proxy):
    p = failover_proxy({"primary": tansu_primary}, active="primary")
    assert cluster_id(p.bootstrap) == cluster_id(tansu_primary.bootstrap)
