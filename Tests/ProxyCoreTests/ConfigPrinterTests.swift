import Foundation
import XCTest
@testable import ProxyCore
import SASLSettings

final class ConfigPrinterTests: XCTestCase {
    /// Secrets aside: an inline password prints as <redacted> and its source line is not kept.
    /// `failover.order` prints as the effective preference, so it is compared as that.
    private func withoutSecrets(_ config: ProxyConfig) -> ProxyConfig {
        var copy = config
        copy.failover.order = config.clusterPreference
        for index in copy.clusters.indices {
            if case .inline? = copy.clusters[index].sasl?.password {
                copy.clusters[index].sasl?.password = .inline(Secret(ConfigPrinter.redacted))
            }
            copy.clusters[index].sasl?.inlinePasswordLine = nil
        }
        return copy
    }

    private func assertRoundTrip(_ config: ProxyConfig, file: StaticString = #filePath, line: UInt = #line) {
        let printed = ConfigPrinter.yaml(config, header: ["round trip"])
        do {
            let parsed = try ConfigLoader.parse(yaml: printed, fileName: "printed.yaml")
            XCTAssertEqual(withoutSecrets(parsed), withoutSecrets(config), printed, file: file, line: line)
        } catch {
            XCTFail("printed config does not parse:\n\(error.rendered(source: printed, fileName: "printed.yaml"))\n\(printed)",
                    file: file, line: line)
        }
    }

    private let everything = """
    listener:
      host: "::"
      advertisedHost: proxy.example.com
      bootstrapPort: 19092
      brokerPorts: 19100-19110
      tls:
        certFile: /etc/kafka-proxy/listener/tls.crt
        keyFile: "/etc/kafka proxy/listener/tls.key"
        keyPasswordFile: /etc/kafka-proxy/listener/pass
        clientCAFile: /etc/kafka-proxy/listener/ca.crt
        minVersion: "1.3"
    admin:
      listen: "[::1]:9081"
    activeCluster: dr
    clusters:
      primary:
        bootstrapServers: ["broker-a-0:9093", "10.0.0.7:9093", "[fd00::1]:9093"]
        tls:
          caFile: /etc/kafka-proxy/tls/ca.crt
          certFile: /etc/kafka-proxy/tls/client.crt
          keyFile: /etc/kafka-proxy/tls/client.key
          keyPasswordFile: /etc/kafka-proxy/tls/key-password
          serverName: kafka-a.example.com
          insecureSkipVerify: true
        sasl:
          mechanism: SCRAM-SHA-512
          username: "app: \\"quoted\\" #1"
          password: "s3cr3t: with # and 'quotes'"
      dr:
        bootstrapServers: "broker-b-0:9092"
        tls:
          enabled: false
        sasl:
          mechanism: GSSAPI
          principal: app@EXAMPLE.COM
          keytabFile: /etc/kafka-proxy/krb5/app.keytab
          serviceName: kafka-dr
      "true":
        bootstrapServers: ["c:9092"]
        sasl:
          mechanism: OAUTHBEARER
          tokenFile: /var/run/secrets/kafka/token
      "1234":
        bootstrapServers: ["d:9092"]
        sasl:
          mechanism: PLAIN
          username: "yes"
          passwordFile: /etc/kafka-proxy/sasl/password
    limits:
      maxRequestBytes: 1_048_576
      maxResponseBytes: 2097152
      maxConnections: 12
      idleTimeoutSeconds: 30
    logging:
      level: warning
      format: json
      protocol: true
    failover:
      mode: automatic
      order: [dr, primary]
      healthCheckIntervalSeconds: 3
      probeTimeoutSeconds: 4
      unhealthyAfterSeconds: 7
      failback: automatic
      failbackAfterSeconds: 60
      drainTimeoutSeconds: 4
    """

    func testEveryKeyRoundTrips() throws {
        assertRoundTrip(try ConfigLoader.parse(yaml: everything))
    }

    func testMinimalConfigRoundTripsWithDefaultsWrittenOut() throws {
        let config = try ConfigLoader.parse(yaml: minimalConfig())
        assertRoundTrip(config)
        let printed = ConfigPrinter.yaml(config)
        XCTAssertTrue(printed.contains("  brokerPorts: 9100-9163\n"), printed)
        XCTAssertTrue(printed.contains("  listen: \"127.0.0.1:9080\"\n"), printed)
        XCTAssertTrue(printed.contains("  drainTimeoutSeconds: 10\n"), printed)
    }

    func testFailoverOrderPrintsTheEffectivePreference() throws {
        let twoClusters = """
        listener: {bootstrapPort: 9092, brokerPorts: 9100-9163}
        activeCluster: primary
        clusters:
          primary: {bootstrapServers: ["a:9092"]}
          dr: {bootstrapServers: ["b:9092"]}
          third: {bootstrapServers: ["c:9092"]}
        """
        let unset = ConfigPrinter.yaml(try ConfigLoader.parse(yaml: twoClusters))
        XCTAssertTrue(unset.contains("  order: [\"primary\", \"dr\", \"third\"]\n"), unset)
        let partial = ConfigPrinter.yaml(try ConfigLoader.parse(yaml: twoClusters + "\nfailover: {order: [dr]}\n"))
        XCTAssertTrue(partial.contains("  order: [\"dr\", \"primary\", \"third\"]\n"), partial)
        // What is printed reads back as the same preference.
        let reparsed = try ConfigLoader.parse(yaml: unset)
        XCTAssertEqual(reparsed.clusterPreference, ["primary", "dr", "third"])
    }

    func testReferenceConfigRoundTrips() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = repo.appendingPathComponent("config/kafka-proxy.yaml").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("no \(path)") }
        assertRoundTrip(try ConfigLoader.load(path: path))
    }

    func testInlinePasswordIsRedactedAndPathsAreShown() throws {
        let config = try ConfigLoader.parse(yaml: everything)
        let printed = ConfigPrinter.yaml(config)
        XCTAssertFalse(printed.contains("s3cr3t"), printed)
        XCTAssertTrue(printed.contains("      password: \"<redacted>\"\n"), printed)
        XCTAssertTrue(printed.contains("passwordFile: /etc/kafka-proxy/sasl/password\n"), printed)
        XCTAssertTrue(printed.contains("keyPasswordFile: /etc/kafka-proxy/tls/key-password\n"), printed)
        XCTAssertTrue(printed.contains("tokenFile: /var/run/secrets/kafka/token\n"), printed)
        XCTAssertTrue(printed.contains("keytabFile: /etc/kafka-proxy/krb5/app.keytab\n"), printed)
    }

    func testRevealingVariantKeepsThePasswordForInMemoryValidation() throws {
        let config = try ConfigLoader.parse(yaml: everything)
        let parsed = try ConfigLoader.parse(yaml: ConfigPrinter.yamlRevealingSecrets(config))
        XCTAssertEqual(parsed.cluster(named: "primary")?.sasl?.password, .inline(Secret("s3cr3t: with # and 'quotes'")))
    }

    func testHeaderIsCommented() throws {
        let printed = ConfigPrinter.yaml(try ConfigLoader.parse(yaml: minimalConfig()), header: ["Source: a.yaml", ""])
        XCTAssertTrue(printed.hasPrefix("# Source: a.yaml\n#\nlistener:\n"), printed)
    }

    func testQuoting() {
        XCTAssertEqual(ConfigPrinter.quote("broker-1.example.com"), "broker-1.example.com")
        XCTAssertEqual(ConfigPrinter.quote("/etc/x.pem"), "/etc/x.pem")
        XCTAssertEqual(ConfigPrinter.quote("true"), "\"true\"")
        XCTAssertEqual(ConfigPrinter.quote("1.2"), "\"1.2\"")
        XCTAssertEqual(ConfigPrinter.quote("1_000"), "\"1_000\"")
        XCTAssertEqual(ConfigPrinter.quote("a b"), "\"a b\"")
        XCTAssertEqual(ConfigPrinter.quote("-x"), "\"-x\"")
        XCTAssertEqual(ConfigPrinter.quote(""), "\"\"")
        XCTAssertEqual(ConfigPrinter.quoteAlways("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"")
    }
}
