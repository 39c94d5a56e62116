import Foundation
import KafkaProtocol
import XCTest
@testable import ProxySASL
import SASLSettings

/// The authenticator (libsasl2 client) against Cyrus sasl_server_* with a saslpasswd2 sasldb.
final class SaslAuthenticatorCyrusTests: XCTestCase {
    static let password = "correct horse battery staple"
    nonisolated(unsafe) static var dir: String = ""

    override class func setUp() {
        super.setUp()
        dir = NSTemporaryDirectory() + "proxysasl-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let db = dir + "/sasldb2"
        try! CyrusTestServer.addUser("app", password: password, db: db)
        try! CyrusTestServer.addUser("other", password: "another-password", db: db)
        free(CyrusTestServer.sasldbPath)
        CyrusTestServer.sasldbPath = strdup(db)
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
        super.tearDown()
    }

    /// Drives the authenticator against the gate like the session would over a socket.
    func run(_ auth: inout SaslAuthenticator, _ gate: CyrusGateBroker, maxRounds: Int = 10) throws -> SaslAuthenticator.Step {
        var step = auth.start()
        var rounds = 0
        while case .send(let req) = step {
            rounds += 1
            XCTAssertLessThan(rounds, maxRounds)
            XCTAssertEqual(Array(req.frame[0..<4]), ByteWriter.int32Bytes(Int32(req.frame.count - 4)))
            step = auth.receive(try gate.handle(req.frame))
        }
        return step
    }

    func credentials(_ m: SASLMechanism, password: String = SaslAuthenticatorCyrusTests.password) -> SASLCredentials {
        SASLCredentials(mechanism: m, username: "app", password: .inline(Secret(password)))
    }

    func testPlainSucceeds() throws {
        let gate = CyrusGateBroker()
        gate.sessionLifetimeMs = 60_000
        var auth = SaslAuthenticator(credentials: credentials(.plain), serverHost: "localhost", brokerVersions: nil)
        XCTAssertEqual(try run(&auth, gate), .authenticated(sessionLifetimeMs: 60_000))
        XCTAssertEqual(gate.authenticatedUser, "app@kafka")  // Cyrus adds the server realm
        XCTAssertEqual(gate.authenticateRequests, 1)
        // The PLAIN message has no authorization id: "\0app\0<password>".
        XCTAssertEqual(gate.lastAuthBytes, [0] + Array("app".utf8) + [0] + Array(Self.password.utf8))
    }

    func testScramSha256Succeeds() throws {
        let gate = CyrusGateBroker()
        var auth = SaslAuthenticator(credentials: credentials(.scramSha256), serverHost: "localhost", brokerVersions: nil)
        XCTAssertEqual(try run(&auth, gate), .authenticated(sessionLifetimeMs: 0))
        XCTAssertEqual(gate.authenticatedUser, "app@kafka")  // Cyrus adds the server realm
        XCTAssertEqual(gate.authenticateRequests, 2)
        XCTAssertEqual(auth.authenticateRounds, 2)
    }

    func testScramSha512SucceedsAtEverySaslAuthenticateVersion() throws {
        for v: Int16 in 0...2 {
            let gate = CyrusGateBroker()
            gate.saslAuthenticateMax = v
            gate.sessionLifetimeMs = 5_000
            var auth = SaslAuthenticator(credentials: credentials(.scramSha512), serverHost: "localhost", brokerVersions: nil)
            // v0 has no session lifetime field.
            XCTAssertEqual(try run(&auth, gate), .authenticated(sessionLifetimeMs: v >= 1 ? 5_000 : 0), "SaslAuthenticate v\(v)")
            XCTAssertEqual(gate.authenticatedUser, "app@kafka")  // Cyrus adds the server realm
        }
    }

    func testReauthenticationReusesLearnedVersions() throws {
        let gate = CyrusGateBroker()
        gate.sessionLifetimeMs = 1_000
        var first = SaslAuthenticator(credentials: credentials(.scramSha256), serverHost: "localhost", brokerVersions: nil)
        XCTAssertEqual(try run(&first, gate), .authenticated(sessionLifetimeMs: 1_000))
        var again = SaslAuthenticator(credentials: credentials(.scramSha256), serverHost: "localhost",
                                      brokerVersions: first.brokerVersions, firstCorrelationId: 100)
        guard case .send(let hs) = again.start() else { return XCTFail("expected a request") }
        XCTAssertEqual(hs.apiKey, ApiKey.saslHandshake.rawValue)
        XCTAssertEqual(hs.correlationId, 100)
        var step = again.receive(try gate.handle(hs.frame))
        while case .send(let req) = step { step = again.receive(try gate.handle(req.frame)) }
        XCTAssertEqual(step, .authenticated(sessionLifetimeMs: 1_000))
    }

    func testWrongPasswordFailsWithBrokerMessageAndNoSecret() throws {
        for m in [SASLMechanism.plain, .scramSha256, .scramSha512] {
            let gate = CyrusGateBroker()
            var auth = SaslAuthenticator(credentials: credentials(m, password: "wrong-password-xyz"), serverHost: "localhost", brokerVersions: nil)
            guard case .failed(let error) = try run(&auth, gate) else { return XCTFail("\(m) should fail") }
            XCTAssertEqual(error.kind, .authenticationFailed, "\(m)")
            XCTAssertEqual(error.mechanism, m)
            XCTAssertEqual(error.brokerErrorCode, 58)
            XCTAssertTrue(error.brokerMessage?.contains("Authentication failed") ?? false, "\(error)")
            let text = "\(error) \(String(reflecting: error))"
            XCTAssertTrue(text.contains(m.rawValue), text)
            XCTAssertFalse(text.contains("wrong-password-xyz"), text)
            XCTAssertNil(gate.authenticatedUser)
        }
    }

    func testUnknownUserFails() throws {
        let gate = CyrusGateBroker()
        var creds = credentials(.scramSha256)
        creds.username = "nobody"
        var auth = SaslAuthenticator(credentials: creds, serverHost: "localhost", brokerVersions: nil)
        guard case .failed(let error) = try run(&auth, gate) else { return XCTFail("should fail") }
        XCTAssertEqual(error.brokerErrorCode, 58)
    }

    func testMechanismNotEnabledOnBroker() throws {
        let gate = CyrusGateBroker()
        gate.enabledMechanisms = ["PLAIN"]
        var auth = SaslAuthenticator(credentials: credentials(.scramSha512), serverHost: "localhost", brokerVersions: nil)
        guard case .failed(let error) = try run(&auth, gate) else { return XCTFail("should fail") }
        XCTAssertEqual(error.kind, .unsupportedMechanism)
        XCTAssertEqual(error.brokerErrorCode, 33)
        XCTAssertTrue(error.description.contains("[PLAIN]"), error.description)
        XCTAssertEqual(gate.authenticateRequests, 0)
    }

    func testPasswordFileRotationIsPickedUpByTheNextLogin() throws {
        let path = Self.dir + "/password"
        try "wrong-at-first\n".write(toFile: path, atomically: true, encoding: .utf8)
        let creds = SASLCredentials(mechanism: .scramSha256, username: "app", password: .file(path: path))
        let cache = SecretFileCache()
        var a1 = SaslAuthenticator(credentials: creds, serverHost: "localhost", brokerVersions: nil, secrets: cache)
        guard case .failed = try run(&a1, CyrusGateBroker()) else { return XCTFail("old password should fail") }
        // atomically: a new file renamed over the old one (new inode), as Kubernetes secret updates do.
        try (Self.password + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        var a2 = SaslAuthenticator(credentials: creds, serverHost: "localhost", brokerVersions: nil, secrets: cache)
        XCTAssertEqual(try run(&a2, CyrusGateBroker()), .authenticated(sessionLifetimeMs: 0))
    }

    func testCyrusClientPluginsAreInstalled() {
        let mechs = CyrusSASL.availableClientMechanisms()
        for m in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] { XCTAssertTrue(mechs.contains(m), "\(m) missing from \(mechs)") }
    }
}

extension ByteWriter {
    static func int32Bytes(_ v: Int32) -> [UInt8] {
        var w = ByteWriter()
        w.writeInt32(v)
        return w.bytes
    }
}
