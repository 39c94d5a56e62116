import KafkaProtocol
@testable import ProxyCore
import XCTest

final class RoutingTests: XCTestCase {
    func testInflightQueueKeepsOrderAcrossGrowthAndWrap() {
        var queue = InflightQueue(capacity: 2)
        var expected: [Int32] = []
        var next: Int32 = 0
        for round in 0..<50 {
            for _ in 0..<(round % 7 + 1) {
                queue.append(InflightRequest(correlationId: next, apiKey: 0, apiVersion: 0, startNanos: 0))
                expected.append(next)
                next += 1
            }
            for _ in 0..<(round % 5) where !expected.isEmpty {
                XCTAssertEqual(queue.popFirst()?.correlationId, expected.removeFirst())
            }
            XCTAssertEqual(queue.count, expected.count)
        }
        while let request = queue.popFirst() { XCTAssertEqual(request.correlationId, expected.removeFirst()) }
        XCTAssertTrue(expected.isEmpty)
    }

    func testAddressMapGivesEachNodeOneStablePort() {
        var map = AddressMap(portRange: 9100...9102)
        let a = ProxyConfig.HostPort(host: "a", port: 9092)
        XCTAssertEqual(map.assign(cluster: "primary", nodeId: 5, upstream: a), .needsListener(port: 9100, slot: 0))
        XCTAssertEqual(map.assign(cluster: "primary", nodeId: 7, upstream: a), .needsListener(port: 9101, slot: 1))
        // The broker moved: same port, new upstream address.
        let moved = ProxyConfig.HostPort(host: "a2", port: 9094)
        XCTAssertEqual(map.assign(cluster: "primary", nodeId: 5, upstream: moved), .existing(9100))
        XCTAssertEqual(map.upstream(cluster: "primary", port: 9100)?.address, moved)
        XCTAssertEqual(map.upstream(cluster: "primary", port: 9101)?.nodeId, 7)
    }

    func testTheNthBrokerOfEveryClusterSharesTheNthPort() {
        var map = AddressMap(portRange: 9100...9110)
        let a = ProxyConfig.HostPort(host: "a", port: 9092)
        let b = ProxyConfig.HostPort(host: "b", port: 9092)
        for id: Int32 in [0, 1, 2] { _ = map.assign(cluster: "primary", nodeId: id, upstream: a) }
        // The DR cluster's brokers have other ids; they take the same ports, in order.
        XCTAssertEqual(map.assign(cluster: "dr", nodeId: 100, upstream: b), .existing(9100))
        XCTAssertEqual(map.assign(cluster: "dr", nodeId: 101, upstream: b), .existing(9101))
        XCTAssertEqual(map.upstream(cluster: "dr", port: 9101)?.nodeId, 101)
        XCTAssertEqual(map.upstream(cluster: "primary", port: 9101)?.nodeId, 1)
        XCTAssertNil(map.upstream(cluster: "dr", port: 9102), "dr has no third broker yet")
        XCTAssertEqual(map.entries.count, 5)
    }

    func testAddressMapSkipsPortsThatCannotBeBound() {
        var map = AddressMap(portRange: 9100...9101)
        let a = ProxyConfig.HostPort(host: "a", port: 9092)
        XCTAssertEqual(map.assign(cluster: "c", nodeId: 1, upstream: a), .needsListener(port: 9100, slot: 0))
        map.listenerFailed(slot: 0)
        XCTAssertEqual(map.assign(cluster: "c", nodeId: 1, upstream: a), .needsListener(port: 9101, slot: 0))
        XCTAssertEqual(map.assign(cluster: "c", nodeId: 2, upstream: a), .exhausted)
    }

    func testApiVersionsPolicy() {
        XCTAssertNil(ApiVersionsPolicy.allowed(apiKey: 999, minVersion: 0, maxVersion: 3), "unknown API")
        XCTAssertNil(ApiVersionsPolicy.allowed(apiKey: 78, minVersion: 0, maxVersion: 1), "ShareFetch names brokers")
        let metadataMax = EndpointRewriting.maxDecodedVersion[ApiKey.metadata.rawValue]!
        XCTAssertEqual(ApiVersionsPolicy.allowed(apiKey: 3, minVersion: 0, maxVersion: 50).map { [$0.0, $0.1] }, [0, metadataMax])
        XCTAssertEqual(ApiVersionsPolicy.allowed(apiKey: 2, minVersion: 1, maxVersion: 50).map { [$0.0, $0.1] }, [1, 50])
        XCTAssertNil(ApiVersionsPolicy.allowed(apiKey: 3, minVersion: metadataMax + 1, maxVersion: metadataMax + 2),
                     "a broker that only speaks versions the proxy cannot decode")
    }
}
