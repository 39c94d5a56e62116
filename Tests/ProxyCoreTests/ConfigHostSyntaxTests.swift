import XCTest
@testable import ProxyCore

final class ConfigHostSyntaxTests: XCTestCase {
    func testHostPortParsingAndDescription() throws {
        XCTAssertEqual(try ProxyConfig.HostPort(parsing: "broker-1.kafka.svc:9092"),
                       ProxyConfig.HostPort(host: "broker-1.kafka.svc", port: 9092))
        XCTAssertEqual(try ProxyConfig.HostPort(parsing: "[::ffff:10.0.0.1]:1").host, "::ffff:10.0.0.1")
        XCTAssertEqual(ProxyConfig.HostPort(host: "::1", port: 9092).description, "[::1]:9092")
        XCTAssertEqual(ProxyConfig.HostPort(host: "kafka_1", port: 9092).description, "kafka_1:9092")
        for bad in ["", "a", "a:", ":1", "a:b", "a:65536", "a:-1", "a:+1", "::1:9092", "[::1]", "[::1:9092", "[x]:1", "a b:1",
                    "-a:1", "a..b:1", "1.2.3:1", "1.2.3.256:1"] {
            XCTAssertThrowsError(try ProxyConfig.HostPort(parsing: bad), "'\(bad)' should be rejected")
        }
    }

    func testIPv6Forms() {
        for good in ["::", "::1", "1::", "fe80::1%eth0", "2001:db8:0:0:0:0:0:1", "2001:db8::1:2:3:4:5", "::ffff:1.2.3.4"] {
            XCTAssertTrue(HostSyntax.isIPv6(good), good)
        }
        for bad in [":", ":::", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "12345::", "g::", "fe80::1%", "::1.2.3",
                    "1:2:3:4:5:6:7:8::"] {
            XCTAssertFalse(HostSyntax.isIPv6(bad), bad)
        }
    }

    func testSuggestions() {
        let keys = ["host", "advertisedHost", "bootstrapPort", "brokerPorts"]
        XCTAssertEqual(Suggestions.closest(to: "advertisedhost", among: keys), "advertisedHost")
        XCTAssertEqual(Suggestions.closest(to: "bootstrapport", among: keys), "bootstrapPort")
        XCTAssertEqual(Suggestions.closest(to: "brokerPort", among: keys), "brokerPorts")
        XCTAssertEqual(Suggestions.closest(to: "hsot", among: keys), "host")
        XCTAssertNil(Suggestions.closest(to: "tls", among: keys))
        XCTAssertEqual(Suggestions.editDistance("kitten", "sitting"), 3)
        XCTAssertEqual(Suggestions.editDistance("ab", "ba"), 1)
    }
}
