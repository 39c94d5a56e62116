import Foundation
import KafkaProtocol
import XCTest
@testable import ProxySASL
import SASLSettings

/// A scripted mechanism: returns `messages` in turn, completes after the last.
final class ScriptedSession: SASLMechanismSession {
    let mechanism: SASLMechanism
    var messages: [[UInt8]]
    var challenges: [[UInt8]] = []
    private(set) var isComplete = false
    init(_ mechanism: SASLMechanism, _ messages: [[UInt8]]) {
        self.mechanism = mechanism
        self.messages = messages
    }
    func start() throws(SASLError) -> [UInt8] {
        let m = messages.removeFirst()
        isComplete = messages.isEmpty
        return m
    }
    func step(_ challenge: [UInt8]) throws(SASLError) -> [UInt8]? {
        challenges.append(challenge)
        if messages.isEmpty { isComplete = true; return nil }
        let m = messages.removeFirst()
        isComplete = messages.isEmpty
        return m
    }
}

func brokerVersions(handshakeMax: Int16 = 1, authenticateMax: Int16? = 2) -> ApiVersionsResponse {
    var keys: [ApiVersionsResponse.ApiVersion] = [.init(apiKey: 17, minVersion: 0, maxVersion: handshakeMax)]
    if let authenticateMax { keys.append(.init(apiKey: 36, minVersion: 0, maxVersion: authenticateMax)) }
    return ApiVersionsResponse(apiKeys: keys)
}

func responsePayload(_ apiKey: ApiKey, _ version: Int16, _ correlationId: Int32, _ body: [UInt8]) -> [UInt8] {
    Array(KafkaFrame.response(apiKey: apiKey.rawValue, apiVersion: version, correlationId: correlationId, body: body)[4...])
}

func requestBody(_ frame: [UInt8]) throws -> (RequestHeader, [UInt8]) {
    let payload = Array(frame[4...])
    let (h, n) = try XCTUnwrap(try RequestHeader.parse(payload))
    return (h, Array(payload[n...]))
}

final class SaslAuthenticatorTests: XCTestCase {
    func testSequenceVersionsAndCorrelationIds() throws {
        let session = ScriptedSession(.scramSha256, [[1], [2]])
        var auth = SaslAuthenticator(mechanism: .scramSha256, brokerVersions: nil, clientId: "p", firstCorrelationId: -5) { session }
        guard case .send(let av) = auth.start() else { return XCTFail() }
        let (avh, _) = try requestBody(av.frame)
        XCTAssertEqual(avh.apiKey, 18); XCTAssertEqual(avh.apiVersion, 3); XCTAssertEqual(avh.correlationId, -5)
        XCTAssertEqual(avh.clientId, "p")
        // The broker answers v3 (header v0 for ApiVersions) offering SaslAuthenticate up to v1.
        var step = auth.receive(responsePayload(.apiVersions, 3, -5, brokerVersions(authenticateMax: 1).encoded(version: 3)))
        guard case .send(let hs) = step else { return XCTFail("\(step)") }
        let (hsh, hsb) = try requestBody(hs.frame)
        XCTAssertEqual(hsh.apiKey, 17); XCTAssertEqual(hsh.apiVersion, 1); XCTAssertEqual(hsh.correlationId, -4)
        XCTAssertEqual(try SaslHandshakeRequest.decode(hsb, version: 1).mechanism, "SCRAM-SHA-256")
        step = auth.receive(responsePayload(.saslHandshake, 1, -4, SaslHandshakeResponse(mechanisms: ["SCRAM-SHA-256"]).encoded(version: 1)))
        guard case .send(let a1) = step else { return XCTFail("\(step)") }
        let (a1h, a1b) = try requestBody(a1.frame)
        XCTAssertEqual(a1h.apiKey, 36); XCTAssertEqual(a1h.apiVersion, 1); XCTAssertEqual(a1h.correlationId, -3)
        XCTAssertEqual(try SaslAuthenticateRequest.decode(a1b, version: 1).authBytes, [1])
        XCTAssertEqual(auth.awaiting?.correlationId, -3)
        step = auth.receive(responsePayload(.saslAuthenticate, 1, -3, SaslAuthenticateResponse(authBytes: [9]).encoded(version: 1)))
        guard case .send(let a2) = step else { return XCTFail("\(step)") }
        XCTAssertEqual(try SaslAuthenticateRequest.decode(try requestBody(a2.frame).1, version: 1).authBytes, [2])
        step = auth.receive(responsePayload(.saslAuthenticate, 1, -2, SaslAuthenticateResponse(authBytes: [], sessionLifetimeMs: 30_000).encoded(version: 1)))
        XCTAssertEqual(step, .authenticated(sessionLifetimeMs: 30_000))
        XCTAssertEqual(session.challenges, [[9]])
        XCTAssertTrue(auth.isFinished)
        XCTAssertNil(auth.awaiting)
    }

    func testV2FlexibleResponseHeader() throws {
        var auth = SaslAuthenticator(mechanism: .plain, brokerVersions: brokerVersions(), firstCorrelationId: 1) { ScriptedSession(.plain, [[0]]) }
        guard case .send = auth.start() else { return XCTFail() }
        guard case .send(let a) = auth.receive(responsePayload(.saslHandshake, 1, 1, SaslHandshakeResponse(mechanisms: ["PLAIN"]).encoded(version: 1))) else { return XCTFail() }
        XCTAssertEqual(a.apiVersion, 2)
        // header v1 = correlation id + empty tagged fields
        let payload = responsePayload(.saslAuthenticate, 2, 2, SaslAuthenticateResponse(sessionLifetimeMs: 7).encoded(version: 2))
        XCTAssertEqual(Array(payload[0..<5]), [0, 0, 0, 2, 0])
        XCTAssertEqual(auth.receive(payload), .authenticated(sessionLifetimeMs: 7))
    }

    func testBrokerWithoutSaslHandshakeV1OrAuthenticate() {
        var a = SaslAuthenticator(mechanism: .plain, brokerVersions: brokerVersions(handshakeMax: 0)) { ScriptedSession(.plain, [[0]]) }
        guard case .failed(let e) = a.start() else { return XCTFail() }
        XCTAssertEqual(e.kind, .unsupportedMechanism)
        var b = SaslAuthenticator(mechanism: .plain, brokerVersions: brokerVersions(authenticateMax: nil)) { ScriptedSession(.plain, [[0]]) }
        guard case .failed(let e2) = b.start() else { return XCTFail() }
        XCTAssertEqual(e2.kind, .unsupportedMechanism)
        XCTAssertEqual(e2.mechanism, .plain)
    }

    func testCorrelationMismatchAndGarbageFail() {
        var a = SaslAuthenticator(mechanism: .plain, brokerVersions: brokerVersions(), firstCorrelationId: 10) { ScriptedSession(.plain, [[0]]) }
        _ = a.start()
        guard case .failed(let e) = a.receive(responsePayload(.saslHandshake, 1, 11, SaslHandshakeResponse(mechanisms: []).encoded(version: 1))) else { return XCTFail() }
        XCTAssertEqual(e.kind, .protocolViolation)
        XCTAssertTrue(e.detail.contains("correlation id 11, expected 10"), e.detail)
        var b = SaslAuthenticator(mechanism: .plain, brokerVersions: brokerVersions(), firstCorrelationId: 10) { ScriptedSession(.plain, [[0]]) }
        _ = b.start()
        guard case .failed(let e2) = b.receive([0, 0, 0, 10, 0]) else { return XCTFail() }
        XCTAssertEqual(e2.kind, .protocolViolation)
        // Nothing more is accepted after a failure.
        guard case .failed = b.receive([0, 0, 0, 10, 0]) else { return XCTFail() }
    }

    func testSessionCreationErrorIsReported() {
        var a = SaslAuthenticator(mechanism: .oauthBearer, brokerVersions: brokerVersions(), firstCorrelationId: 0) { () throws(SASLError) -> any SASLMechanismSession in
            throw SASLError(.credentials, detail: "cannot open secret file /x")
        }
        _ = a.start()
        guard case .failed(let e) = a.receive(responsePayload(.saslHandshake, 1, 0, SaslHandshakeResponse(mechanisms: ["OAUTHBEARER"]).encoded(version: 1))) else { return XCTFail() }
        XCTAssertEqual(e.kind, .credentials)
        XCTAssertEqual(e.mechanism, .oauthBearer)
    }

    // MARK: OAUTHBEARER

    func testOAuthBearerMessageFormat() throws {
        let token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhcHAifQ."
        XCTAssertEqual(OAuthBearerClientSession.initialResponse(token: Secret(token)),
                       Array("n,,\u{1}auth=Bearer \(token)\u{1}\u{1}".utf8))
        let dir = NSTemporaryDirectory() + "oauth-\(getpid())-\(Int.random(in: 0...1_000_000))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/token"
        try (token + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let creds = SASLCredentials(mechanism: .oauthBearer, tokenFile: file)
        let cache = SecretFileCache()
        var auth = SaslAuthenticator(credentials: creds, serverHost: "b", brokerVersions: brokerVersions(authenticateMax: 0), firstCorrelationId: 0, secrets: cache)
        _ = auth.start()
        guard case .send(let a) = auth.receive(responsePayload(.saslHandshake, 1, 0, SaslHandshakeResponse(mechanisms: ["OAUTHBEARER"]).encoded(version: 1))) else { return XCTFail() }
        XCTAssertEqual(try SaslAuthenticateRequest.decode(try requestBody(a.frame).1, version: 0).authBytes,
                       Array("n,,\u{1}auth=Bearer \(token)\u{1}\u{1}".utf8))
        XCTAssertEqual(auth.receive(responsePayload(.saslAuthenticate, 0, 1, SaslAuthenticateResponse().encoded(version: 0))), .authenticated(sessionLifetimeMs: 0))
        // The refreshed token is read by the next login.
        try "second.token\n".write(toFile: file, atomically: true, encoding: .utf8)
        let s = try SASLSessionFactory.make(creds, serverHost: "b", secrets: cache)
        XCTAssertEqual(try s.start(), Array("n,,\u{1}auth=Bearer second.token\u{1}\u{1}".utf8))
    }

    func testOAuthBearerServerErrorIsAnsweredThenFails() throws {
        var auth = SaslAuthenticator(mechanism: .oauthBearer, brokerVersions: brokerVersions(), firstCorrelationId: 0) {
            () throws(SASLError) -> any SASLMechanismSession in try OAuthBearerClientSession(token: Secret("abc"))
        }
        _ = auth.start()
        _ = auth.receive(responsePayload(.saslHandshake, 1, 0, SaslHandshakeResponse(mechanisms: ["OAUTHBEARER"]).encoded(version: 1)))
        let status = #"{"status":"invalid_token"}"#
        guard case .send(let ack) = auth.receive(responsePayload(.saslAuthenticate, 2, 1, SaslAuthenticateResponse(authBytes: Array(status.utf8)).encoded(version: 2))) else { return XCTFail() }
        XCTAssertEqual(try SaslAuthenticateRequest.decode(try requestBody(ack.frame).1, version: 2).authBytes, [0x01])
        guard case .failed(let e) = auth.receive(responsePayload(.saslAuthenticate, 2, 2, SaslAuthenticateResponse(errorCode: 58, errorMessage: "invalid token").encoded(version: 2))) else { return XCTFail() }
        XCTAssertEqual(e.brokerMessage, "invalid token")
        XCTAssertTrue(e.description.contains("invalid_token"), e.description)
        XCTAssertFalse(e.description.contains("abc"))
    }

    func testOAuthBearerRejectsNonTokenCharacters() {
        XCTAssertThrowsError(try OAuthBearerClientSession(token: Secret("a b")))
        XCTAssertThrowsError(try OAuthBearerClientSession(token: Secret("a\u{1}b")))
        XCTAssertThrowsError(try OAuthBearerClientSession(token: Secret("")))
    }

    // MARK: secrets, credentials, timing, refusal

    func testSecretsNeverPrinted() {
        let creds = SASLCredentials(mechanism: .scramSha512, username: "app", password: .inline(Secret("hunter2")))
        for text in ["\(creds)", String(reflecting: creds), "\(Secret("hunter2"))", String(reflecting: Secret("hunter2"))] {
            XCTAssertFalse(text.contains("hunter2"), text)
        }
        var dumped = ""
        dump(creds, to: &dumped)
        XCTAssertFalse(dumped.contains("hunter2"), dumped)
        XCTAssertTrue("\(creds)".contains("username=app"))
    }

    func testCredentialValidation() {
        XCTAssertThrowsError(try SASLCredentials(mechanism: .plain, username: "u").validate())
        XCTAssertThrowsError(try SASLCredentials(mechanism: .scramSha256, password: .file(path: "/p")).validate())
        XCTAssertThrowsError(try SASLCredentials(mechanism: .oauthBearer).validate())
        XCTAssertNoThrow(try SASLCredentials(mechanism: .gssapi, principal: "app@EXAMPLE.COM").validate())
        XCTAssertNoThrow(try SASLCredentials(mechanism: .oauthBearer, tokenFile: "/t").validate())
    }

    func testMissingSecretFileNamesTheFile() {
        do {
            _ = try SecretFileCache().contents(of: "/nonexistent/kafka-proxy/password")
            XCTFail("should throw")
        } catch {
            XCTAssertEqual(error.kind, .credentials)
            XCTAssertTrue(error.detail.contains("/nonexistent/kafka-proxy/password"))
        }
    }

    func testReauthenticationTiming() {
        XCTAssertNil(Reauthentication.delayMs(sessionLifetimeMs: 0, jitter: 0.5))
        XCTAssertEqual(Reauthentication.delayMs(sessionLifetimeMs: 10_000, jitter: 0), 8_500)
        XCTAssertEqual(Reauthentication.delayMs(sessionLifetimeMs: 10_000, jitter: 1), 9_500)
        XCTAssertEqual(Reauthentication.delayMs(sessionLifetimeMs: 10_000, jitter: 0.5), 9_000)
        XCTAssertEqual(Reauthentication.delayMs(sessionLifetimeMs: 1, jitter: 0), 1)
        for _ in 0..<100 {
            let d = Reauthentication.delayMs(sessionLifetimeMs: 3_600_000)!
            XCTAssertTrue((3_060_000...3_420_000).contains(d), "\(d)")
        }
    }

    func testClientSaslIsRefused() throws {
        let hs = try XCTUnwrap(ClientSASLRefusal.response(apiKey: 17, apiVersion: 1, correlationId: 42))
        XCTAssertEqual(hs, hex("0000000a 0000002a 0021 00000000"))
        let auth = try XCTUnwrap(ClientSASLRefusal.response(apiKey: 36, apiVersion: 2, correlationId: 43))
        var r = ByteReader(Array(auth[4...]))
        XCTAssertEqual(try ResponseHeader.decode(from: &r, headerVersion: 1).correlationId, 43)
        let body = try SaslAuthenticateResponse.decode(Array(auth[(4 + r.index)...]), version: 2)
        XCTAssertEqual(body.errorCode, 34)
        XCTAssertEqual(body.errorMessage, ClientSASLRefusal.message)
        XCTAssertNil(ClientSASLRefusal.response(apiKey: 3, apiVersion: 1, correlationId: 1))
    }
}

func hex(_ s: String) -> [UInt8] {
    let digits = s.filter { $0.isHexDigit }
    var out = [UInt8]()
    var i = digits.startIndex
    while i < digits.endIndex {
        let j = digits.index(i, offsetBy: 2)
        out.append(UInt8(digits[i..<j], radix: 16)!)
        i = j
    }
    return out
}
