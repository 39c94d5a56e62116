import Prometheus
@testable import ProxyRuntime
import XCTest

final class LatencyMetricTests: XCTestCase {
    private func lines(_ text: String, _ prefix: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
    }

    /// The per-loop shards, summed when scraped, read exactly as the registry's own histogram fed
    /// the same values would (same series, buckets, sum and count), one family header for all APIs.
    func testShardsOfAllLoopsEmitAsOneRegistryHistogram() {
        let metrics = ProxyMetrics(registry: PrometheusCollectorRegistry())
        let loops = [LoopMetrics(metrics: metrics), LoopMetrics(metrics: metrics)]
        let reference = PrometheusCollectorRegistry()
        let name = ProxyMetrics.latencyHistogram
        let produce = reference.makeDurationHistogram(descriptor: name, labels: [("api", "Produce")], buckets: ProxyMetrics.latencyBuckets)
        let fetch = reference.makeDurationHistogram(descriptor: name, labels: [("api", "Fetch")], buckets: ProxyMetrics.latencyBuckets)
        let samples: [(Int16, UInt64)] = [(0, 50_000), (0, 100_000), (0, 100_001), (1, 3_000_000), (0, 7_500_000_000),
                                          (0, 20_000_000_000), (1, 250_000), (0, 999)]
        for (i, (apiKey, nanos)) in samples.enumerated() {
            loops[i % 2].recordLatency(apiKey: apiKey, nanoseconds: nanos)
            (apiKey == 0 ? produce : fetch).recordNanoseconds(Int64(nanos))
        }
        let family = "kafka_proxy_request_duration_seconds"
        let ours = metrics.emitToString()
        var buffer: [UInt8] = []
        reference.emit(into: &buffer)
        let theirs = String(decoding: buffer, as: UTF8.self)
        for api in ["Produce", "Fetch"] {
            let series = lines(ours, family).filter { $0.contains(#"api="\#(api)""#) }
            XCTAssertEqual(series.count, ProxyMetrics.latencyBuckets.count + 3)
            XCTAssertEqual(series, lines(theirs, family).filter { $0.contains(#"api="\#(api)""#) })
        }
        XCTAssertEqual(lines(ours, "# TYPE \(family) "), ["# TYPE \(family) histogram"])
        XCTAssertEqual(lines(ours, "# HELP \(family) ").count, 1)
        XCTAssertTrue(ours.contains(#"\#(family)_count{api="Produce"} 6"#))
    }

    func testNoLatencySeriesBeforeTheFirstResponse() {
        let metrics = ProxyMetrics(registry: PrometheusCollectorRegistry())
        XCTAssertFalse(metrics.emitToString().contains("request_duration"))
    }
}
