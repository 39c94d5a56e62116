import KafkaProtocol
@testable import ProxyCore
import XCTest

/// ApiVersions answers limited to what every configured cluster supports.
final class ApiVersionsIntersectionTests: XCTestCase {
    private let produce = ApiKey.produce.rawValue
    private let fetch = ApiKey.fetch.rawValue
    private let listOffsets = ApiKey.listOffsets.rawValue
    private let heartbeat848 = ApiKey.consumerGroupHeartbeat.rawValue

    private func allowed(_ key: Int16, _ range: ClosedRange<Int16>, _ others: [[Int16: ClosedRange<Int16>]],
                         clusters: Int? = nil) -> [Int16]? {
        let limits = ApiVersionsLimits(otherClusters: others.map(ApiVersionRanges.init),
                                       configuredClusters: clusters ?? others.count + 1)
        return ApiVersionsPolicy.allowed(apiKey: key, minVersion: range.lowerBound, maxVersion: range.upperBound,
                                         limits: limits).map { [$0.0, $0.1] }
    }

    func testMinIsTheLargestMinAndMaxTheSmallestMax() {
        XCTAssertEqual(allowed(listOffsets, 0...8, [[listOffsets: 1...7]]), [1, 7])
        XCTAssertEqual(allowed(listOffsets, 2...6, [[listOffsets: 0...9]]), [2, 6], "the answering broker is the narrower")
        XCTAssertEqual(allowed(listOffsets, 0...9, [[listOffsets: 1...8], [listOffsets: 0...5], [listOffsets: 3...9]]),
                       [3, 5], "every other cluster counts")
    }

    func testAnApiAnotherClusterLacksIsWithheld() {
        XCTAssertNil(allowed(listOffsets, 0...8, [[produce: 0...9]]))
        XCTAssertNil(allowed(listOffsets, 0...8, [[listOffsets: 0...8], [:]]), "one cluster of two lacks it")
    }

    func testAnEmptyIntersectionIsWithheld() {
        XCTAssertNil(allowed(listOffsets, 0...3, [[listOffsets: 4...7]]))
        XCTAssertEqual(allowed(listOffsets, 0...4, [[listOffsets: 4...7]]), [4, 4], "one common version is enough")
    }

    func testAClusterWithUnknownRangesDoesNotRestrict() {
        // Two clusters configured, the other never probed successfully.
        XCTAssertEqual(allowed(listOffsets, 0...8, [], clusters: 2), [0, 8])
    }

    func testTheProxysOwnCapStillApplies() {
        let cap = EndpointRewriting.maxDecodedVersion[ApiKey.metadata.rawValue]!
        XCTAssertEqual(allowed(ApiKey.metadata.rawValue, 0...(cap + 5), [[ApiKey.metadata.rawValue: 1...(cap + 3)]]),
                       [1, cap])
        XCTAssertEqual(allowed(ApiKey.metadata.rawValue, 0...(cap + 5), [[ApiKey.metadata.rawValue: 0...(cap - 2)]]),
                       [0, cap - 2], "another cluster below the cap lowers it further")
        XCTAssertNil(allowed(999, 0...3, [[999: 0...3]]), "unknown to the proxy, whatever the clusters say")
        XCTAssertNil(allowed(78, 0...1, [[78: 0...1]]), "share groups stay withheld")
    }

    func testConsumerGroupHeartbeatOnlyWithOneCluster() {
        XCTAssertEqual(allowed(heartbeat848, 0...1, [], clusters: 1), [0, 1])
        XCTAssertNil(allowed(heartbeat848, 0...1, [], clusters: 2), "withheld even before the other cluster is known")
        XCTAssertNil(allowed(heartbeat848, 0...1, [[heartbeat848: 0...1]]))
        XCTAssertEqual(allowed(ApiKey.consumerGroupDescribe.rawValue, 0...0, [[ApiKey.consumerGroupDescribe.rawValue: 0...0]]),
                       [0, 0], "describing a group moves nothing")
    }

    func testRangesOfAnAnswer() {
        let answer = ApiVersionsResponse(apiKeys: [
            .init(apiKey: produce, minVersion: 3, maxVersion: 9),
            .init(apiKey: fetch, minVersion: 5, maxVersion: 4),
        ])
        XCTAssertEqual(ApiVersionRanges(answer).ranges, [produce: 3...9], "a range with min above max offers nothing")
    }

    func testTheRewrittenAnswerCarriesTheIntersection() throws {
        let broker = ApiVersionsResponse(apiKeys: [
            .init(apiKey: produce, minVersion: 0, maxVersion: 9),
            .init(apiKey: fetch, minVersion: 0, maxVersion: 12),
            .init(apiKey: listOffsets, minVersion: 0, maxVersion: 7),
            .init(apiKey: heartbeat848, minVersion: 0, maxVersion: 1),
        ], throttleTimeMs: 0)
        let payload = [0, 0, 0, 7] + broker.encoded(version: 3)
        let other = ApiVersionRanges([produce: 3...7, fetch: 4...15, heartbeat848: 0...1])
        let rewriter = ResponseRewriter(advertisedHost: "proxy.local")
        let request = InflightRequest(correlationId: 7, apiKey: ApiKey.apiVersions.rawValue, apiVersion: 3,
                                      startNanos: 0, fromProxy: false)
        let out = try rewriter.rewrite(request: request, payload: payload,
                                       versionLimits: ApiVersionsLimits(otherClusters: [other], configuredClusters: 2)) { _ in 0 }
        XCTAssertEqual(Array(out[..<4]), [0, 0, 0, 7], "correlation id kept")
        var reader = ByteReader(out, from: 4)
        let answer = try ApiVersionsResponse.decode(from: &reader, version: 3)
        let fetchCap = min(12, EndpointRewriting.maxDecodedVersion[fetch] ?? 12)
        XCTAssertEqual(answer.apiKeys.map { [$0.apiKey, $0.minVersion, $0.maxVersion] },
                       [[produce, 3, min(7, EndpointRewriting.maxDecodedVersion[produce] ?? 7)], [fetch, 4, fetchCap]],
                       "ListOffsets lacks on the other cluster, ConsumerGroupHeartbeat is withheld with two clusters")

        let single = try rewriter.rewrite(request: request, payload: payload) { _ in 0 }
        var singleReader = ByteReader(single, from: 4)
        let alone = try ApiVersionsResponse.decode(from: &singleReader, version: 3)
        XCTAssertEqual(alone.apiKeys.map(\.apiKey), [produce, fetch, listOffsets, heartbeat848], "one cluster: nothing more withheld")
    }
}
