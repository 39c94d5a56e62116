"""The binary's identity: `--version`, `version`, /status and kafka_proxy_build_info agree, and the
commit define of scripts/build-release becomes the string the binary reports."""

import hashlib
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import DIRECT, PROXY_BIN, REPO
from failover_support import metric_lines

LINE = re.compile(r"^kafka-proxy (\d+\.\d+\.\d+) \(commit ([0-9A-Za-z._-]+)\)$")


def source_version():
    text = (REPO / "Sources" / "ProxyRuntime" / "Observability" / "BuildInfo.swift").read_text()
    return re.search(r'static let version = "([^"]+)"', text).group(1)


def run(*args):
    return subprocess.run([PROXY_BIN, *args], capture_output=True, text=True, timeout=10)


@pytest.mark.skipif(DIRECT, reason="KAFKA_PROXY_DIRECT=1: needs the proxy binary")
def test_version_flag_and_subcommand_print_version_and_commit():
    flag, sub = run("--version"), run("version")
    assert flag.returncode == 0, flag.stderr       # used to fail: "Missing expected argument '--config'"
    assert sub.returncode == 0, sub.stderr
    assert flag.stdout == sub.stdout
    m = LINE.match(flag.stdout.strip())
    assert m, flag.stdout
    assert m.group(1) == source_version()
    expected = os.environ.get("KAFKA_PROXY_EXPECT_COMMIT")   # set when testing a scripts/build-release binary
    if expected:
        assert m.group(2) == expected, flag.stdout


@pytest.mark.skipif(DIRECT, reason="KAFKA_PROXY_DIRECT=1: needs the proxy")
def test_status_and_metrics_carry_the_same_identity(proxy, tansu):
    m = LINE.match(run("--version").stdout.strip())
    p = proxy(tansu)
    status = p.status()
    assert (status["version"], status["commit"]) == (m.group(1), m.group(2)), status
    assert metric_lines(p.metrics(), "kafka_proxy_build_info") == \
        'kafka_proxy_build_info{version="%s",commit="%s"} 1.0' % (m.group(1), m.group(2))
    assert status["configDigest"] == hashlib.sha256(open(p.config_path, "rb").read()).hexdigest()


@pytest.mark.parametrize("define,expected", [
    (None, "unknown"),
    ("1fbece5d2a4e", "1fbece5d2a4e"),
    ("1fbece5d2a4e-dirty", "1fbece5d2a4e-dirty"),
    ("12e-5", "12e-5"),             # a pp-number with an exponent sign: still one string
])
def test_commit_define_becomes_the_reported_string(tmp_path, define, expected):
    """What scripts/build-release passes (-Xcc -DKAFKA_PROXY_GIT_COMMIT=<token>), compiled as SwiftPM compiles it."""
    cc = shutil.which("clang") or shutil.which("cc") or shutil.which("gcc")
    assert cc, "no C compiler (the Swift toolchain ships clang)"
    shims = REPO / "Sources" / "CProxyShims"
    main = tmp_path / "main.c"
    main.write_text('#include <stdio.h>\nconst char *CProxyShims_build_commit(void);\n'
                    'int main(void) { puts(CProxyShims_build_commit()); return 0; }\n')
    exe = tmp_path / "commit"
    argv = [cc, "-I", str(shims / "include"), str(shims / "build_info.c"), str(main), "-o", str(exe)]
    if define:
        argv.insert(1, "-DKAFKA_PROXY_GIT_COMMIT=%s" % define)
    subprocess.run(argv, check=True, capture_output=True)
    assert subprocess.run([str(exe)], capture_output=True, text=True).stdout.strip() == expected


def build_release_define(tmp_path, env_commit=None):
    """The -DKAFKA_PROXY_GIT_COMMIT scripts/build-release passes to `swift build` (a stand-in swift
    records its arguments: the real release build takes minutes)."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    log = tmp_path / "swift-args"
    # It also leaves a small real executable where the build would, for the strip step that follows.
    shutil.copy("/bin/true", fake / "kafka-proxy")
    (fake / "swift").write_text('#!/bin/sh\necho "$*" >> "%s"\necho "%s"\n' % (log, fake))
    (fake / "swift").chmod(0o755)
    env = dict(os.environ, PATH="%s:%s" % (fake, os.environ["PATH"]))
    env.pop("KAFKA_PROXY_COMMIT", None)
    if env_commit is not None:
        env["KAFKA_PROXY_COMMIT"] = env_commit
    out = tmp_path / "out" / "kafka-proxy"     # never over a real build's output
    result = subprocess.run([str(REPO / "scripts" / "build-release"), "--out", str(out)], env=env,
                            capture_output=True, text=True)
    defines = set(re.findall(r"-DKAFKA_PROXY_GIT_COMMIT=(\S+)", log.read_text())) if log.exists() else set()
    return result, defines


def test_build_release_stamps_the_checkout_commit(tmp_path):
    git = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    if git.returncode != 0:
        expected = "unknown"      # not a git checkout (a source tarball)
    else:
        expected = git.stdout.strip()
        if subprocess.run(["git", "-C", str(REPO), "diff", "--quiet", "HEAD", "--"]).returncode != 0:
            expected += "-dirty"
    result, defines = build_release_define(tmp_path)
    assert result.returncode == 0, result.stderr
    assert defines == {expected}, (defines, result.stderr)


def test_build_release_takes_the_commit_from_the_environment_and_refuses_junk(tmp_path):
    result, defines = build_release_define(tmp_path, "0123456789ab")
    assert result.returncode == 0, result.stderr
    assert defines == {"0123456789ab"}
    (tmp_path / "junk").mkdir()
    result, defines = build_release_define(tmp_path / "junk", 'x" -DEVIL=1')
    assert result.returncode == 2 and not defines, (result.returncode, defines)
    assert "is not a commit id" in result.stderr
