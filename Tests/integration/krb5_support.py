"""A throw-away MIT Kerberos realm for the GSSAPI tests (issue 5): krb5kdc (Debian krb5-kdc)
started in the foreground on a free loopback port, with its database, stash, krb5.conf and
kdc.conf under a temporary directory; principals and keytabs made with kadmin.local.

Nothing outside the directory is touched: every command runs with KRB5_CONFIG and
KRB5_KDC_PROFILE pointing at the generated files (`env()`)."""

import os
import shutil
import subprocess
import time

import pytest

from conftest import HOST, _tail, free_port

REALM = "KAFKA-PROXY.TEST"


class KDC:
    def __init__(self, workdir, realm=REALM, host=HOST, launch=()):
        """host: the address the KDC listens on and krb5.conf names; launch: a command prefix for
        krb5kdc (for example `ip netns exec NAME`, to run it in a network namespace)."""
        for tool in ("krb5kdc", "kdb5_util", "kadmin.local"):
            if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
                pytest.fail("%s not installed (krb5-kdc krb5-admin-server): run scripts/install-test-deps" % tool)
        self.realm = realm
        self.host = host
        self.dir = str(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.krb5_conf = self.path("krb5.conf")
        self.kdc_conf = self.path("kdc.conf")
        self.log_path = self.path("kdc.log")
        with open(self.krb5_conf, "w") as f:
            f.write(
                "[libdefaults]\n"
                "  default_realm = {r}\n  dns_lookup_kdc = false\n  dns_lookup_realm = false\n"
                "  dns_canonicalize_hostname = false\n  rdns = false\n  udp_preference_limit = 1\n"
                "  ticket_lifetime = 1h\n  forwardable = false\n"
                "[realms]\n  {r} = {{\n    kdc = {h}:{p}\n  }}\n"
                "[domain_realm]\n  127.0.0.1 = {r}\n  localhost = {r}\n".format(r=realm, h=host, p=self.port))
        with open(self.kdc_conf, "w") as f:
            f.write(
                "[kdcdefaults]\n  kdc_listen = {h}:{p}\n  kdc_tcp_listen = {h}:{p}\n"
                "[realms]\n  {r} = {{\n    database_name = {d}/principal\n    key_stash_file = {d}/stash\n"
                "    acl_file = {d}/kadm5.acl\n    kdc_listen = {h}:{p}\n    kdc_tcp_listen = {h}:{p}\n"
                "    max_life = 1h\n  }}\n"
                "[logging]\n  kdc = FILE:{d}/kdc-events.log\n  default = FILE:{d}/kdc-events.log\n"
                .format(r=realm, h=host, p=self.port, d=self.dir))
        open(self.path("kadm5.acl"), "w").close()
        self.run("kdb5_util", "-r", realm, "create", "-s", "-P", "it-master-password")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([*launch, "krb5kdc", "-n", "-r", realm], env=self.env(), stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        # The KDC is up once it listens on TCP.
        from conftest import wait_port
        if not wait_port(host, self.port, 10):
            self.stop()
            pytest.fail("krb5kdc did not come up:\n%s\n%s" % (_tail(self.log_path), _tail(self.path("kdc-events.log"))))

    def path(self, name):
        return os.path.join(self.dir, name)

    def env(self, **extra):
        env = dict(os.environ, KRB5_CONFIG=self.krb5_conf, KRB5_KDC_PROFILE=self.kdc_conf)
        env.update(extra)
        return env

    def run(self, *cmd):
        r = subprocess.run(list(cmd), env=self.env(), capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError("%s failed (%d): %s %s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
        return r.stdout

    def kadmin(self, query):
        return self.run("kadmin.local", "-r", self.realm, "-q", query)

    def principal(self, name, keytab):
        """Create name@REALM with a random key and export it to `keytab` (returns the full name)."""
        full = "%s@%s" % (name, self.realm)
        self.kadmin("addprinc -randkey %s" % full)
        self.kadmin("ktadd -k %s %s" % (keytab, full))
        return full

    def stop(self):
        if getattr(self, "proc", None) is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None) is not None:
            self._log.close()

    def events(self):
        p = self.path("kdc-events.log")
        if not os.path.exists(p):
            return ""
        with open(p, errors="replace") as f:
            return f.read()
