import XCTest
@testable import ProxyCore

/// One test per rule: the error's code, position and message.
final class ConfigValidationTests: XCTestCase {
    private func assertSingleError(
        _ yaml: String, code: ConfigError.Code, line: Int?, column: Int?, message: String,
        file: StaticString = #filePath, sourceLine: UInt = #line
    ) {
        let errors = configErrors(yaml, file: file, line: sourceLine).errors
        XCTAssertEqual(errors.count, 1, "\(errors)", file: file, line: sourceLine)
        guard let error = errors.first else { return }
        XCTAssertEqual(error.code, code, file: file, line: sourceLine)
        XCTAssertEqual(error.line, line, "line", file: file, line: sourceLine)
        XCTAssertEqual(error.column, column, "column", file: file, line: sourceLine)
        XCTAssertEqual(error.message, message, file: file, line: sourceLine)
    }

    func testUnknownKeyWithSuggestion() {
        // A misspelt required key yields both errors: the typo and what is then missing.
        let misspelt = configErrors("""
        listener: {}
        clusters:
          primary:
            bootstrapServer: ["a:9092"]
        """).errors
        XCTAssertEqual(misspelt.map(\.description), [
            "3:3: error: missing required key 'bootstrapServers' in clusters.primary (a list of host:port)",
            "4:5: error: unknown key 'bootstrapServer' in clusters.primary (did you mean 'bootstrapServers'?)",
        ])
        let errors = configErrors("""
        listener: {}
        clusters:
          primary:
            bootstrapServers: ["a:9092"]
            bootstrapServer: ["a:9092"]
        """).errors
        XCTAssertEqual(errors, [ConfigError(code: .unknownKey, path: "clusters.primary.bootstrapServer",
                                            message: "unknown key 'bootstrapServer' in clusters.primary (did you mean 'bootstrapServers'?)",
                                            line: 5, column: 5)])
    }

    func testUnknownTopLevelKeys() {
        assertSingleError(minimalConfig("logging: {level: info}\nlogin: {}"), code: .unknownKey, line: 6, column: 1,
                          message: "unknown key 'login' at the top level (did you mean 'logging'?)")
        assertSingleError(minimalConfig("failovr: {}"), code: .unknownKey, line: 5, column: 1,
                          message: "unknown key 'failovr' at the top level (did you mean 'failover'?)")
        assertSingleError(minimalConfig("Limits: {}"), code: .unknownKey, line: 5, column: 1,
                          message: "unknown key 'Limits' at the top level (did you mean 'limits'?)")
    }

    func testFutureKeysAreUnknownForNow() {
        assertSingleError(minimalConfig(listener: "listener: {proxyProtocol: {}}"), code: .unknownKey, line: 1, column: 12,
                          message: "unknown key 'proxyProtocol' in listener")
    }

    func testMissingRequiredSections() {
        assertSingleError("clusters: {c: {bootstrapServers: [\"a:1\"]}}", code: .missingKey, line: nil, column: nil,
                          message: "missing required key 'listener'")
        assertSingleError("listener: {}", code: .missingKey, line: nil, column: nil,
                          message: "missing required key 'clusters'")
        assertSingleError("listener: {}\nclusters: {}", code: .missingKey, line: 2, column: 1,
                          message: "clusters must define at least one cluster")
    }

    func testEmptyDocument() {
        assertSingleError("# nothing here\n", code: .emptyDocument, line: nil, column: nil,
                          message: "the configuration is empty; it needs at least 'listener' and 'clusters'")
    }

    func testTypeMismatches() {
        assertSingleError("listener: [1]\nclusters: {c: {bootstrapServers: [\"a:1\"]}}", code: .typeMismatch,
                          line: 1, column: 11, message: "listener must be a mapping, found a list")
        assertSingleError("- a\n- b", code: .typeMismatch, line: 1, column: 1,
                          message: "the top level must be a mapping, found a list")
        assertSingleError(minimalConfig(listener: "listener: {bootstrapPort: abc}"), code: .typeMismatch, line: 1, column: 27,
                          message: "listener.bootstrapPort must be an integer, found 'abc'")
        assertSingleError(minimalConfig(listener: "listener: {bootstrapPort: \"9092\"}"), code: .typeMismatch, line: 1, column: 27,
                          message: "listener.bootstrapPort must be an integer, found the string \"9092\" (remove the quotes)")
        assertSingleError(minimalConfig(listener: "listener: {host: [a]}"), code: .typeMismatch, line: 1, column: 18,
                          message: "listener.host must be a string, found a list")
        assertSingleError("listener: {}\nclusters:\n  c:\n    bootstrapServers: {a: 1}", code: .typeMismatch, line: 4, column: 23,
                          message: "clusters.c.bootstrapServers must be a list of host:port strings, found a mapping")
        assertSingleError("listener: {}\nclusters:\n  c: [x]", code: .typeMismatch, line: 3, column: 6,
                          message: "clusters.c must be a mapping, found a list")
    }

    func testPortRange() {
        assertSingleError(minimalConfig(listener: "listener: {bootstrapPort: 70000}"), code: .invalidValue, line: 1, column: 27,
                          message: "listener.bootstrapPort must be between 1 and 65535, got 70000")
        assertSingleError(minimalConfig(listener: "listener: {bootstrapPort: 0}"), code: .invalidValue, line: 1, column: 27,
                          message: "listener.bootstrapPort must be between 1 and 65535, got 0")
    }

    func testBrokerPorts() {
        assertSingleError(minimalConfig(listener: "listener: {brokerPorts: 9200-9100}"), code: .invalidValue, line: 1, column: 25,
                          message: "listener.brokerPorts: the range '9200-9100' is empty (the first port must not exceed the last)")
        assertSingleError(minimalConfig(listener: "listener: {brokerPorts: 9100-99999}"), code: .invalidValue, line: 1, column: 25,
                          message: "listener.brokerPorts must be a port range like 9100-9163 with ports between 1 and 65535, got '9100-99999'")
        assertSingleError(minimalConfig(listener: "listener: {brokerPorts: 1-2-3}"), code: .invalidValue, line: 1, column: 25,
                          message: "listener.brokerPorts must be a port range like 9100-9163, got '1-2-3'")
        assertSingleError(minimalConfig(listener: "listener: {bootstrapPort: 9100, brokerPorts: 9100-9110}"),
                          code: .conflict, line: 1, column: 46,
                          message: "listener.brokerPorts 9100-9110 contains listener.bootstrapPort 9100")
        assertSingleError(minimalConfig(listener: "listener: {bootstrapPort: 9150}"), code: .conflict, line: 1, column: 27,
                          message: "listener.bootstrapPort 9150 falls inside the default listener.brokerPorts 9100-9163; set brokerPorts to a range that excludes it")
    }

    func testWildcardHostNeedsAdvertisedHost() {
        assertSingleError(minimalConfig(listener: "listener:\n  host: 0.0.0.0"), code: .missingKey, line: 2, column: 9,
                          message: "listener.advertisedHost is required when listener.host is the wildcard address '0.0.0.0'")
        assertSingleError(minimalConfig(listener: "listener:\n  host: 0.0.0.0\n  advertisedHost: '::'"), code: .invalidValue,
                          line: 3, column: 19,
                          message: "listener.advertisedHost '::' is a wildcard address; clients need a host they can connect to")
    }

    func testHostSyntax() {
        assertSingleError(minimalConfig(listener: "listener: {host: 'bad host'}"), code: .invalidValue, line: 1, column: 18,
                          message: "listener.host: 'bad host' is not a valid hostname or IP address")
        assertSingleError(minimalConfig(listener: "listener: {host: 'h:9092'}"), code: .invalidValue, line: 1, column: 18,
                          message: "listener.host: expected a host without a port (a hostname, IPv4 or IPv6 address)")
        assertSingleError(minimalConfig(listener: "listener: {host: 300.1.1.1}"), code: .invalidValue, line: 1, column: 18,
                          message: "listener.host: '300.1.1.1' is not a valid hostname or IP address")
    }

    func testHostPortSyntax() {
        func servers(_ list: String) -> String {
            "listener: {}\nclusters:\n  c:\n    bootstrapServers: \(list)"
        }
        assertSingleError(servers("[\"a:9092\", \"b\"]"), code: .invalidValue, line: 4, column: 34,
                          message: "clusters.c.bootstrapServers[1]: 'b' is not a valid host:port: missing port (expected host:port)")
        assertSingleError(servers("[\"::1:9092\"]"), code: .invalidValue, line: 4, column: 24,
                          message: "clusters.c.bootstrapServers[0]: '::1:9092' is not a valid host:port: an IPv6 address must be written in brackets (e.g. [::1]:9092)")
        assertSingleError(servers("[\"[::1]9092\"]"), code: .invalidValue, line: 4, column: 24,
                          message: "clusters.c.bootstrapServers[0]: '[::1]9092' is not a valid host:port: expected ':port' after ']' (e.g. [::1]:9092)")
        assertSingleError(servers("[\"[nothex]:9092\"]"), code: .invalidValue, line: 4, column: 24,
                          message: "clusters.c.bootstrapServers[0]: '[nothex]:9092' is not a valid host:port: 'nothex' inside brackets is not an IPv6 address")
        assertSingleError(servers("[\"a:0\"]"), code: .invalidValue, line: 4, column: 24,
                          message: "clusters.c.bootstrapServers[0]: 'a:0' is not a valid host:port: port '0' is not a number between 1 and 65535")
        assertSingleError(servers("[\":9092\"]"), code: .invalidValue, line: 4, column: 24,
                          message: "clusters.c.bootstrapServers[0]: ':9092' is not a valid host:port: the host is empty")
        assertSingleError(minimalConfig("admin: {listen: 'localhost:'}"), code: .invalidValue, line: 5, column: 17,
                          message: "admin.listen: 'localhost:' is not a valid host:port: the port is empty")
    }

    func testEmptyBootstrapServers() {
        assertSingleError("listener: {}\nclusters:\n  c:\n    bootstrapServers: []", code: .invalidValue, line: 4, column: 23,
                          message: "clusters.c.bootstrapServers must list at least one host:port")
        assertSingleError("listener: {}\nclusters:\n  c:\n    bootstrapServers:", code: .invalidValue, line: 4, column: 22,
                          message: "clusters.c.bootstrapServers must list at least one host:port")
    }

    func testActiveClusterMustExist() {
        assertSingleError(minimalConfig("activeCluster: primry"), code: .invalidValue, line: 5, column: 16,
                          message: "activeCluster 'primry' is not defined in clusters (defined: 'primary') (did you mean 'primary'?)")
    }

    func testAdminPortMustNotClashWithListeners() {
        assertSingleError(minimalConfig("admin: {listen: '127.0.0.1:9092'}"), code: .conflict, line: 5, column: 17,
                          message: "admin.listen port 9092 is already used by listener.bootstrapPort")
        assertSingleError(minimalConfig("admin: {listen: '0.0.0.0:9101'}"), code: .conflict, line: 5, column: 17,
                          message: "admin.listen port 9101 is already used by listener.brokerPorts 9100-9163")
        // Different addresses can share a port number.
        XCTAssertNotNil(parseConfig(minimalConfig("admin: {listen: '10.0.0.1:9092'}")))
    }

    func testLimitsMustBePositive() {
        assertSingleError(minimalConfig("limits: {maxConnections: 0}"), code: .invalidValue, line: 5, column: 26,
                          message: "limits.maxConnections must be a positive integer, got 0")
        assertSingleError(minimalConfig("limits: {idleTimeoutSeconds: -5}"), code: .invalidValue, line: 5, column: 30,
                          message: "limits.idleTimeoutSeconds must be a positive integer, got -5")
        assertSingleError(minimalConfig("limits: {maxRequestBytes: 4294967296}"), code: .invalidValue, line: 5, column: 27,
                          message: "limits.maxRequestBytes must be between 1 and 2147483647, got 4294967296")
    }

    func testEnumValues() {
        assertSingleError(minimalConfig("logging: {level: warn}"), code: .invalidValue, line: 5, column: 18,
                          message: "logging.level must be one of trace|debug|info|warning|error, got 'warn' (did you mean 'warning'?)")
        assertSingleError(minimalConfig("logging: {format: yaml}"), code: .invalidValue, line: 5, column: 19,
                          message: "logging.format must be one of text|json, got 'yaml'")
    }

    func testDuplicateKey() {
        assertSingleError("listener: {}\n# comment\n\nlistener: {}\nclusters: {c: {bootstrapServers: [\"a:1\"]}}",
                          code: .duplicateKey, line: 4, column: 1, message: "duplicate key 'listener' (first defined at line 1)")
        assertSingleError("listener: {}\nclusters:\n  c:\n    bootstrapServers: [\"a:1\"]\n  d: {}\n  c: {}",
                          code: .duplicateKey, line: 6, column: 3, message: "duplicate key 'c' (first defined at line 3)")
        // In a flow mapping too, the repeat is what is pointed at.
        assertSingleError("listener: {host: a, host: b}\nclusters: {c: {bootstrapServers: [\"a:1\"]}}", code: .duplicateKey,
                          line: 1, column: 21, message: "duplicate key 'host' (first defined at line 1)")
    }

    func testSeveralErrorsReportedAtOnceInFileOrder() {
        let yaml = """
        listener:
          bootstrapPort: 99999
          brokerPort: 9100-9163
        admin:
          listen: localhost
        activeCluster: nope
        clusters:
          primary:
            bootstrapServers: []
          dr:
            servers: ["b:9092"]
        logging:
          level: loud
        """
        let errors = configErrors(yaml).errors
        XCTAssertEqual(errors.map(\.code), [.invalidValue, .unknownKey, .invalidValue, .invalidValue, .invalidValue,
                                            .missingKey, .unknownKey, .invalidValue])
        XCTAssertEqual(errors.map { "\($0.line ?? 0):\($0.column ?? 0)" },
                       ["2:18", "3:3", "5:11", "6:16", "9:23", "10:3", "11:5", "13:10"])
        XCTAssertEqual(errors.map(\.path), ["listener.bootstrapPort", "listener.brokerPort", "admin.listen", "activeCluster",
                                            "clusters.primary.bootstrapServers", "clusters.dr.bootstrapServers",
                                            "clusters.dr.servers", "logging.level"])
    }
}

final class ConfigFailoverTests: XCTestCase {
    private let base = """
    listener: {bootstrapPort: 9092}
    clusters:
      primary: {bootstrapServers: ["a:9092"]}
      dr: {bootstrapServers: ["b:9092"]}

    """

    func testFailoverSectionParses() throws {
        let config = try ConfigLoader.parse(yaml: base + """
        failover:
          mode: automatic
          order: [dr, primary]
          healthCheckIntervalSeconds: 1
          probeTimeoutSeconds: 4
          unhealthyAfterSeconds: 3
          failback: automatic
          failbackAfterSeconds: 5
          drainTimeoutSeconds: 2
        """)
        XCTAssertEqual(config.failover.mode, .automatic)
        XCTAssertEqual(config.failover.failback, .automatic)
        XCTAssertEqual(config.clusterPreference, ["dr", "primary"])
        XCTAssertEqual([config.failover.healthCheckIntervalSeconds, config.failover.unhealthyAfterSeconds,
                        config.failover.failbackAfterSeconds, config.failover.drainTimeoutSeconds], [1, 3, 5, 2])
        XCTAssertEqual(config.failover.probeTimeoutSeconds, 4)
    }

    func testProbeTimeoutDefaultsToFiveAndIsChecked() throws {
        XCTAssertEqual(try ConfigLoader.parse(yaml: base).failover.probeTimeoutSeconds, 5)
        for bad in ["0", "86401", "-1", "2.5", "soon", "[5]"] {
            XCTAssertThrowsError(try ConfigLoader.parse(yaml: base + "failover: {probeTimeoutSeconds: \(bad)}"), bad) { error in
                let errors = (error as! ConfigErrors).errors
                XCTAssertEqual(errors.count, 1, "\(bad): \(errors)")
                XCTAssertEqual(errors.first?.path, "failover.probeTimeoutSeconds", bad)
                XCTAssertEqual(errors.first?.line, 5, bad)
            }
        }
        XCTAssertThrowsError(try ConfigLoader.parse(yaml: base + "failover: {probeTimeout: 5}")) { error in
            let message = (error as! ConfigErrors).errors.first?.message ?? ""
            XCTAssertTrue(message.contains("probeTimeoutSeconds"), message)
        }
    }

    func testDefaultsAndPreferenceInFileOrder() throws {
        let config = try ConfigLoader.parse(yaml: base)
        XCTAssertEqual(config.failover, ProxyConfig.Failover())
        XCTAssertEqual(config.clusterPreference, ["primary", "dr"])
    }

    func testOrderMustNameClusters() {
        XCTAssertThrowsError(try ConfigLoader.parse(yaml: base + "failover: {order: [primary, drr]}")) { error in
            let errors = (error as! ConfigErrors).errors
            XCTAssertEqual(errors.count, 1)
            XCTAssertEqual(errors.first?.line, 5)
            XCTAssertTrue(errors.first?.message.contains("did you mean 'dr'") == true, errors.first?.message ?? "")
        }
        XCTAssertThrowsError(try ConfigLoader.parse(yaml: base + "failover: {mode: auto}"))
        XCTAssertThrowsError(try ConfigLoader.parse(yaml: base + "failover: {drainTimeoutSeconds: 0}"))
    }
}

final class ConfigLoggingTests: XCTestCase {
    private let base = """
    listener: {bootstrapPort: 9092}
    clusters:
      primary: {bootstrapServers: ["a:9092"]}

    """

    func testProtocolTracing() throws {
        XCTAssertFalse(try ConfigLoader.parse(yaml: base).logging.tracesProtocol)
        let on = try ConfigLoader.parse(yaml: base + "logging: {protocol: true}")
        XCTAssertTrue(on.logging.protocol)
        XCTAssertTrue(on.logging.tracesProtocol)
        XCTAssertEqual(on.logging.level, .info)
        let trace = try ConfigLoader.parse(yaml: base + "logging: {level: trace}")
        XCTAssertFalse(trace.logging.protocol)
        XCTAssertTrue(trace.logging.tracesProtocol, "level trace traces the protocol too")
        XCTAssertThrowsError(try ConfigLoader.parse(yaml: base + "logging: {protocol: \"true\"}")) { error in
            let first = (error as! ConfigErrors).errors.first
            XCTAssertEqual(first?.path, "logging.protocol")
            XCTAssertTrue(first?.message.contains("remove the quotes") == true, first?.message ?? "")
        }
        XCTAssertThrowsError(try ConfigLoader.parse(yaml: base + "logging: {protocol: sometimes}"))
    }
}
