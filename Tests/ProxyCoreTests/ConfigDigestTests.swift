import Foundation
import ProxyCore
import XCTest

final class ConfigDigestTests: XCTestCase {
    /// FIPS 180-4 / NIST CAVP vectors, including the lengths either side of a padding block boundary.
    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex(Array("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8)),
                       "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // 55, 56 and 64 bytes: the length field fits in the block, does not, and a full block of data.
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 55)),
                       "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 56)),
                       "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a")
        XCTAssertEqual(SHA256.hex([UInt8](repeating: 0x61, count: 64)),
                       "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    }

    /// The digest is of the bytes as read, so a comment-only edit changes it and the same bytes
    /// anywhere give the same digest (what `sha256sum` prints for the file).
    func testLoadWithDigestHashesTheFileBytes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("digest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let yaml = minimalConfig()
        let a = dir.appendingPathComponent("a.yaml"), b = dir.appendingPathComponent("b.yaml")
        try yaml.write(to: a, atomically: true, encoding: .utf8)
        try ("# comment\n" + yaml).write(to: b, atomically: true, encoding: .utf8)

        let loadedA = try ConfigLoader.loadWithDigest(path: a.path)
        let loadedB = try ConfigLoader.loadWithDigest(path: b.path)
        XCTAssertEqual(loadedA.digest.hex, SHA256.hex(Array(yaml.utf8)))
        XCTAssertEqual(loadedA.config, loadedB.config)
        XCTAssertNotEqual(loadedA.digest, loadedB.digest)
        XCTAssertEqual(try ConfigLoader.loadWithDigest(path: a.path).digest, loadedA.digest)
    }

    func testUnreadableAndNonUTF8FilesStillFailAsBefore() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("digest-\(UUID().uuidString).yaml").path
        XCTAssertThrowsError(try ConfigLoader.loadWithDigest(path: path)) { error in
            XCTAssertTrue("\(error)".contains("no such file"), "\(error)")
        }
        _ = FileManager.default.createFile(atPath: path, contents: Data([0x61, 0xff, 0xfe]))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertThrowsError(try ConfigLoader.loadWithDigest(path: path)) { error in
            XCTAssertTrue("\(error)".contains("not valid UTF-8"), "\(error)")
        }
    }
}
