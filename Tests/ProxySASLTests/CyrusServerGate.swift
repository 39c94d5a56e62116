import CSASL
import Foundation
import KafkaProtocol
import XCTest

/// The independent verifier: Cyrus `sasl_server_*` in the test process with a sasldb written by
/// `saslpasswd2`, wrapped in a tiny in-memory "broker" that answers ApiVersions, SaslHandshake and
/// SaslAuthenticate the way Kafka does. None of the proxy's SASL code is used here.
enum CyrusTestServer {
    nonisolated(unsafe) static var sasldbPath = strdup("")!
    static let realm = "kafka"

    /// sasl_server_init with a getopt callback naming the sasldb; once per process.
    static let initialized: Bool = {
        typealias Proc = @convention(c) () -> Int32
        let getopt: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
                                    UnsafeMutablePointer<UnsafePointer<CChar>?>?, UnsafeMutablePointer<UInt32>?) -> Int32 = { _, _, option, result, len in
            guard let option, let result else { return SASL_BADPARAM }
            let value: UnsafePointer<CChar>?
            switch String(cString: option) {
            case "sasldb_path": value = UnsafePointer(CyrusTestServer.sasldbPath)
            case "auxprop_plugin": value = CyrusTestServer.constant("sasldb")
            case "pwcheck_method": value = CyrusTestServer.constant("auxprop")
            case "mech_list": value = CyrusTestServer.constant("PLAIN SCRAM-SHA-256 SCRAM-SHA-512")
            default: return SASL_FAIL
            }
            result.pointee = value
            len?.pointee = value.map { UInt32(strlen($0)) } ?? 0
            return SASL_OK
        }
        let callbacks = UnsafeMutablePointer<sasl_callback_t>.allocate(capacity: 2)
        callbacks[0] = sasl_callback_t(id: UInt(SASL_CB_GETOPT), proc: unsafeBitCast(getopt, to: Proc.self), context: nil)
        callbacks[1] = sasl_callback_t(id: UInt(SASL_CB_LIST_END), proc: nil, context: nil)
        // libsasl2 keeps the application name pointer: it must outlive the call.
        return sasl_server_init(callbacks, CyrusTestServer.constant("ProxySASLTests")) == SASL_OK
    }()

    nonisolated(unsafe) static var constants: [String: UnsafeMutablePointer<CChar>] = [:]
    static func constant(_ s: String) -> UnsafePointer<CChar> {
        if let p = constants[s] { return UnsafePointer(p) }
        let p = strdup(s)!
        constants[s] = p
        return UnsafePointer(p)
    }

    /// Creates (or adds to) the sasldb with `saslpasswd2 -f <db> -p -c -u kafka <user>`.
    static func addUser(_ user: String, password: String, db: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/saslpasswd2")
        p.arguments = ["-f", db, "-p", "-c", "-u", realm, user]
        let stdin = Pipe()
        p.standardInput = stdin
        try p.run()
        stdin.fileHandleForWriting.write(Data(password.utf8))
        try stdin.fileHandleForWriting.close()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw NSError(domain: "saslpasswd2", code: Int(p.terminationStatus)) }
    }
}

/// An in-memory broker that verifies with Cyrus. `handle` takes a request frame and returns the
/// response payload (without size), like a socket read after framing.
final class CyrusGateBroker {
    var saslAuthenticateMax: Int16 = 2
    var sessionLifetimeMs: Int64 = 0
    var enabledMechanisms = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
    private(set) var authenticatedUser: String?
    private(set) var authenticateRequests = 0
    private(set) var lastAuthBytes: [UInt8] = []
    private var conn: OpaquePointer?
    private var mechanism: String?

    deinit { if conn != nil { sasl_dispose(&conn) } }

    func handle(_ frame: [UInt8]) throws -> [UInt8] {
        let payload = Array(frame[4...])
        guard let (header, headerLength) = try RequestHeader.parse(payload) else { throw KafkaProtocolError(.truncated, "header") }
        let body = Array(payload[headerLength...])
        let v = header.apiVersion
        let responseBody: [UInt8]
        switch header.apiKey {
        case ApiKey.apiVersions.rawValue:
            responseBody = ApiVersionsResponse(apiKeys: [
                .init(apiKey: 17, minVersion: 0, maxVersion: 1),
                .init(apiKey: 18, minVersion: 0, maxVersion: 4),
                .init(apiKey: 36, minVersion: 0, maxVersion: saslAuthenticateMax),
            ]).encoded(version: v)
        case ApiKey.saslHandshake.rawValue:
            let req = try SaslHandshakeRequest.decode(body, version: v)
            if enabledMechanisms.contains(req.mechanism) {
                mechanism = req.mechanism
                responseBody = SaslHandshakeResponse(errorCode: 0, mechanisms: enabledMechanisms).encoded(version: v)
            } else {
                responseBody = SaslHandshakeResponse(errorCode: 33, mechanisms: enabledMechanisms).encoded(version: v)
            }
        case ApiKey.saslAuthenticate.rawValue:
            authenticateRequests += 1
            let req = try SaslAuthenticateRequest.decode(body, version: v)
            lastAuthBytes = req.authBytes
            responseBody = authenticate(req.authBytes).encoded(version: v)
        default:
            throw KafkaProtocolError(.unknownApiKey, "gate: \(header.apiKey)")
        }
        let frameOut = KafkaFrame.response(apiKey: header.apiKey, apiVersion: v, correlationId: header.correlationId, body: responseBody)
        return Array(frameOut[4...])
    }

    private func authenticate(_ clientIn: [UInt8]) -> SaslAuthenticateResponse {
        var out: UnsafePointer<CChar>?
        var outLen: UInt32 = 0
        var rc: Int32
        if conn == nil {
            precondition(CyrusTestServer.initialized, "sasl_server_init failed")
            var c: OpaquePointer?
            rc = sasl_server_new("kafka", "localhost", CyrusTestServer.realm, nil, nil, nil, UInt32(SASL_SUCCESS_DATA), &c)
            guard rc == SASL_OK else { return failure(rc) }
            conn = c
            rc = clientIn.withUnsafeBytes {
                sasl_server_start(conn, mechanism, $0.baseAddress?.assumingMemoryBound(to: CChar.self), UInt32($0.count), &out, &outLen)
            }
        } else {
            rc = clientIn.withUnsafeBytes {
                sasl_server_step(conn, $0.baseAddress?.assumingMemoryBound(to: CChar.self), UInt32($0.count), &out, &outLen)
            }
        }
        guard rc == SASL_OK || rc == SASL_CONTINUE else { return failure(rc) }
        let bytes = out.map { p in p.withMemoryRebound(to: UInt8.self, capacity: Int(outLen)) { Array(UnsafeBufferPointer(start: $0, count: Int(outLen))) } } ?? []
        if rc == SASL_OK {
            var user: UnsafeRawPointer?
            if sasl_getprop(conn, SASL_USERNAME, &user) == SASL_OK, let user {
                authenticatedUser = String(cString: user.assumingMemoryBound(to: CChar.self))
            }
            sasl_dispose(&conn)
            conn = nil
        }
        return SaslAuthenticateResponse(errorCode: 0, errorMessage: nil, authBytes: bytes,
                                        sessionLifetimeMs: rc == SASL_OK ? sessionLifetimeMs : 0)
    }

    private func failure(_ rc: Int32) -> SaslAuthenticateResponse {
        let detail = conn.map { String(cString: sasl_errdetail($0)) } ?? String(cString: sasl_errstring(rc, nil, nil))
        if conn != nil { sasl_dispose(&conn); conn = nil }
        return SaslAuthenticateResponse(errorCode: 58, errorMessage: "Authentication failed during authentication due to invalid credentials with SASL mechanism \(mechanism ?? "?"): \(detail)")
    }
}
