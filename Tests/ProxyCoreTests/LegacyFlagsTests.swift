import XCTest
@testable import ProxyCore
import SASLSettings

final class LegacyFlagsTests: XCTestCase {
    private func config(_ arguments: [String], base: ProxyConfig? = nil, environment: [String: String] = [:],
                        file: StaticString = #filePath, line: UInt = #line) -> ProxyConfig? {
        do {
            return try LegacyFlags.parse(arguments, environment: environment).config(base: base)
        } catch {
            XCTFail("unexpected errors:\n\(error.description)", file: file, line: line)
            return nil
        }
    }

    /// The rendered errors (parse or mapping); fails when the flags were accepted.
    private func errors(_ arguments: [String], base: ProxyConfig? = nil,
                        file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            let config = try LegacyFlags.parse(arguments).config(base: base)
            XCTFail("expected errors, got \(config)", file: file, line: line)
            return ""
        } catch {
            return error.description
        }
    }

    private let mapping = ["--bootstrap-server-mapping", "kafka-0.kafka:9092,127.0.0.1:32400"]

    func testOneMappingBuildsTheListenerAndTheCluster() throws {
        let config = try XCTUnwrap(config(mapping))
        XCTAssertEqual(config.listener.host, "127.0.0.1")
        XCTAssertEqual(config.listener.advertisedHost, "127.0.0.1")
        XCTAssertEqual(config.listener.bootstrapPort, 32400)
        XCTAssertEqual(config.listener.brokerPorts, ProxyConfig.Listener.defaultBrokerPorts)
        XCTAssertEqual(config.activeCluster, LegacyFlags.defaultClusterName)
        XCTAssertEqual(config.clusters.map(\.name), [LegacyFlags.defaultClusterName])
        XCTAssertEqual(config.active.bootstrapServers, [ProxyConfig.HostPort(host: "kafka-0.kafka", port: 9092)])
        XCTAssertNil(config.active.tls)
        XCTAssertNil(config.active.sasl)
        // grepplabs' defaults.
        XCTAssertEqual(config.admin.listen, ProxyConfig.HostPort(host: "0.0.0.0", port: 9080))
        XCTAssertEqual(config.logging, ProxyConfig.Logging(level: .info, format: .text))
    }

    func testAdvertisedHostAndWildcardBind() throws {
        let config = try XCTUnwrap(config(["--bootstrap-server-mapping=kafka:9092,0.0.0.0:32400,my-pod.ns.svc:32400"]))
        XCTAssertEqual(config.listener.host, "0.0.0.0")
        XCTAssertEqual(config.listener.advertisedHost, "my-pod.ns.svc")
        // ":port" binds all interfaces, as in Go.
        let short = try XCTUnwrap(self.config(["--bootstrap-server-mapping", "kafka:9092,:32400,localhost:32400"]))
        XCTAssertEqual(short.listener.host, "0.0.0.0")
    }

    func testMappingErrors() {
        XCTAssertTrue(errors(["--bootstrap-server-mapping", "kafka:9092"]).contains(
            "expected 'remotehost:remoteport,localhost:localport[,advertisedhost:advertisedport]'"))
        XCTAssertTrue(errors(["--bootstrap-server-mapping", "kafka,127.0.0.1:1"]).contains(
            "the remote address 'kafka' is not a valid host:port: missing port"))
        XCTAssertTrue(errors(["--bootstrap-server-mapping", "kafka:9092,0.0.0.0:32400"]).contains(
            "add it as a third element"))
        XCTAssertTrue(errors(["--bootstrap-server-mapping", "kafka:9092,0.0.0.0:32400,pod:1234"]).contains(
            "the advertised port 1234 differs from the local port 32400"))
        XCTAssertTrue(errors([]).contains("--bootstrap-server-mapping is required (or --config FILE)"))
    }

    func testSeveralMappingsAreRefusedWithTheReason() {
        let text = errors(["--bootstrap-server-mapping", "a:9092,127.0.0.1:30001",
                           "--bootstrap-server-mapping", "b:9092,127.0.0.1:30002", "--dynamic-listeners-disable"])
        XCTAssertTrue(text.contains("kafka-proxy server: error: --bootstrap-server-mapping is given 2 times (127.0.0.1:30001, 127.0.0.1:30002)"), text)
        XCTAssertTrue(text.contains("--dynamic-listeners-disable only works with one mapping"), text)
    }

    func testDynamicListenersDisableWithOneMappingIsAccepted() throws {
        let config = try XCTUnwrap(config(mapping + ["--dynamic-listeners-disable"]))
        XCTAssertEqual(config.listener.bootstrapPort, 32400)
    }

    func testSequentialPortsBecomeBrokerPorts() throws {
        var config = try XCTUnwrap(self.config(mapping + ["--dynamic-sequential-min-port", "32401"]))
        XCTAssertEqual(config.listener.brokerPorts, 32401...32464)
        config = try XCTUnwrap(self.config(mapping + ["--dynamic-sequential-min-port=32401", "--dynamic-sequential-max-ports=3"]))
        XCTAssertEqual(config.listener.brokerPorts, 32401...32403)
        config = try XCTUnwrap(self.config(mapping + ["--dynamic-sequential-min-port", "65500"]))
        XCTAssertEqual(config.listener.brokerPorts, 65500...65535)
        // 0 is grepplabs' "random ports": the default range.
        config = try XCTUnwrap(self.config(mapping + ["--dynamic-sequential-min-port", "0"]))
        XCTAssertEqual(config.listener.brokerPorts, ProxyConfig.Listener.defaultBrokerPorts)
        XCTAssertTrue(errors(mapping + ["--dynamic-sequential-min-port", "32390"]).contains(
            "broker ports 32390-32453, which contain the bootstrap port 32400"))
        XCTAssertTrue(errors(["--bootstrap-server-mapping", "k:9092,127.0.0.1:9100"]).contains(
            "falls inside the default broker ports 9100-9163"))
        XCTAssertTrue(errors(mapping + ["--dynamic-sequential-max-ports", "3"]).contains("needs --dynamic-sequential-min-port"))
    }

    func testTLSFlags() throws {
        let config = try XCTUnwrap(self.config(mapping + [
            "--tls-enable", "--tls-ca-chain-cert-file", "/certs/ca.pem", "--tls-client-cert-file=/certs/c.pem",
            "--tls-client-key-file", "/certs/c.key", "--tls-insecure-skip-verify", "--tls-refresh", "10s",
        ]))
        XCTAssertEqual(config.active.tls, ProxyConfig.ClusterTLS(caFile: "/certs/ca.pem", certFile: "/certs/c.pem",
                                                                 keyFile: "/certs/c.key", insecureSkipVerify: true))
        XCTAssertEqual(self.config(mapping + ["--tls-enable=true", "--tls-system-cert-pool"])?.active.tls,
                       ProxyConfig.ClusterTLS())
        XCTAssertNil(self.config(mapping + ["--tls-enable=false"])?.active.tls)
        XCTAssertTrue(errors(mapping + ["--tls-ca-chain-cert-file", "/ca.pem"]).contains(
            "--tls-ca-chain-cert-file need --tls-enable"))
        XCTAssertTrue(errors(mapping + ["--tls-enable", "--tls-client-cert-file", "/c.pem"]).contains(
            "--tls-client-cert-file needs --tls-client-key-file"))
        XCTAssertTrue(errors(mapping + ["--tls-enable", "--tls-ca-chain-cert-file", "/ca", "--tls-system-cert-pool"]).contains(
            "a CA file replaces the system trust store"))
        XCTAssertTrue(errors(mapping + ["--tls-enable=maybe"]).contains("--tls-enable takes true or false, got 'maybe'"))
    }

    func testSASLFlags() throws {
        var config = try XCTUnwrap(self.config(mapping + ["--sasl-enable", "--sasl-username", "app", "--sasl-password", "pw"]))
        XCTAssertEqual(config.active.sasl, ProxyConfig.SASL(mechanism: .plain, username: "app", password: .inline(Secret("pw"))))
        config = try XCTUnwrap(self.config(mapping + ["--sasl-enable", "--sasl-username", "app", "--sasl-method", "SCRAM-SHA-512"],
                                           environment: ["SASL_PASSWORD": "from-env"]))
        XCTAssertEqual(config.active.sasl, ProxyConfig.SASL(mechanism: .scramSha512, username: "app", password: .inline(Secret("from-env"))))
        // The flag wins over the environment.
        config = try XCTUnwrap(self.config(mapping + ["--sasl-enable", "--sasl-username", "app", "--sasl-password", "flag"],
                                           environment: ["SASL_PASSWORD": "from-env"]))
        XCTAssertEqual(config.active.sasl?.password, .inline(Secret("flag")))

        XCTAssertTrue(errors(mapping + ["--sasl-enable", "--sasl-username", "app"]).contains(
            "--sasl-enable (PLAIN) needs --sasl-password (or the SASL_PASSWORD environment variable)"))
        XCTAssertTrue(errors(mapping + ["--sasl-enable", "--sasl-password", "x"]).contains("needs --sasl-username"))
        XCTAssertTrue(errors(mapping + ["--sasl-username", "app"]).contains("--sasl-username need --sasl-enable"))
        XCTAssertTrue(errors(mapping + ["--sasl-enable", "--sasl-username", "a", "--sasl-password", "b", "--sasl-method", "GSSAPI"])
            .contains("--sasl-method GSSAPI is not supported as a flag"))
        XCTAssertTrue(errors(mapping + ["--sasl-enable", "--sasl-username", "a", "--sasl-password", "b", "--sasl-method", "AWS_MSK_IAM"])
            .contains("AWS_MSK_IAM is not implemented"))
        XCTAssertTrue(errors(mapping + ["--sasl-enable", "--sasl-username", "a", "--sasl-password", "b", "--sasl-method", "MD5"])
            .contains("--sasl-method must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got 'MD5'"))
    }

    func testHTTPAndLogging() throws {
        let config = try XCTUnwrap(self.config(mapping + [
            "--http-listen-address", "127.0.0.1:19080", "--http-metrics-path", "/metrics", "--http-health-path", "/health",
            "--log-format", "json", "--log-level", "warn", "--forbidden-api-keys=",
        ]))
        XCTAssertEqual(config.admin.listen, ProxyConfig.HostPort(host: "127.0.0.1", port: 19080))
        XCTAssertEqual(config.logging, ProxyConfig.Logging(level: .warning, format: .json))
        XCTAssertEqual(self.config(mapping + ["--log-level=panic"])?.logging.level, .error)
        XCTAssertEqual(self.config(mapping + ["--http-listen-address", ":9999"])?.admin.listen,
                       ProxyConfig.HostPort(host: "0.0.0.0", port: 9999))
        XCTAssertNotNil(self.config(mapping + ["--http-health-path", "/healthz"]))

        XCTAssertTrue(errors(mapping + ["--http-metrics-path", "/prom"]).contains(
            "--http-metrics-path '/prom' is not supported: metrics are served on the fixed path /metrics"))
        XCTAssertTrue(errors(mapping + ["--http-health-path", "/alive"]).contains("fixed paths /healthz and /health"))
        XCTAssertTrue(errors(mapping + ["--log-format", "xml"]).contains("--log-format must be text or json, got 'xml'"))
        XCTAssertTrue(errors(mapping + ["--log-level", "loud"]).contains("--log-level must be one of"))
        // The admin port must not collide with the listeners: checked like a config file.
        XCTAssertTrue(errors(mapping + ["--http-listen-address", "127.0.0.1:32400"]).contains(
            "the flags give an invalid configuration: admin.listen port 32400 is already used by listener.bootstrapPort"))
    }

    func testForbiddenApiKeysAreRefused() {
        let text = errors(mapping + ["--forbidden-api-keys", "20,21", "--forbidden-api-keys=37"])
        XCTAssertTrue(text.contains("--forbidden-api-keys is not supported"), text)
        XCTAssertEqual(try LegacyFlags.parse(["--forbidden-api-keys", "20, 21", "--forbidden-api-keys=37"]).forbiddenApiKeys,
                       [20, 21, 37])
        XCTAssertTrue(errors(["--forbidden-api-keys", "x"]).contains("takes API keys (numbers) separated by commas"))
    }

    func testUnknownAndUnsupportedFlagsAreNamed() {
        let text = errors(mapping + ["--dial-address-mapping", "a:1,b:2", "--bootstrap-server-mappings", "x",
                                     "--auth-local-enable", "positional", "--no-such-flag"])
        XCTAssertTrue(text.contains("--dial-address-mapping is not supported: the proxy dials the addresses the brokers advertise"), text)
        XCTAssertTrue(text.contains("unknown flag --bootstrap-server-mappings"), text)
        XCTAssertTrue(text.contains("unknown flag --bootstrap-server-mappings (did you mean '--bootstrap-server-mapping'?); kafka-proxy server understands"), text)
        XCTAssertTrue(text.contains("--auth-local-enable is not supported: client authentication plugins"), text)
        XCTAssertTrue(text.contains("unknown flag --no-such-flag"), text)
        XCTAssertTrue(text.contains("unexpected argument 'positional'"), text)
        // A skipped value is not reported a second time.
        XCTAssertFalse(text.contains("'a:1,b:2'"), text)
        XCTAssertTrue(errors(mapping + ["--sasl-username"]).contains("--sasl-username needs a value"))
    }

    func testOwnOptions() throws {
        let flags = try LegacyFlags.parse(["-c", "a.yaml", "--print-config", "--shutdown-timeout=3", "-h"])
        XCTAssertEqual(flags.configPath, "a.yaml")
        XCTAssertTrue(flags.printConfig)
        XCTAssertTrue(flags.help)
        XCTAssertEqual(flags.shutdownTimeout, 3)
        XCTAssertTrue(flags.onlyConfigFile)
        XCTAssertFalse(try LegacyFlags.parse(["--config", "a.yaml", "--log-level", "debug"]).onlyConfigFile)
    }

    // MARK: --config as the base

    private let file = """
    listener:
      host: 127.0.0.1
      bootstrapPort: 19092
      brokerPorts: 19100-19163
    admin:
      listen: 127.0.0.1:19080
    activeCluster: primary
    clusters:
      primary:
        bootstrapServers: ["a-0:9092", "a-1:9092"]
        sasl:
          mechanism: SCRAM-SHA-256
          username: file-user
          passwordFile: /run/secrets/pw
      dr:
        bootstrapServers: ["b-0:9092"]
    logging:
      level: debug
    failover:
      mode: automatic
    """

    func testFileAloneIsUnchanged() throws {
        let base = try ConfigLoader.parse(yaml: file)
        XCTAssertEqual(config(["--config", "f.yaml"], base: base), base)
    }

    func testFlagsOverrideTheFileAndApplyToItsFirstCluster() throws {
        let base = try ConfigLoader.parse(yaml: file)
        let config = try XCTUnwrap(self.config(["--config", "f.yaml", "--bootstrap-server-mapping", "c-0:9093,127.0.0.1:29092",
                                                "--tls-enable", "--sasl-password", "flag-pw", "--log-level", "info"], base: base))
        XCTAssertEqual(config.listener.bootstrapPort, 29092)
        XCTAssertEqual(config.listener.brokerPorts, 19100...19163, "kept from the file")
        XCTAssertEqual(config.admin.listen, ProxyConfig.HostPort(host: "127.0.0.1", port: 19080), "no grepplabs default over the file")
        XCTAssertEqual(config.cluster(named: "primary")?.bootstrapServers, [ProxyConfig.HostPort(host: "c-0", port: 9093)])
        XCTAssertEqual(config.cluster(named: "primary")?.tls, ProxyConfig.ClusterTLS())
        XCTAssertEqual(config.cluster(named: "primary")?.sasl,
                       ProxyConfig.SASL(mechanism: .scramSha256, username: "file-user", password: .inline(Secret("flag-pw"))))
        XCTAssertEqual(config.cluster(named: "dr"), base.cluster(named: "dr"))
        XCTAssertEqual(config.logging.level, .info)
        XCTAssertEqual(config.failover, base.failover)
        // --sasl-enable=false drops the file's SASL; the file's passwordFile beats SASL_PASSWORD.
        XCTAssertNil(self.config(["--sasl-enable=false"], base: base)?.active.sasl)
        XCTAssertEqual(self.config(["--sasl-enable"], base: base, environment: ["SASL_PASSWORD": "env"])?.active.sasl?.password,
                       .file(path: "/run/secrets/pw"))
    }

    func testFlagConfigsRoundTripThroughThePrinter() throws {
        let config = try XCTUnwrap(self.config(mapping + ["--tls-enable", "--tls-ca-chain-cert-file", "/ca.pem",
                                                          "--sasl-enable", "--sasl-username", "u", "--sasl-password", "pw",
                                                          "--dynamic-sequential-min-port", "32401"]))
        let printed = ConfigPrinter.yaml(config)
        XCTAssertFalse(printed.contains("pw\""), printed)
        var parsed = try ConfigLoader.parse(yaml: printed)
        parsed.clusters[0].sasl?.inlinePasswordLine = nil
        parsed.clusters[0].sasl?.password = .inline(Secret("pw"))
        // The printer writes the effective failover preference.
        XCTAssertEqual(parsed.failover.order, config.clusterPreference)
        parsed.failover.order = config.failover.order
        XCTAssertEqual(parsed, config)
    }
}
