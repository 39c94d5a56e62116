import XCTest
@testable import ProxyCore

/// `clusters.<name>.tls` and `listener.tls`.
final class ConfigTLSTests: XCTestCase {
    func testClusterTLSFullSection() throws {
        let config = try XCTUnwrap(parseConfig("""
        listener: {}
        clusters:
          primary:
            bootstrapServers: ["kafka-a.example.com:9093"]
            tls:
              enabled: true
              caFile: /etc/kafka-proxy/tls/ca.crt
              certFile: /etc/kafka-proxy/tls/client.crt
              keyFile: /etc/kafka-proxy/tls/client.key
              keyPasswordFile: /etc/kafka-proxy/tls/key-password
              serverName: kafka-a.example.com
              insecureSkipVerify: false
              minVersion: "1.3"
          plain:
            bootstrapServers: ["b:9092"]
        """))
        XCTAssertEqual(config.clusters[0].tls, ProxyConfig.ClusterTLS(
            enabled: true, caFile: "/etc/kafka-proxy/tls/ca.crt", certFile: "/etc/kafka-proxy/tls/client.crt",
            keyFile: "/etc/kafka-proxy/tls/client.key", keyPasswordFile: "/etc/kafka-proxy/tls/key-password",
            serverName: "kafka-a.example.com", insecureSkipVerify: false, minVersion: .v1_3))
        XCTAssertNotNil(config.clusters[0].enabledTLS)
        XCTAssertNil(config.clusters[1].tls)
        XCTAssertNil(config.clusters[1].enabledTLS)
        XCTAssertNil(config.listener.tls)
    }

    func testClusterTLSDefaults() throws {
        let config = try XCTUnwrap(parseConfig(minimalConfig().replacingOccurrences(
            of: "bootstrapServers: [\"a:9092\"]", with: "bootstrapServers: [\"a:9092\"]\n    tls: {}")))
        XCTAssertEqual(config.clusters[0].tls, ProxyConfig.ClusterTLS())
        XCTAssertEqual(config.clusters[0].tls?.minVersion, .v1_2)
        XCTAssertEqual(config.clusters[0].tls?.enabled, true)
        // Unquoted 1.2 is fine too, and enabled: false keeps the settings but turns TLS off.
        let off = try XCTUnwrap(parseConfig(minimalConfig().replacingOccurrences(
            of: "bootstrapServers: [\"a:9092\"]",
            with: "bootstrapServers: [\"a:9092\"]\n    tls: {enabled: false, minVersion: 1.2}")))
        XCTAssertEqual(off.clusters[0].tls?.enabled, false)
        XCTAssertNil(off.clusters[0].enabledTLS)
    }

    func testClusterTLSErrors() {
        func errors(_ tls: String) -> [String] {
            configErrors("""
            listener: {}
            clusters:
              primary:
                bootstrapServers: ["a:9092"]
                tls:
            \(tls)
            """).errors.map(\.description)
        }
        XCTAssertEqual(errors("      minVersion: \"1.1\""),
                       ["6:19: error: clusters.primary.tls.minVersion must be one of 1.2|1.3, got '1.1' (did you mean '1.2'?)"])
        XCTAssertEqual(errors("      insecureSkipVerify: yes please"),
                       ["6:27: error: clusters.primary.tls.insecureSkipVerify must be true or false, found 'yes please'"])
        XCTAssertEqual(errors("      enabled: \"true\""),
                       ["6:16: error: clusters.primary.tls.enabled must be true or false, found the string \"true\" (remove the quotes)"])
        XCTAssertEqual(errors("      certFile: /c.crt"),
                       ["6:7: error: clusters.primary.tls.certFile is set but clusters.primary.tls.keyFile is not (a client certificate needs its key)"])
        XCTAssertEqual(errors("      keyFile: /c.key"),
                       ["6:7: error: clusters.primary.tls.keyFile is set but clusters.primary.tls.certFile is not (a client key needs its certificate)"])
        XCTAssertEqual(errors("      keyPasswordFile: /p"),
                       ["6:7: error: clusters.primary.tls.keyPasswordFile is set but there is no clusters.primary.tls.keyFile"])
        XCTAssertTrue(errors("      serverName: \"kafka:9093\"")[0].hasPrefix("6:19: error: clusters.primary.tls.serverName"))
        XCTAssertEqual(errors("      caFile: \"\""), ["6:15: error: clusters.primary.tls.caFile must not be empty"])
        XCTAssertEqual(errors("      cafile: /ca.crt"),
                       ["6:7: error: unknown key 'cafile' in clusters.primary.tls (did you mean 'caFile'?)"])
        XCTAssertEqual(errors("      - enabled"),
                       ["6:7: error: clusters.primary.tls must be a mapping, found a list"])
    }

    func testTLSErrorsAreReportedEvenWithoutBootstrapServers() {
        let errors = configErrors("""
        listener: {}
        clusters:
          primary:
            tls: {minVersion: "2"}
        """).errors.map(\.description)
        XCTAssertEqual(errors, [
            "3:3: error: missing required key 'bootstrapServers' in clusters.primary (a list of host:port)",
            "4:23: error: clusters.primary.tls.minVersion must be one of 1.2|1.3, got '2'",
        ])
    }

    func testListenerTLS() throws {
        let config = try XCTUnwrap(parseConfig(minimalConfig(listener: """
        listener:
          tls:
            certFile: /etc/kafka-proxy/listener/tls.crt
            keyFile: /etc/kafka-proxy/listener/tls.key
            clientCAFile: /etc/kafka-proxy/listener/ca.crt
        """)))
        XCTAssertEqual(config.listener.tls, ProxyConfig.ListenerTLS(
            certFile: "/etc/kafka-proxy/listener/tls.crt", keyFile: "/etc/kafka-proxy/listener/tls.key",
            clientCAFile: "/etc/kafka-proxy/listener/ca.crt"))
        XCTAssertNil(config.clusters[0].tls)
    }

    func testListenerTLSErrors() {
        let missing = configErrors(minimalConfig(listener: """
        listener:
          tls:
            clientCAFile: /ca.crt
        """)).errors.map(\.description)
        XCTAssertEqual(missing, [
            "2:3: error: missing required key 'certFile' in listener.tls (a PEM file path)",
            "2:3: error: missing required key 'keyFile' in listener.tls (a PEM file path)",
        ])
        let typo = configErrors(minimalConfig(listener: """
        listener:
          tls: {certFile: /a, keyFile: /b, clientCaFile: /c}
        """)).errors.map(\.description)
        XCTAssertEqual(typo, ["2:36: error: unknown key 'clientCaFile' in listener.tls (did you mean 'clientCAFile'?)"])
    }
}
