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
        XCTAssertEqual(map.assign(nodeId: 5, upstream: a), .needsListener(9100))
        XCTAssertEqual(map.assign(nodeId: 7, upstream: a), .needsListener(9101))
        // The broker moved: same port, new upstream address.
        let moved = ProxyConfig.HostPort(host: "a2", port: 9094)
        XCTAssertEqual(map.assign(nodeId: 5, upstream: moved), .existing(9100))
        XCTAssertEqual(map.upstream(forNode: 5), moved)
        XCTAssertEqual(map.node(forPort: 9101), 7)
    }

    func testAddressMapSkipsPortsThatCannotBeBound() {
        var map = AddressMap(portRange: 9100...9101)
        let a = ProxyConfig.HostPort(host: "a", port: 9092)
        XCTAssertEqual(map.assign(nodeId: 1, upstream: a), .needsListener(9100))
        map.listenerFailed(nodeId: 1, port: 9100)
        XCTAssertEqual(map.assign(nodeId: 1, upstream: a), .needsListener(9101))
        XCTAssertEqual(map.assign(nodeId: 2, upstream: a), .exhausted)
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
