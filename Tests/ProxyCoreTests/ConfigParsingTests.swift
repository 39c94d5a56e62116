import Foundation
import XCTest
@testable import ProxyCore

final class ConfigParsingTests: XCTestCase {
    typealias HP = ProxyConfig.HostPort

    func testFullExampleParsesToExpectedStruct() throws {
        let yaml = """
        listener:
          host: 127.0.0.1            # bind address of every listener
          advertisedHost: proxy.example.com
          bootstrapPort: 19092
          brokerPorts: 19100-19163
        admin:
          listen: 127.0.0.1:19080
        activeCluster: dr
        clusters:
          primary:
            bootstrapServers: ["broker-a-0:9092", "broker-a-1:9092"]
          dr:
            bootstrapServers: ["broker-b-0:9092"]
        limits:
          maxRequestBytes: 1048576
          maxResponseBytes: 2097152
          maxConnections: 50
          idleTimeoutSeconds: 30
        logging:
          level: debug
          format: json
        """
        let config = try XCTUnwrap(parseConfig(yaml))
        let expected = ProxyConfig(
            listener: .init(host: "127.0.0.1", advertisedHost: "proxy.example.com", bootstrapPort: 19092,
                            brokerPorts: 19100...19163),
            admin: .init(listen: HP(host: "127.0.0.1", port: 19080)),
            activeCluster: "dr",
            clusters: [
                .init(name: "primary", bootstrapServers: [HP(host: "broker-a-0", port: 9092), HP(host: "broker-a-1", port: 9092)]),
                .init(name: "dr", bootstrapServers: [HP(host: "broker-b-0", port: 9092)]),
            ],
            limits: .init(maxRequestBytes: 1_048_576, maxResponseBytes: 2_097_152, maxConnections: 50, idleTimeoutSeconds: 30),
            logging: .init(level: .debug, format: .json)
        )
        XCTAssertEqual(config, expected)
        XCTAssertEqual(config.active.name, "dr")
        XCTAssertEqual(config.active.bootstrapServers, [HP(host: "broker-b-0", port: 9092)])
    }

    func testMinimalFileGetsDefaults() throws {
        let config = try XCTUnwrap(parseConfig("""
        listener: {}
        clusters:
          main:
            bootstrapServers: ["k1:9092"]
          other:
            bootstrapServers: ["k2:9092"]
        """))
        XCTAssertEqual(config.listener, ProxyConfig.Listener(host: "127.0.0.1", advertisedHost: "127.0.0.1",
                                                             bootstrapPort: 9092, brokerPorts: 9100...9163))
        XCTAssertEqual(config.admin.listen, HP(host: "127.0.0.1", port: 9080))
        XCTAssertEqual(config.activeCluster, "main", "the first cluster in file order")
        XCTAssertEqual(config.clusters.map(\.name), ["main", "other"])
        XCTAssertEqual(config.limits, ProxyConfig.Limits(maxRequestBytes: 104_857_600, maxResponseBytes: 268_435_456,
                                                         maxConnections: 10_000, idleTimeoutSeconds: 600))
        XCTAssertEqual(config.logging, ProxyConfig.Logging(level: .info, format: .text))
    }

    func testEmptySectionsMeanDefaults() throws {
        let config = try XCTUnwrap(parseConfig("""
        listener:
        admin:
        limits:
        logging:
        clusters:
          main:
            bootstrapServers: k1:9092
        """))
        XCTAssertEqual(config.listener.host, "127.0.0.1")
        XCTAssertEqual(config.limits, ProxyConfig.Limits())
    }

    func testAdvertisedHostDefaultsToHost() throws {
        let config = try XCTUnwrap(parseConfig(minimalConfig(listener: "listener: {host: 10.1.2.3}")))
        XCTAssertEqual(config.listener.advertisedHost, "10.1.2.3")
    }

    func testWildcardHostWithAdvertisedHost() throws {
        let config = try XCTUnwrap(parseConfig(minimalConfig(listener: "listener: {host: '::', advertisedHost: proxy.local}")))
        XCTAssertEqual(config.listener.host, "::")
        XCTAssertEqual(config.listener.advertisedHost, "proxy.local")
    }

    func testIPv6AndCommaSeparatedBootstrapServers() throws {
        let config = try XCTUnwrap(parseConfig("""
        listener:
          host: "[::1]"
        admin:
          listen: "[::1]:9081"
        clusters:
          v6:
            bootstrapServers: ["[fe80::1%eth0]:9092", "[2001:db8::10]:9093", "10.0.0.1:9094"]
          csv:
            bootstrapServers: "a:9092, b:9093"
        """))
        XCTAssertEqual(config.listener.host, "::1")
        XCTAssertEqual(config.admin.listen, HP(host: "::1", port: 9081))
        XCTAssertEqual(config.admin.listen.description, "[::1]:9081")
        XCTAssertEqual(config.clusters[0].bootstrapServers,
                       [HP(host: "fe80::1%eth0", port: 9092), HP(host: "2001:db8::10", port: 9093), HP(host: "10.0.0.1", port: 9094)])
        XCTAssertEqual(config.clusters[1].bootstrapServers, [HP(host: "a", port: 9092), HP(host: "b", port: 9093)])
    }

    func testSinglePortBrokerRangeAndUnderscoreDigits() throws {
        let config = try XCTUnwrap(parseConfig(minimalConfig(listener: "listener: {brokerPorts: 9100}",
                                                             "limits: {maxRequestBytes: 1_048_576}")))
        XCTAssertEqual(config.listener.brokerPorts, 9100...9100)
        XCTAssertEqual(config.limits.maxRequestBytes, 1_048_576)
    }

    func testAnchorsAndAliasesResolve() throws {
        let config = try XCTUnwrap(parseConfig("""
        listener: {}
        clusters:
          a:
            bootstrapServers: &servers ["k:9092"]
          b:
            bootstrapServers: *servers
        """))
        XCTAssertEqual(config.clusters[1].bootstrapServers, [HP(host: "k", port: 9092)])
    }

    func testReferenceConfigFileParses() throws {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("config/kafka-proxy.yaml")
        let config: ProxyConfig
        do {
            config = try ConfigLoader.load(path: url.path)
        } catch {
            return XCTFail("reference config does not parse:\n\(error)")
        }
        XCTAssertEqual(config.activeCluster, "primary")
        XCTAssertEqual(config.clusters.map(\.name), ["primary", "dr"])
        XCTAssertEqual(config.listener.bootstrapPort, 9092)
        XCTAssertEqual(config.listener.brokerPorts, 9100...9163)
        // The reference documents the defaults, so it must equal the defaults.
        XCTAssertEqual(config.limits, ProxyConfig.Limits())
        XCTAssertEqual(config.logging, ProxyConfig.Logging())
        XCTAssertEqual(config.admin, ProxyConfig.Admin())
    }

    func testLoadReportsUnreadableFile() {
        let path = NSTemporaryDirectory() + "kafka-proxy-missing-\(UInt64.random(in: 0...UInt64.max)).yaml"
        do {
            _ = try ConfigLoader.load(path: path)
            XCTFail("expected an error")
        } catch {
            XCTAssertEqual(error.errors.map(\.code), [.unreadableFile])
            XCTAssertEqual(error.rendered(source: "", fileName: path),
                           "\(path): error: cannot read config file '\(path)': no such file\n")
        }
        do {
            _ = try ConfigLoader.load(path: NSTemporaryDirectory())
            XCTFail("expected an error")
        } catch {
            XCTAssertTrue(error.errors[0].message.hasSuffix("it is a directory"), error.description)
        }
    }

    func testLoadReadsFileAndUsesPathAsFileName() throws {
        let path = NSTemporaryDirectory() + "kafka-proxy-\(UInt64.random(in: 0...UInt64.max)).yaml"
        try "listener: {}\nclusters:\n  c:\n    bootstrapServers: [\"x:1\"]\n    proxyProtocol: {}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try ConfigLoader.load(path: path)
            XCTFail("expected an error")
        } catch {
            XCTAssertEqual(error.description, """
            \(path):5:5: error: unknown key 'proxyProtocol' in clusters.c
                5 |     proxyProtocol: {}
                  |     ^

            """)
        }
    }
}
