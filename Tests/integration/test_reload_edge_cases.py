"""Config hot reload edge cases (issue 3): invalid edits, every way a file changes, SIGHUP,
a deleted file, and settings that need a restart.

Two Tansu brokers, "primary" and "dr". Every valid edit below toggles activeCluster, so its
effect is visible in /status and in where records produced through the proxy land (read
directly from each broker).
"""

import hashlib
import socket
import threading
import time

import pytest

from failover_support import (DRAIN_SECONDS, TrafficProbe, failover_proxy, failover_report, metric,  # noqa: F401
                              needs_proxy, tansu_dr, tansu_primary, wait_until)
from conftest import HOST, free_port
from helpers import unique

pytestmark = needs_proxy

FAILOVER = {"mode": "manual", "drainTimeoutSeconds": DRAIN_SECONDS}
RELOAD_TIMEOUT = 5     # the contract says 200 ms; generous for a loaded CI machine


def state(p):
    s = p.status()
    m = p.metrics()
    return {"gen": s.get("configGeneration"), "active": s.get("activeCluster"), "last": s.get("lastReload"),
            "ok": metric(m, "kafka_proxy_config_reloads_total", result="success"),
            "err": metric(m, "kafka_proxy_config_reloads_total", result="error")}


def wait_counted(p, before, result, t_change, what, check=None):
    """Wait until kafka_proxy_config_reloads_total{result} went up and /status lastReload
    shows that result (and `check(state)` holds, if given); returns (state, latency).
    (/status and /metrics are read one after the other, so both must agree before we judge.)"""
    key = "ok" if result == "success" else "err"
    seen = {}

    def counted():
        st = state(p)
        seen["st"] = st
        return (st[key] > before[key] and (st["last"] or {}).get("result") == result
                and (check is None or check(st)))
    wait_until(counted, RELOAD_TIMEOUT, "%s: kafka_proxy_config_reloads_total{result=%r} to go up from %s "
               "and /status lastReload to show it" % (what, result, before[key]), interval=0.05,
               detail=lambda: "last state %s\n%s" % (seen.get("st"), p.describe()))
    return seen["st"], time.time() - t_change


@pytest.fixture
def pair(tansu_primary, tansu_dr):
    return {"primary": tansu_primary, "dr": tansu_dr}


def _probe(p, pair):
    topic = unique("rl")
    for c in pair.values():
        c.create_topic(topic, 1)
    return TrafficProbe(p, pair, topic)


@pytest.mark.timeout(90)
def test_invalid_edits_keep_running_config(pair, failover_proxy, failover_report):
    p = failover_proxy(pair, active="primary", failover=FAILOVER, layout="plain")
    probe = _probe(p, pair)
    notes = []
    try:
        probe.check("primary", tag="initial")
        st0 = state(p)
        assert st0["active"] == "primary", st0
        # every invalid file below would also switch to dr if (wrongly) applied in part
        bad = [
            ("bad YAML", p.render(active="dr") + "bogus: [never closed\n", None),
            ("unknown key", p.render(active="dr") + "failovr:\n  mode: automatic\n", "failovr"),
            ("activeCluster names a missing cluster", p.render(active="nosuchcluster"), "nosuchcluster"),
        ]
        for name, text, hint in bad:
            before = state(p)
            t = p.write_config(text, how="inplace", note=name)
            check = (lambda st, h=hint: h in ((st["last"] or {}).get("error") or "")) if hint else None
            after, latency = wait_counted(p, before, "error", t, name, check)
            time.sleep(0.3)                        # a second count of the same edit would show now
            after = state(p)
            notes.append("%s: error counted after %.3fs, lastReload %s" % (name, latency, after["last"]))
            last = after["last"] or {}
            assert last.get("result") == "error", "%s: /status lastReload %s" % (name, last)
            assert last.get("error"), "%s: /status lastReload has no reason: %s" % (name, last)
            if hint:
                assert hint in last["error"], "%s: reason %r does not mention %r" % (name, last["error"], hint)
            if name == "unknown key":
                # The log shows what `kafka-proxy check` prints: file:line:column, the line, a caret.
                lines = text.splitlines()
                row = next(i for i, l in enumerate(lines, 1) if l.startswith("failovr:"))
                log = p.log_text()
                assert "%s:%d:1: error: unknown key 'failovr'" % (p.config_path, row) in log, log[-2000:]
                assert "%5d | failovr:" % row in log, log[-2000:]
                assert last["error"].startswith("%s:%d:1: error:" % (p.config_path, row)), last["error"]
            assert after["err"] == before["err"] + 1, "%s: one edit counted %d times as an error reload" % (
                name, after["err"] - before["err"])
            assert after["gen"] == before["gen"], "%s: configGeneration %s -> %s" % (name, before["gen"], after["gen"])
            assert after["ok"] == before["ok"], "%s: counted as a successful reload too" % name
            assert after["active"] == "primary", "%s: activeCluster is now %s" % (name, after["active"])
            assert p.alive(), "%s: proxy exited" % name
            probe.check("primary", tag="after-" + name.split()[0])
        assert metric(p.metrics(), "kafka_proxy_config_reloads_total", result="error") >= st0["err"] + 3

        # the next valid edit applies
        before = state(p)
        t = p.switch("dr", how="inplace")
        after, latency = wait_counted(p, before, "success", t, "valid edit after invalid ones")
        notes.append("valid edit: applied after %.3fs, lastReload %s" % (latency, after["last"]))
        p.wait_active("dr", RELOAD_TIMEOUT)
        after = state(p)
        assert after["gen"] == before["gen"] + 1, "configGeneration %s -> %s" % (before["gen"], after["gen"])
        assert (after["last"] or {}).get("result") == "success", after["last"]
        probe.check("dr", tag="after-valid-edit")
    finally:
        probe.close()
        failover_report("reload: invalid edits", "\n".join(notes))


@pytest.mark.timeout(90)
def test_status_shows_each_reload_whole(pair, failover_proxy, failover_report):
    """/status read as fast as it answers while reloads switch back and forth: every answer pairs the
    generation with that generation's file digest, its reload record and its switch, never half of a
    reload (a fresh clone once saw a new configGeneration with lastReload null)."""
    p = failover_proxy(pair, active="primary", failover=FAILOVER, layout="plain")
    def file_digest():
        with open(p.config_path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    digests = [file_digest()]
    actives = ["primary"]
    seen = []
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            st = p.status_or_none()
            if st:
                seen.append(st)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        for i in range(8):
            active = "dr" if i % 2 == 0 else "primary"
            p.switch(active, how="rename")              # atomic: no reader sees a half-written file
            digests.append(file_digest())
            actives.append(active)
            wait_until(lambda: (p.status_or_none() or {}).get("configDigest") == digests[-1], RELOAD_TIMEOUT,
                       "reload %d applied" % (i + 1), interval=0.02, detail=p.describe)
            # A rename applies within milliseconds: let the poller read each generation a few times,
            # so every one is checked and not only those that happened to fall between two reads.
            wait_until(lambda: sum(1 for st in list(seen) if st["configDigest"] == digests[-1]) >= 3, RELOAD_TIMEOUT,
                       "the poller reading reload %d" % (i + 1), interval=0.01, detail=p.describe)
    finally:
        stop.set()
        poller.join(5)
    problems = []
    for st in seen:
        gen = st["configGeneration"]
        if not 1 <= gen <= len(digests):
            problems.append("generation %s out of range" % gen)
            continue
        if st["configDigest"] != digests[gen - 1]:
            problems.append("generation %d with the digest of another file: %s" % (gen, st["configDigest"]))
        if st["activeCluster"] != actives[gen - 1]:
            problems.append("generation %d with activeCluster %s" % (gen, st["activeCluster"]))
        if gen > 1:
            last, switch = st["lastReload"], st["failover"]["lastSwitch"]
            if not last or last.get("result") != "success":
                problems.append("generation %d with lastReload %s" % (gen, last))
            if not switch or switch.get("to") != st["activeCluster"]:
                problems.append("generation %d, active %s, with lastSwitch %s" % (gen, st["activeCluster"], switch))
    failover_report("reload: /status snapshots", "%d answers read during 8 reloads" % len(seen))
    assert len(seen) > 20, "the poller read only %d answers" % len(seen)
    assert not problems, "%d of %d answers showed part of a reload: %s" % (len(problems), len(seen), problems[:5])


@pytest.mark.timeout(60)
def test_comment_only_edit_changes_only_the_digest(pair, failover_proxy, failover_report):
    """Pods compare digests, and a pod started after a comment-only edit reads the new bytes: a running
    pod must take the new digest too, with nothing else to apply (same generation, no reload counted)."""
    p = failover_proxy(pair, active="primary", failover=FAILOVER, layout="plain")
    before = state(p)
    with open(p.config_path, "rb") as f:
        text = f.read().decode()
    p.write_config(text + "# reviewed, nothing changed\n", how="rename", note="comment only")
    digest = hashlib.sha256((text + "# reviewed, nothing changed\n").encode()).hexdigest()
    wait_until(lambda: (p.status_or_none() or {}).get("configDigest") == digest, RELOAD_TIMEOUT,
               "the new digest in /status", interval=0.05, detail=p.describe)
    after = state(p)
    assert after["gen"] == before["gen"], "configGeneration %s -> %s" % (before["gen"], after["gen"])
    assert (after["ok"], after["err"]) == (before["ok"], before["err"]), (before, after)
    info = [l for l in p.metrics().splitlines() if l.startswith("kafka_proxy_config_info")]
    assert info == ['kafka_proxy_config_info{digest="%s",active_cluster="primary"} 1.0' % digest], info
    assert "no setting changed; digest %s" % digest in p.log_text()


@pytest.mark.timeout(90)
def test_inplace_write_and_rename_each_reload(pair, failover_proxy, failover_report):
    p = failover_proxy(pair, active="primary", failover=FAILOVER, layout="plain")
    notes = []
    steps = [("in-place write", lambda: p.switch("dr", how="inplace"), "dr"),
             ("write temp + rename", lambda: p.switch("primary", how="rename"), "primary"),
             ("in-place write again", lambda: p.switch("dr", how="inplace"), "dr"),
             ("write temp + rename again", lambda: p.switch("primary", how="rename"), "primary")]
    try:
        for name, action, active in steps:
            before = state(p)
            t = action()
            after, latency = wait_counted(p, before, "success", t, name,
                                          check=lambda st, a=active: st["active"] == a)
            time.sleep(0.3)                        # a second reload of the same edit would show now
            after = state(p)
            notes.append("%s: reload after %.3fs, generation %s -> %s" % (name, latency, before["gen"], after["gen"]))
            assert after["gen"] == before["gen"] + 1, "%s: configGeneration %s -> %s" % (
                name, before["gen"], after["gen"])
            assert after["active"] == active, "%s: activeCluster %s, expected %s" % (name, after["active"], active)
            assert (after["last"] or {}).get("result") == "success", "%s: lastReload %s" % (name, after["last"])
            # an in-place write truncates first: a debounced watcher must not read the empty file
            assert after["err"] == before["err"], "%s: an error reload was counted too: %s" % (name, after["last"])
        probe = _probe(p, pair)
        try:
            probe.check("primary", tag="after-edits")
        finally:
            probe.close()
    finally:
        failover_report("reload: in-place and rename", "\n".join(notes))


@pytest.mark.timeout(90)
def test_sighup_reloads(pair, failover_proxy, failover_report):
    """The config path runs through a directory symlink; repointing that symlink changes the
    file's content without an event in any directory the proxy watches, so the new version
    is read only because of the SIGHUP."""
    p = failover_proxy(pair, active="primary", failover=FAILOVER, layout="symlinked-dir")
    before = state(p)
    p.active = "dr"
    p.files.swap(p.render(active="dr"))
    time.sleep(1.0)
    unprompted = state(p)
    if unprompted["gen"] != before["gen"] or unprompted["active"] != before["active"]:
        # the proxy noticed the swap by itself (fine); SIGHUP on an unchanged file must not hurt
        t = p.sighup()
        time.sleep(1.0)
        after = state(p)
        failover_report("reload: SIGHUP", "the proxy picked up a parent-directory symlink swap without SIGHUP; "
                        "SIGHUP checked on an unchanged file only: %s -> %s" % (unprompted, after))
        assert p.alive() and after["active"] == "dr" and after["err"] == unprompted["err"], (unprompted, after)
        return
    t = p.sighup()
    after, latency = wait_counted(p, before, "success", t, "SIGHUP", check=lambda st: st["active"] == "dr")
    failover_report("reload: SIGHUP", "applied %.3fs after SIGHUP: generation %s -> %s"
                    % (latency, before["gen"], after["gen"]))
    assert after["gen"] == before["gen"] + 1, "configGeneration %s -> %s" % (before["gen"], after["gen"])
    probe = _probe(p, pair)
    try:
        probe.check("dr", tag="after-sighup")
    finally:
        probe.close()


@pytest.mark.timeout(90)
def test_deleted_file_keeps_running_config(pair, failover_proxy, failover_report):
    p = failover_proxy(pair, active="primary", failover=FAILOVER, layout="plain")
    probe = _probe(p, pair)
    try:
        probe.check("primary", tag="initial")
        before = state(p)
        p.files.delete()
        time.sleep(1.0)                          # well past the 200 ms reaction time
        after = state(p)
        assert p.alive(), "proxy exited after its config file was deleted"
        assert after["active"] == "primary" and after["gen"] == before["gen"], (before, after)
        probe.check("primary", tag="after-delete")

        # a new file at the same path is picked up again (the watch survived the deletion)
        t = p.switch("dr", how="inplace")
        after2, latency = wait_counted(p, after, "success", t, "file re-created after deletion")
        p.wait_active("dr", RELOAD_TIMEOUT)
        assert state(p)["gen"] == after["gen"] + 1
        probe.check("dr", tag="after-recreate")
        failover_report("reload: delete", "deleted: lastReload %s; re-created: applied after %.3fs"
                        % (after["last"], latency))
    finally:
        probe.close()


def _names_listener(keys):
    """restartRequired names the changed key, or its section ("listener.bootstrapPort" or "listener")."""
    return any(str(k) == "listener" or str(k).startswith("listener.bootstrapPort") for k in keys or [])


def _listening(port):
    try:
        socket.create_connection((HOST, port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.timeout(90)
def test_bootstrap_port_change_needs_restart(pair, failover_proxy, failover_report):
    p = failover_proxy(pair, active="primary", failover=FAILOVER, layout="configmap")
    probe = _probe(p, pair)
    new_port = free_port()
    try:
        before = state(p)
        t = p.write_config(p.render(listener=p.listener(bootstrapPort=new_port)), note="bootstrapPort change")

        def reported():
            last = (p.status().get("lastReload") or {})
            return last if _names_listener(last.get("restartRequired")) else None
        last = wait_until(reported, RELOAD_TIMEOUT, "/status lastReload.restartRequired naming listener(.bootstrapPort)",
                          interval=0.05, detail=p.describe)
        latency = time.time() - t
        after = state(p)
        assert after["ok"] + after["err"] > before["ok"] + before["err"], "reload not counted: %s -> %s" % (before, after)
        assert after["active"] == "primary"
        assert not _listening(new_port), "the proxy opened the new bootstrap port %d without a restart" % new_port
        assert _listening(p.bootstrap_port), "the old bootstrap port %d is gone" % p.bootstrap_port
        probe.check("primary", tag="after-port-edit")

        # the same file with activeCluster changed too: the port is still ignored, the rest applies
        before = state(p)
        t = p.write_config(p.render(active="dr", listener=p.listener(bootstrapPort=new_port)),
                           note="bootstrapPort change + activeCluster dr")
        p.wait_active("dr", RELOAD_TIMEOUT)
        after = state(p)
        assert after["gen"] > before["gen"], (before, after)
        assert _names_listener((after["last"] or {}).get("restartRequired")), after["last"]
        assert not _listening(new_port)
        probe.check("dr", tag="after-port-and-cluster-edit")
        failover_report("reload: restart-required", "reported after %.3fs: %s" % (latency, last))
    finally:
        probe.close()
