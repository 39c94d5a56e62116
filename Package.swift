// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "kafka-proxy-swift",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "kafka-proxy", targets: ["kafka-proxy"]),
        // The codec alone, for the benchmarks' load generator and synthetic broker, and the fuzz targets.
        .library(name: "KafkaProtocol", targets: ["KafkaProtocol"]),
        // The pure proxy decisions, for the fuzz targets (Fuzz/).
        .library(name: "ProxyCore", targets: ["ProxyCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
        // swift-prometheus's own dependencies, pinned here too: its manifest only asks for ranges.
        .package(url: "https://github.com/apple/swift-atomics.git", exact: "1.3.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
    ],
    targets: [
        // Pure Kafka wire codec: no I/O, no Foundation, no C modules.
        .target(name: "KafkaProtocol"),
        // Pure proxy decisions: config model, framing state, in-flight table, address map, rewriting.
        .target(name: "ProxyCore", dependencies: ["KafkaProtocol", "ProxyYAML", "TLSSettings", "SASLSettings"]),
        // The TLS settings as plain values: the config model and the TLS engine both take them.
        .target(name: "TLSSettings"),
        // The SASL login settings as plain values: the config model and the SASL client both take them.
        .target(name: "SASLSettings"),
        // libyaml (libyaml-dev): the config parser. Not Yams, which imports Foundation (issue 6: RSS).
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // YAML document -> node tree with marks; the only Swift module that imports libyaml.
        .target(name: "ProxyYAML", dependencies: ["CYAML"]),
        // System libraries: OpenSSL 3 (libssl-dev) and Cyrus SASL (libsasl2-dev).
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSASL", pkgConfig: "libsasl2", providers: [.apt(["libsasl2-dev"])]),
        // C helpers Swift cannot call directly: accept4 (needs _GNU_SOURCE) and OpenSSL macros.
        .target(name: "CProxyShims", dependencies: ["COpenSSL"]),
        // TLS engine over memory BIOs; the only Swift module that imports OpenSSL.
        .target(
            name: "ProxyTLS",
            dependencies: ["COpenSSL", "CProxyShims", "TLSSettings", .product(name: "Logging", package: "swift-log")]
        ),
        // SASL client (libsasl2 for PLAIN/SCRAM/GSSAPI, OAUTHBEARER); the only Swift module that imports libsasl2.
        .target(name: "ProxySASL", dependencies: ["CSASL", "KafkaProtocol", "SASLSettings"]),
        // The Kafka-agnostic reactor: loops (epoll poller), listeners, non-blocking channels with
        // optional TLS, syscalls and socket addresses.
        .target(name: "Reactor", dependencies: ["CProxyShims", "ProxyTLS"]),
        // The proxy on the reactor: sessions, upstream dialling, probes, admin HTTP.
        .target(
            name: "ProxyRuntime",
            dependencies: [
                "KafkaProtocol", "ProxyCore", "CProxyShims", "ProxyTLS", "ProxySASL", "SASLSettings", "Reactor",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // Prometheus links these anyway; naming them keeps their `exact:` pins from being
                // reported as unused dependencies.
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .executableTarget(
            name: "kafka-proxy",
            dependencies: [
                "ProxyRuntime", "ProxyCore", "Reactor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "KafkaProtocolTests", dependencies: ["KafkaProtocol"]),
        .testTarget(name: "ProxyYAMLTests", dependencies: ["ProxyYAML"]),
        .testTarget(name: "ProxyCoreTests", dependencies: ["ProxyCore", "KafkaProtocol", "SASLSettings"]),
        .testTarget(name: "ProxyTLSTests", dependencies: ["ProxyTLS", "TLSSettings", "COpenSSL"]),
        .testTarget(name: "ProxySASLTests", dependencies: ["ProxySASL", "SASLSettings", "CSASL", "KafkaProtocol"]),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor", "ProxyTLS", "TLSSettings"]),
        .testTarget(
            name: "ProxyRuntimeTests",
            dependencies: [
                "ProxyRuntime", "ProxyCore", "KafkaProtocol", "ProxySASL", "SASLSettings",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
    ]
)
