// swift-tools-version:6.1
// libFuzzer targets for kafka-proxy-swift (issue 7). Built and run by scripts/fuzz:
//   swift build --package-path Fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address
// One executable holds every target; KAFKA_FUZZ_TARGET picks one (see Sources/KafkaFuzz/Targets.swift).
import PackageDescription

let package = Package(
    name: "kafka-proxy-fuzz",
    // Only the proxy itself, by path: every package it pulls in is pinned (`exact:`) in ../Package.swift.
    dependencies: [
        .package(name: "kafka-proxy-swift", path: ".."),
    ],
    targets: [
        // Declares libFuzzer's LLVMFuzzerRunDriver for main.swift.
        .target(name: "CFuzzDriver"),
        .executableTarget(
            name: "KafkaFuzz",
            dependencies: [
                .product(name: "KafkaProtocol", package: "kafka-proxy-swift"),
                .product(name: "ProxyCore", package: "kafka-proxy-swift"),
                "CFuzzDriver",
            ]
        ),
    ]
)
