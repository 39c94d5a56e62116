// swift-tools-version: 6.1
//
// Load generator, synthetic broker and micro-benchmarks for kafka-proxy-swift (issue 6).
// A separate package so that the proxy itself never depends on benchmark-only packages.
import Foundation
import PackageDescription

// The codec (KafkaProtocol) comes from the root package. The root manifest must export it as a
// library product: `.library(name: "KafkaProtocol", targets: ["KafkaProtocol"])`. Until it does,
// this package compiles the same sources through the symlink Sources/KafkaProtocolFromRoot
// (never a copy: one codec, the proxy's own).
let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
let rootManifest = (try? String(contentsOf: here.appendingPathComponent("../Package.swift"), encoding: .utf8)) ?? ""
let rootExportsCodec = rootManifest.contains(#".library(name: "KafkaProtocol""#)

let codec: Target.Dependency = rootExportsCodec
    ? .product(name: "KafkaProtocol", package: "kafka-proxy-swift")
    : "KafkaProtocol"

var dependencies: [Package.Dependency] = [
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
]
var targets: [Target] = [
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
if rootExportsCodec {
    dependencies.append(.package(name: "kafka-proxy-swift", path: ".."))
} else {
    targets.append(.target(name: "KafkaProtocol", path: "Sources/KafkaProtocolFromRoot"))
}

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
