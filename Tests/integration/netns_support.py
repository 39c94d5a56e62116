"""A network namespace of the test's own, for what loopback cannot show: a peer that black-holes.

Netns() creates a namespace and a veth pair with a random private /30 (10.213.x.y): `host_addr` on
this host's end, `ns_addr` inside; nothing is routed beyond the pair. `prefix` runs a process
inside (`ip netns exec`). drop_everything() makes the namespace silent: every packet it sends is
dropped, so a peer inside neither answers nor resets (what a failed data centre looks like);
heal() undoes it. delete() kills what runs inside and removes both; the `netns` fixture always
calls it. Needs root (CAP_NET_ADMIN); the test is skipped where `ip netns add` is refused.
"""

import ipaddress
import os
import random
import re
import subprocess
import time

import pytest


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=check)


class Netns:
    """A network namespace with a veth pair: `host_addr` on this host's end, `ns_addr` inside."""

    def __init__(self, purpose="test"):
        tag = "%05x" % random.randrange(16 ** 5)
        self.name = "kpt-%s-%s" % (purpose, tag)
        self.host_dev, self.ns_dev = "kph%s" % tag, "kpn%s" % tag
        r = _ip("netns", "add", self.name, check=False)
        if r.returncode != 0:
            pytest.skip("ip netns add is not permitted here: %s" % r.stderr.strip())
        try:
            used = _ip("-o", "-4", "addr", "show").stdout
            for _ in range(100):
                net = ipaddress.ip_network("10.213.%d.%d/30" % (random.randrange(256), 4 * random.randrange(64)))
                if str(net.network_address)[:-1] not in used:
                    break
            self.host_addr, self.ns_addr = str(net.network_address + 1), str(net.network_address + 2)
            _ip("link", "add", self.host_dev, "type", "veth", "peer", "name", self.ns_dev)
            _ip("link", "set", self.ns_dev, "netns", self.name)
            _ip("addr", "add", "%s/30" % self.host_addr, "dev", self.host_dev)
            _ip("link", "set", self.host_dev, "up")
            self.exec("ip", "addr", "add", "%s/30" % self.ns_addr, "dev", self.ns_dev)
            self.exec("ip", "link", "set", self.ns_dev, "up")
            self.exec("ip", "link", "set", "lo", "up")
        except Exception:
            self.delete()
            raise

    @property
    def prefix(self):
        return ["ip", "netns", "exec", self.name]

    def exec(self, *cmd, check=True):
        return subprocess.run([*self.prefix, *cmd], capture_output=True, text=True, timeout=10, check=check)

    def drop_everything(self):
        """Every packet the namespace sends (SYN-ACKs, replies, ARP) is dropped: from outside the
        namespace is a black hole (no RST, no ICMP). A pfifo of length 0 needs no optional kernel
        module (netem and iptables are not available everywhere)."""
        self.exec("tc", "qdisc", "add", "dev", self.ns_dev, "root", "pfifo", "limit", "0")

    def heal(self):
        """Undo drop_everything(): the namespace's packets flow again."""
        self.exec("tc", "qdisc", "del", "dev", self.ns_dev, "root", check=False)

    def dropped(self):
        out = self.exec("tc", "-s", "qdisc", "show", "dev", self.ns_dev, check=False).stdout
        m = re.search(r"dropped (\d+)", out)
        return int(m.group(1)) if m else 0

    def delete(self):
        pids = _ip("netns", "pids", self.name, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass
        _ip("netns", "del", self.name, check=False)
        deadline = time.time() + 5
        # The veth goes with the namespace once its last process is gone.
        while time.time() < deadline and _ip("link", "show", self.host_dev, check=False).returncode == 0:
            _ip("link", "del", self.host_dev, check=False)
            time.sleep(0.1)


@pytest.fixture
def netns():
    ns = Netns()
    try:
        yield ns
    finally:
        ns.delete()
