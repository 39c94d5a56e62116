import XCTest
@testable import KafkaProtocol

final class CoordinatorClusterTests: XCTestCase {
    // FindCoordinator v0: error, node, host, port.
    static let fc0 = hex("0000 00000001 0002 6231 00002384")
    // v1/v2: throttle, error, nullable message, node, host, port.
    static let fc1 = hex("00000000 000f ffff ffffffff 0000 ffffffff")
    // v3: flexible.
    static let fc3 = hex("00000000 0000 00 00000002 03 6232 00002385 00")
    // v4+: list of coordinators; second one is an error entry (node -1, empty host).
    static let fc4 = hex("""
        00000000
        03  03 6731 00000001 03 6231 00002384 0000 00 00
            03 6732 ffffffff 01 ffffffff 000f 05 6e6f6e65 00
        00
        """)

    // DescribeCluster v0: throttle, error, message, cluster id, controller, brokers, ops, tags.
    static let dc0 = hex("""
        00000000 0000 00 04 636c75 00000001
        02  00000001 03 6231 00002384 00 00
        80000000 00
        """)
    // v1: + endpoint type after the error message.
    static let dc1 = hex("""
        00000000 0000 00 01 04 636c75 00000001
        02  00000001 03 6231 00002384 03 7231 00
        80000000 00
        """)
    // v2: + is_fenced after rack.
    static let dc2 = hex("""
        00000000 0000 00 01 04 636c75 00000001
        03  00000001 03 6231 00002384 00 00 00
            00000002 03 6232 00002385 00 01 00
        80000000 00
        """)

    func testFindCoordinatorVectors() throws {
        let f0 = try FindCoordinatorResponse.decode(Self.fc0, version: 0)
        XCTAssertEqual([f0.nodeId, f0.port], [1, 9092])
        XCTAssertEqual(f0.host, "b1")
        let f1 = try FindCoordinatorResponse.decode(Self.fc1, version: 1)
        XCTAssertEqual(f1.errorCode, 15)
        XCTAssertEqual(f1.nodeId, -1)
        let f3 = try FindCoordinatorResponse.decode(Self.fc3, version: 3)
        XCTAssertEqual(f3.host, "b2")
        let f4 = try FindCoordinatorResponse.decode(Self.fc4, version: 4)
        XCTAssertEqual(f4.coordinators.map(\.key), ["g1", "g2"])
        XCTAssertEqual(f4.coordinators[1].errorMessage, "none")
        for (v, b) in [(Int16(0), Self.fc0), (1, Self.fc1), (2, Self.fc1), (3, Self.fc3), (4, Self.fc4), (5, Self.fc4), (6, Self.fc4)] {
            XCTAssertEqual(try FindCoordinatorResponse.decode(b, version: v).encoded(version: v), b, "v\(v)")
            for cut in 0..<b.count {
                assertThrowsProtocolError { _ = try FindCoordinatorResponse.decode(Array(b[..<cut]), version: v) }
            }
        }
    }

    func testDescribeClusterVectors() throws {
        let d0 = try DescribeClusterResponse.decode(Self.dc0, version: 0)
        XCTAssertEqual(d0.clusterId, "clu")
        XCTAssertEqual(d0.brokers, [.init(brokerId: 1, host: "b1", port: 9092)])
        let d1 = try DescribeClusterResponse.decode(Self.dc1, version: 1)
        XCTAssertEqual(d1.endpointType, 1)
        XCTAssertEqual(d1.brokers[0].rack, "r1")
        let d2 = try DescribeClusterResponse.decode(Self.dc2, version: 2)
        XCTAssertEqual(d2.brokers.map(\.isFenced), [false, true])
        for (v, b) in [(Int16(0), Self.dc0), (1, Self.dc1), (2, Self.dc2)] {
            XCTAssertEqual(try DescribeClusterResponse.decode(b, version: v).encoded(version: v), b, "v\(v)")
            for cut in 0..<b.count {
                assertThrowsProtocolError { _ = try DescribeClusterResponse.decode(Array(b[..<cut]), version: v) }
            }
        }
    }
}
