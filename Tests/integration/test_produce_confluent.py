"""confluent-kafka producing through the proxy with every acks mode."""

import pytest

from helpers import produce_confluent, read_all, unique

MODES = {
    "acks0": {"acks": "0"},
    "acks1": {"acks": "1"},
    "acksall": {"acks": "all"},
    "idempotent": {"enable.idempotence": True},
}


@pytest.mark.parametrize("mode", list(MODES))
def test_produce_and_read_back(cluster, proxied, mode):
    topic = unique("prod-" + mode)
    cluster.create_topic(topic, partitions=3)
    keep = []  # keep the producer connected until read back (acks=0, see helpers)
    delivered = produce_confluent(proxied.bootstrap, topic, n=30, keep=keep, **MODES[mode])
    if mode != "acks0":
        # acks>=1: every report carries a real offset, unique per partition.
        assert all(off >= 0 for _, off, _ in delivered), delivered[:5]
        assert len({(p, o) for p, o, _ in delivered}) == 30
    got = read_all(proxied.bootstrap, topic, expected=30)
    assert sorted(got) == sorted(b"v-%d" % i for i in range(30))
