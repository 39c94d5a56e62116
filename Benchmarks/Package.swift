// swift-tools-version: 6.1
//
// Load generator, synthetic broker and micro-benchmarks for kafka-proxy-swift (issue 6).
// A separate package so that the proxy itself never depends on benchmark-only packages.
import PackageDescription

// The codec is the proxy's own KafkaProtocol library, from the root package (by path).
let codec: Target.Dependency = .product(name: "KafkaProtocol", package: "kafka-proxy-swift")

let dependencies: [Package.Dependency] = [
    .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
    .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", exact: "0.2.0"),
    // hdrhistogram-swift's own dependency (its manifest asks for a range), under the URL it uses.
    .package(url: "https://github.com/apple/swift-numerics", exact: "1.1.1"),
    .package(name: "kafka-proxy-swift", path: ".."),
]
let targets: [Target] = [
    .target(name: "CBenchShims"),
    .target(name: "BenchSupport", dependencies: ["CBenchShims", codec]),
    .executableTarget(
        name: "kafka-loadgen",
        dependencies: [
            "BenchSupport", codec,
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]
    ),
    .executableTarget(
        name: "kafka-synthetic-broker",
        dependencies: [
            "BenchSupport", codec,
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]
    ),
]
let package = Package(
    name: "kafka-proxy-benchmarks",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "kafka-loadgen", targets: ["kafka-loadgen"]),
        .executable(name: "kafka-synthetic-broker", targets: ["kafka-synthetic-broker"]),
    ],
    dependencies: dependencies,
    targets: targets,
    swiftLanguageModes: [.v5]
)
