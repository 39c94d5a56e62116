"""logging.protocol: true writes a line per request and per response through the proxy."""

import re

import pytest

import conftest
from conftest import Proxy
from helpers import produce_confluent, unique

pytestmark = pytest.mark.skipif(conftest.DIRECT, reason="KAFKA_PROXY_DIRECT=1: proxy log test")


class TracingProxy(Proxy):
    def __init__(self, workdir, cluster, level="info"):
        self._prepare(workdir, cluster)
        servers = ", ".join('"%s"' % a for a in cluster.bootstrap.split(","))
        self._start("activeCluster: primary\n"
                    "clusters:\n"
                    "  primary:\n"
                    "    bootstrapServers: [%s]\n"
                    "logging: {level: %s, format: text, protocol: true}\n" % (servers, level))


@pytest.mark.timeout(60)
def test_produce_is_traced_request_and_response(tansu, tmp_path):
    p = TracingProxy(tmp_path / "proxy", tansu)
    try:
        topic = unique("trace")
        tansu.create_topic(topic, 1)
        reports = produce_confluent(p.bootstrap, topic, n=3)
        assert len(reports) == 3
        log = p.log_text()
    finally:
        p.stop()
    request = re.compile(r" info .*conn=(\d+).* request api=Produce version=(\d+) correlationId=(\d+) bytes=(\d+)$")
    response = re.compile(r" info .*conn=(\d+).* response api=Produce version=(\d+) correlationId=(\d+) bytes=(\d+) "
                          r"latencyMs=(\d+\.\d{3})$")
    requests = [m.groups() for m in map(request.search, log.splitlines()) if m]
    responses = [m.groups() for m in map(response.search, log.splitlines()) if m]
    assert requests, "no Produce request line at info level:\n" + log[-4000:]
    assert responses, "no Produce response line at info level:\n" + log[-4000:]
    # Every response answers a traced request of the same connection, API version and correlation id.
    seen = {(conn, version, cid) for conn, version, cid, _ in requests}
    for conn, version, cid, size, _ in responses:
        assert (conn, version, cid) in seen, (conn, version, cid, requests)
        assert int(size) >= 8
    assert all(int(size) > 20 for *_, size in requests)
    # Responses the proxy reads whole carry their error code (ApiVersions, Metadata has none).
    assert re.search(r" response api=ApiVersions version=\d+ correlationId=\d+ bytes=\d+ latencyMs=[\d.]+ errorCode=0$",
                     log, re.M), log[-4000:]
    assert re.search(r" response api=Metadata version=\d+ correlationId=\d+ bytes=\d+ latencyMs=[\d.]+$", log, re.M)
