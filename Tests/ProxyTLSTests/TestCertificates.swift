import Foundation
import XCTest

/// Certificates made with the `openssl` command line into a temporary directory, once per process.
final class TestCertificates: @unchecked Sendable {
    let directory: String

    static let shared: TestCertificates = {
        do { return try TestCertificates() } catch { fatalError("cannot generate test certificates: \(error)") }
    }()

    init() throws {
        directory = NSTemporaryDirectory() + "proxytls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try makeCA("ca", subject: "/CN=Proxy Test CA")
        try makeCA("other-ca", subject: "/CN=Some Other CA")
        try makeLeaf("server", ca: "ca", subject: "/CN=localhost", san: "DNS:localhost,IP:127.0.0.1")
        try makeLeaf("client", ca: "ca", subject: "/CN=proxy-client", san: nil)
        try makeLeaf("client2", ca: "ca", subject: "/CN=proxy-client-2", san: nil)
        try makeLeaf("expired", ca: "ca", subject: "/CN=expired.localhost", san: "DNS:localhost", days: -1)
        try makeLeaf("foreign", ca: "other-ca", subject: "/CN=localhost", san: "DNS:localhost,IP:127.0.0.1")
        try makeLeaf("foreign-client", ca: "other-ca", subject: "/CN=foreign-client", san: nil)
        // An encrypted copy of the client key and its password file.
        try openssl(["pkey", "-in", path("client.key"), "-aes256", "-passout", "pass:s3cret", "-out", path("client-enc.key")])
        try "s3cret\n".write(toFile: path("key-password"), atomically: true, encoding: .utf8)
    }

    func path(_ name: String) -> String { "\(directory)/\(name)" }

    private func makeCA(_ name: String, subject: String) throws {
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", path("\(name).key"), "-out", path("\(name).crt"), "-days", "30", "-subj", subject])
    }

    func makeLeaf(_ name: String, ca: String, subject: String, san: String?, days: Int = 30) throws {
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", subject])
        var extensions = "basicConstraints=CA:FALSE\n"
        if let san { extensions += "subjectAltName=\(san)\n" }
        try extensions.write(toFile: path("\(name).ext"), atomically: true, encoding: .utf8)
        try openssl(["x509", "-req", "-in", path("\(name).csr"), "-CA", path("\(ca).crt"), "-CAkey", path("\(ca).key"),
                     "-CAcreateserial", "-days", "\(days)", "-extfile", path("\(name).ext"), "-out", path("\(name).crt")])
    }

    func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "openssl", code: Int(process.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "openssl \(arguments.joined(separator: " ")): \(String(decoding: output, as: UTF8.self))"])
        }
    }
}
