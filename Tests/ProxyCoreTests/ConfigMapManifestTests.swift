import Foundation
import XCTest
@testable import ProxyCore

final class ConfigMapManifestTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func write(_ text: String) throws -> String {
        let url = directory.appendingPathComponent("configmap.yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    private func manifest(_ config: String, header: String = "  kafka-proxy.yaml: |") -> String {
        // Lines 1-5 are the manifest's own; the config starts on line 6, indented by four spaces.
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: orders-kafka-proxy}
        data:
        \(header)
        \(config.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "    " + $0 }.joined(separator: "\n"))
        """
    }

    private let good = """
    listener: {bootstrapPort: 9092}
    activeCluster: primary
    clusters:
      primary: {bootstrapServers: ["a:9092"]}
      dr: {bootstrapServers: ["b:9092"]}
    """

    private func errors(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> ConfigErrors {
        do {
            let (config, _) = try ConfigLoader.loadConfigOrManifest(path: path)
            XCTFail("expected errors, got \(config)", file: file, line: line)
            return ConfigErrors([])
        } catch {
            return error
        }
    }

    func testPlainConfigIsNoManifest() throws {
        XCTAssertNil(try ConfigMapManifest.recognise(good, fileName: "c.yaml"))
        let (config, manifest) = try ConfigLoader.loadConfigOrManifest(path: try write(good))
        XCTAssertNil(manifest)
        XCTAssertEqual(config.activeCluster, "primary")
    }

    func testConfigMapEntryIsChecked() throws {
        let (config, manifest) = try ConfigLoader.loadConfigOrManifest(path: try write(manifest(good)))
        XCTAssertEqual(manifest?.name, "orders-kafka-proxy")
        XCTAssertEqual(manifest?.entry, "kafka-proxy.yaml")
        XCTAssertEqual(config.clusters.map(\.name), ["primary", "dr"])
    }

    func testErrorsPointAtTheManifestLines() throws {
        let bad = good.replacingOccurrences(of: "activeCluster: primary", with: "activeCluster: primry")
            + "\nlogging: {levl: debug}"
        let path = try write(manifest(bad))
        let errors = errors(path)
        XCTAssertEqual(errors.errors.map(\.line), [7, 11], errors.description)
        // "    activeCluster: primry": the value starts in column 20 of the manifest line.
        XCTAssertEqual(errors.errors.first?.column, 20, errors.description)
        XCTAssertEqual(errors.fileName, path)
        let rendered = errors.description
        XCTAssertTrue(rendered.contains("\(path):7:20: error: activeCluster 'primry'"), rendered)
        XCTAssertTrue(rendered.contains("    7 |     activeCluster: primry\n"), rendered)
        XCTAssertTrue(rendered.contains("\(path):11:15: error: unknown key 'levl'"), rendered)
    }

    func testSyntaxErrorInsideTheEntryPointsAtTheManifest() throws {
        let errors = errors(try write(manifest(good + "\nlogging: [never closed")))
        XCTAssertEqual(errors.errors.count, 1, errors.description)
        XCTAssertEqual(errors.errors.first?.code, .yamlSyntax)
        XCTAssertGreaterThanOrEqual(errors.errors.first?.line ?? 0, 11, errors.description)
    }

    func testChompingIndicatorAndCommentKeepThePlacement() throws {
        let bad = "listener: {bootstrapPort: 0}\n" + good.split(separator: "\n").dropFirst().joined(separator: "\n")
        let errors = errors(try write(manifest(bad, header: "  kafka-proxy.yaml: |-  # the proxy's file")))
        XCTAssertEqual(errors.errors.first?.line, 6, errors.description)
        XCTAssertEqual(errors.errors.first?.column, 31, errors.description)
    }

    func testQuotedEntryIsCheckedWithItsOwnLines() throws {
        let quoted = """
        apiVersion: v1
        kind: ConfigMap
        data:
          kafka-proxy.yaml: "listener: {bootstrapPort: 9092}\\nactiveCluster: nope\\nclusters:\\n  primary: {bootstrapServers: [\\"a:9092\\"]}\\n"
        """
        let path = try write(quoted)
        let errors = errors(path)
        XCTAssertEqual(errors.errors.first?.line, 2, errors.description)
        XCTAssertEqual(errors.fileName, "\(path) (data.kafka-proxy.yaml)")
        XCTAssertTrue(errors.description.contains("activeCluster: nope"), errors.description)
    }

    func testSingleEntryOfAnotherNameIsUsed() throws {
        let text = manifest(good, header: "  config.yaml: |")
        let (_, manifest) = try ConfigLoader.loadConfigOrManifest(path: try write(text))
        XCTAssertEqual(manifest?.entry, "config.yaml")
    }

    func testConfigMapWithoutTheEntrySaysWhatItHas() throws {
        let text = """
        apiVersion: v1
        kind: ConfigMap
        data:
          a.yaml: "x: 1"
          b.yaml: "y: 2"
        """
        let errors = errors(try write(text))
        XCTAssertEqual(errors.errors.count, 1)
        let message = errors.errors.first?.message ?? ""
        XCTAssertTrue(message.contains("no data.kafka-proxy.yaml entry") && message.contains("'a.yaml', 'b.yaml'"), message)
        XCTAssertEqual(errors.errors.first?.line, 4)

        let noData = self.errors(try write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"))
        XCTAssertTrue(noData.errors.first?.message.contains("no data section") == true, noData.description)
    }

    func testOtherManifestKindsAreNamed() throws {
        let errors = errors(try write("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {}\n"))
        XCTAssertEqual(errors.errors.count, 1)
        XCTAssertTrue(errors.errors.first?.message.contains("Kubernetes Deployment manifest") == true, errors.description)
        XCTAssertEqual(errors.errors.first?.line, 2)
    }

    func testShippedConfigMapChecks() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = repo.appendingPathComponent("config/kubernetes/configmap.yaml").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("no \(path)") }
        let (_, manifest) = try ConfigLoader.loadConfigOrManifest(path: path)
        XCTAssertEqual(manifest?.entry, "kafka-proxy.yaml")
    }
}
