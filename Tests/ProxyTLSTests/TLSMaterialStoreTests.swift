import Foundation
import XCTest
@testable import ProxyTLS
import TLSSettings

final class TLSMaterialStoreTests: XCTestCase {
    let certs = TestCertificates.shared

    func testRotationKeepsPreviousContextOnBrokenFiles() throws {
        let dir = certs.path("rotation-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fm = FileManager.default
        func install(_ name: String) throws {
            for ext in ["crt", "key"] {
                try? fm.removeItem(atPath: "\(dir)/client.\(ext)")
                try fm.copyItem(atPath: certs.path("\(name).\(ext)"), toPath: "\(dir)/client.\(ext)")
            }
        }
        try install("client")
        let store = try TLSMaterialStore(configuration: .client(TLSClientConfiguration(
            caFile: certs.path("ca.crt"), certFile: "\(dir)/client.crt", keyFile: "\(dir)/client.key", serverName: "localhost")))
        let first = store.current
        XCTAssertTrue(first.summary.contains("CN=proxy-client "), first.summary)
        guard case .unchanged = store.reloadIfChanged() else { return XCTFail("expected unchanged") }
        let engineWithOldMaterial = try store.makeEngine()

        // New certificate and key: reloaded.
        try install("client2")
        guard case .reloaded(let second) = store.reloadIfChanged() else { return XCTFail("expected reload") }
        XCTAssertTrue(second.summary.contains("CN=proxy-client-2"), second.summary)
        XCTAssertTrue(store.current === second)
        XCTAssertTrue(engineWithOldMaterial.context === first)

        // A half-done rotation (certificate replaced, key not yet): previous context stays, reported once.
        try? fm.removeItem(atPath: "\(dir)/client.crt")
        try fm.copyItem(atPath: certs.path("client.crt"), toPath: "\(dir)/client.crt")
        guard case .failed(let mismatch) = store.reloadIfChanged() else { return XCTFail("expected failure") }
        XCTAssertEqual(mismatch.code, .material)
        XCTAssertTrue(mismatch.message.contains("does not match the certificate"), mismatch.message)
        XCTAssertTrue(store.current === second)
        guard case .unchanged = store.reloadIfChanged() else { return XCTFail("a failure is reported once") }

        // Garbage in the certificate file.
        try "not a certificate\n".write(toFile: "\(dir)/client.crt", atomically: true, encoding: .utf8)
        guard case .failed(let garbage) = store.reloadIfChanged() else { return XCTFail("expected failure") }
        XCTAssertTrue(garbage.message.contains("is not a PEM certificate"), garbage.message)
        XCTAssertTrue(store.current === second)

        // Fixed: the new material applies.
        try install("client")
        guard case .reloaded(let third) = store.reloadIfChanged() else { return XCTFail("expected reload") }
        XCTAssertTrue(third.summary.contains("CN=proxy-client "), third.summary)
    }
}
