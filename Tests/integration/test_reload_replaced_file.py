"""The config watcher follows what its path is now, whatever replaced it.

A ConfigMap-style directory (config.yaml -> ..data/config.yaml) where an operator runs GNU
`sed -i` on config.yaml: sed writes a new regular file and renames it over the symlink, so
later `..data` swaps cannot reach the path any more. The watcher must still see every change
to what the path now is (in-place writes, renames), say once that `..data` no longer reaches
the path, and pick up `..data` swaps again once the symlink is restored.

Every step toggles activeCluster; /status shows which file version is in force.
"""

import os
import shutil
import subprocess

import pytest

from failover_support import mock_dr, mock_primary, failover_proxy, needs_proxy, wait_until  # noqa: F401

pytestmark = needs_proxy

FAILOVER = {"mode": "manual", "drainTimeoutSeconds": 2}
RELOAD_TIMEOUT = 5


def _wait_status(p, active, what):
    def ok():
        s = p.status_or_none() or {}
        return s.get("activeCluster") == active and (s.get("lastReload") or {}).get("result") == "success"
    wait_until(ok, RELOAD_TIMEOUT, "%s: /status activeCluster == %r after a successful reload" % (what, active),
               interval=0.05, detail=p.describe)


def _log(p):
    with open(p.log_path, errors="replace") as f:
        return f.read()


@pytest.mark.timeout(90)
@pytest.mark.skipif(shutil.which("sed") is None, reason="needs sed")
def test_replaced_symlink_and_back_keep_reloading(mock_primary, mock_dr, failover_proxy):
    pair = {"primary": mock_primary, "dr": mock_dr}
    p = failover_proxy(pair, active="primary", failover=FAILOVER, layout="configmap")
    files = p.files
    path = files.path
    assert os.path.islink(path)

    # 1. the ..data swap, as kubelet does it
    p.switch("dr")
    _wait_status(p, "dr", "..data swap")
    gen = p.generation()

    # 2. GNU sed -i: the symlink becomes a regular file with the edit
    subprocess.run(["sed", "-i", "s/^activeCluster: dr$/activeCluster: primary/", path], check=True)
    assert not os.path.islink(path) and os.path.isfile(path)
    _wait_status(p, "primary", "sed -i over the symlink")
    assert p.generation() == gen + 1
    wait_until(lambda: "no longer a symlink" in _log(p), RELOAD_TIMEOUT,
               "a log line saying the config path was replaced by a regular file", detail=lambda: _log(p)[-3000:])

    # 3. the regular file edited in place, then replaced by rename
    with open(path, "w") as f:
        f.write(p.render(active="dr"))
    _wait_status(p, "dr", "in-place write to the replaced file")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(p.render(active="primary"))
    os.replace(tmp, path)
    _wait_status(p, "primary", "rename over the replaced file")

    # 4. a ..data swap while the path is a regular file cannot reach it: the running config stays,
    #    and the log says why
    gen = p.generation()
    files.write(p.render(active="dr"))
    wait_until(lambda: "..data changed" in _log(p), RELOAD_TIMEOUT,
               "a log line saying the ..data swap does not reach the replaced path", detail=lambda: _log(p)[-3000:])
    s = p.status()
    assert s["activeCluster"] == "primary" and s["configGeneration"] == gen, s

    # 5. the symlink restored (atomically, as `ln -sfn` does): the path leads into ..data again
    link_tmp = path + ".link-tmp"
    os.symlink(os.path.join("..data", files.FILE), link_tmp)
    os.replace(link_tmp, path)
    _wait_status(p, "dr", "symlink restored")

    # 6. ..data swaps reach the path again
    p.switch("primary")
    _wait_status(p, "primary", "..data swap after the symlink came back")
    p.switch("dr")
    _wait_status(p, "dr", "second ..data swap after the symlink came back")
    assert p.alive()
