"""kcat (librdkafka CLI) sees only the proxy's addresses."""

import re
import subprocess

from helpers import unique

BROKER_RE = re.compile(r"^\s*broker (-?\d+) at ([^\s:]+):(\d+)", re.M)


def run_kcat(kcat, args, input=None, timeout=30):
    exe, env = kcat
    r = subprocess.run([exe, "-X", "socket.timeout.ms=10000", "-X", "topic.metadata.refresh.interval.ms=5000"] + args,
                       input=input, capture_output=True, env=env, timeout=timeout)
    assert r.returncode == 0, "kcat %s failed (%d):\n%s" % (args, r.returncode, r.stderr.decode(errors="replace"))
    return r.stdout.decode(errors="replace")


def test_kcat_metadata_shows_only_proxy_addresses(cluster, proxied, kcat):
    topic = unique("kcat")
    cluster.create_topic(topic, partitions=2)
    out = run_kcat(kcat, ["-L", "-b", proxied.bootstrap, "-m", "10"])
    brokers = {int(n): (h, int(p)) for n, h, p in BROKER_RE.findall(out)}
    assert sorted(brokers) == sorted(cluster.node_ids), out
    assert topic in out
    for host, port in brokers.values():
        if proxied.direct:
            assert "%s:%d" % (host, port) in cluster.broker_addrs, out
        else:
            assert host == proxied.advertised_host, out
            assert port in proxied.broker_ports, out
            assert port not in cluster.broker_ports, out
    if not proxied.direct:
        # no real broker address anywhere in the listing
        for addr in cluster.broker_addrs:
            assert addr not in out, out
        # distinct nodes get distinct proxy ports
        assert len({p for _, p in brokers.values()}) == len(brokers)


def test_kcat_produce_consume(cluster, proxied, kcat):
    topic = unique("kcatpc")
    cluster.create_topic(topic, partitions=1)
    lines = ["line-%d" % i for i in range(10)]
    run_kcat(kcat, ["-P", "-b", proxied.bootstrap, "-t", topic, "-p", "0", "-X", "acks=all"],
             input=("\n".join(lines) + "\n").encode())
    out = run_kcat(kcat, ["-C", "-b", proxied.bootstrap, "-t", topic, "-p", "0", "-o", "beginning",
                          "-e", "-c", "10", "-q"])
    assert out.split() == lines
