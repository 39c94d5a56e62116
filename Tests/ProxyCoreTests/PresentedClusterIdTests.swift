import XCTest
@testable import ProxyCore

final class PresentedClusterIdTests: XCTestCase {
    func testOneClusterKeepsItsOwnId() {
        XCTAssertNil(PresentedClusterId.forClusters(named: ["primary"]))
        XCTAssertNil(PresentedClusterId.forClusters(named: []))
    }

    func testSameIdForTheSameClustersInAnyOrderAndAnotherForOthers() throws {
        let id = try XCTUnwrap(PresentedClusterId.forClusters(named: ["primary", "dr"]))
        XCTAssertEqual(PresentedClusterId.forClusters(named: ["dr", "primary"]), id)
        XCTAssertNotEqual(PresentedClusterId.forClusters(named: ["primary", "dr", "dr2"]), id)
        // The shape of a Kafka cluster id: 16 bytes in unpadded URL-safe base64.
        XCTAssertEqual(id.count, 22)
        XCTAssertTrue(id.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
    }

    func testBase64URLAgainstKnownVectors() {
        // RFC 4648 test vectors, URL-safe alphabet, no padding.
        let vectors: [(String, String)] = [("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"),
                                           ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy")]
        for (input, output) in vectors {
            XCTAssertEqual(PresentedClusterId.base64URL(Array(input.utf8)), output)
        }
        XCTAssertEqual(PresentedClusterId.base64URL([0xfb, 0xff]), "-_8")
    }
}
