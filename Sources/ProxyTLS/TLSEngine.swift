#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import COpenSSL
import CProxyShims

/// One TLS connection driven entirely through memory BIOs: no sockets, no blocking.
///
/// The owner moves bytes: ciphertext from the network goes in with `feed`, plaintext comes out of
/// `readPlaintext`; plaintext goes in with `writePlaintext`, ciphertext for the network comes out
/// of `drainCiphertext`. After every call that may produce output (handshake, read, write,
/// shutdown) the owner drains. Not thread-safe: confine to one queue.
public final class TLSEngine {
    public enum ReadResult: Equatable {
        /// `n` plaintext bytes were written to the buffer (n > 0).
        case bytes(Int)
        /// Nothing decryptable yet: feed more ciphertext.
        case needInput
        /// The peer sent close_notify.
        case closed
    }

    public let context: TLSContext
    /// The name verified against the peer certificate and sent as SNI (clients), if any.
    public let expectedPeerName: String?
    public private(set) var isHandshakeComplete = false
    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    private let recorder = TLSEventRecorder()
    private var failure: TLSError?

    init(context: TLSContext, serverName: String?) throws(TLSError) {
        self.context = context
        ERR_clear_error()
        guard let ssl = SSL_new(context.ctx) else {
            throw TLSError(.internal, "cannot create a TLS connection: \(OpenSSLErrors.drain())")
        }
        guard let readBIO = BIO_new(BIO_s_mem()), let writeBIO = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError(.internal, "cannot create memory BIOs")
        }
        CProxyShims_BIO_set_mem_eof_return(readBIO, -1)
        CProxyShims_BIO_set_mem_eof_return(writeBIO, -1)
        SSL_set_bio(ssl, readBIO, writeBIO)  // the SSL owns both BIOs now
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(recorder).toOpaque())

        switch context.configuration {
        case .client(let c):
            let name = c.serverName ?? serverName
            expectedPeerName = name
            SSL_set_connect_state(ssl)
            if let name, !name.isEmpty {
                let isIP = Self.isIPAddress(name)
                if !isIP { _ = CProxyShims_SSL_set_tlsext_host_name(ssl, name) }  // no SNI for IPs (RFC 6066)
                if !c.insecureSkipVerify, let param = SSL_get0_param(ssl) {
                    X509_VERIFY_PARAM_set_hostflags(param, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
                    let ok = isIP ? X509_VERIFY_PARAM_set1_ip_asc(param, name) : X509_VERIFY_PARAM_set1_host(param, name, 0)
                    if ok != 1 {
                        SSL_free(ssl)
                        throw TLSError(.internal, "cannot verify the name '\(name)': \(OpenSSLErrors.drain())")
                    }
                }
            }
        case .server:
            expectedPeerName = nil
            SSL_set_accept_state(ssl)
        }
    }

    deinit {
        SSL_set_ex_data(ssl, 0, nil)
        SSL_free(ssl)
    }

    private static func isIPAddress(_ name: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
    }

    // MARK: bytes in

    /// Hands ciphertext received from the network to the engine (copied).
    public func feed(_ ciphertext: UnsafeRawBufferPointer) {
        guard ciphertext.count > 0 else { return }
        _ = BIO_write(readBIO, ciphertext.baseAddress, Int32(ciphertext.count))
    }

    public func feed(_ ciphertext: [UInt8]) {
        ciphertext.withUnsafeBytes { feed($0) }
    }

    /// Ciphertext or decrypted plaintext waiting inside the engine: a reader that stopped early
    /// should come back even if the socket has nothing new.
    public var hasBufferedInput: Bool {
        SSL_pending(ssl) > 0 || BIO_ctrl_pending(readBIO) > 0
    }

    // MARK: handshake

    /// Advances the handshake with what was fed so far. Returns true once complete; drain
    /// ciphertext after every call.
    @discardableResult
    public func handshake() throws(TLSError) -> Bool {
        if let failure { throw failure }
        if isHandshakeComplete { return true }
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            isHandshakeComplete = true
            return true
        }
        let error = SSL_get_error(ssl, result)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return false }
        throw fail(classify(during: "handshake"))
    }

    // MARK: plaintext

    /// Decrypts into `buffer`. Runs the handshake first if it is not complete.
    public func readPlaintext(into buffer: UnsafeMutableRawBufferPointer) throws(TLSError) -> ReadResult {
        if let failure { throw failure }
        guard try handshake() else { return .needInput }
        guard buffer.count > 0 else { return .needInput }
        ERR_clear_error()
        let n = SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if n > 0 { return .bytes(Int(n)) }
        switch SSL_get_error(ssl, n) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .needInput
        case SSL_ERROR_ZERO_RETURN: return .closed
        default: throw fail(classify(during: "read"))
        }
    }

    /// Encrypts all of `bytes` (memory BIOs never push back); drain afterwards.
    public func writePlaintext(_ bytes: UnsafeRawBufferPointer) throws(TLSError) {
        if let failure { throw failure }
        guard isHandshakeComplete else {
            throw TLSError(.internal, "write before the TLS handshake completed")
        }
        var offset = 0
        while offset < bytes.count {
            ERR_clear_error()
            let chunk = min(bytes.count - offset, 1 << 30)
            let n = SSL_write(ssl, bytes.baseAddress! + offset, Int32(chunk))
            if n <= 0 { throw fail(classify(during: "write")) }
            offset += Int(n)
        }
    }

    public func writePlaintext(_ bytes: [UInt8]) throws(TLSError) {
        var failure: TLSError?
        bytes.withUnsafeBytes { raw in
            do throws(TLSError) { try writePlaintext(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    // MARK: bytes out

    /// Ciphertext waiting to go to the network.
    public var pendingCiphertext: Int { Int(BIO_ctrl_pending(writeBIO)) }

    /// Moves up to `buffer.count` bytes of ciphertext out; returns how many.
    public func drainCiphertext(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard buffer.count > 0 else { return 0 }
        let n = BIO_read(writeBIO, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        return n > 0 ? Int(n) : 0
    }

    /// All pending ciphertext.
    public func drainCiphertext() -> [UInt8] {
        let count = pendingCiphertext
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { drainCiphertext(into: $0) }
        bytes.removeLast(count - n)
        return bytes
    }

    // MARK: closing

    /// Queues close_notify; drain afterwards. Idempotent.
    public func shutdown() {
        guard isHandshakeComplete, failure == nil else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// The error to report when the transport reached EOF: during the handshake that usually
    /// means the peer is not a TLS endpoint or dropped us after an alert we did not see.
    public func transportClosed() -> TLSError? {
        if let failure { return failure }
        guard !isHandshakeComplete else { return nil }
        if let alert = recorder.receivedAlert {
            return TLSError(.handshakeFailure, "the peer aborted the TLS handshake with alert '\(alert)'\(alertHint(alert))")
        }
        let role = context.isClient ? "server" : "client"
        let hint = context.isClient
            ? " (is the broker port a plain-TCP listener? check the port and tls.enabled)"
            : " (a plain-TCP client, or a client that rejected the proxy's certificate)"
        return fail(TLSError(.closedDuringHandshake, "the \(role) closed the connection during the TLS handshake\(hint)"))
    }

    /// "TLSv1.3", after the handshake.
    public var protocolVersion: String {
        guard let version = SSL_get_version(ssl) else { return "?" }
        return String(cString: version)
    }

    /// Subject of the peer's certificate, after the handshake (nil when it sent none).
    public var peerCertificateSubject: String? {
        guard let cert = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(cert) }
        return X509Text.subject(cert)
    }

    // MARK: errors

    private func fail(_ error: TLSError) -> TLSError {
        failure = error
        return error
    }

    private func classify(during operation: String) -> TLSError {
        var codes: [UInt] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            codes.append(code)
        }
        let detail = codes.isEmpty ? "" : codes.map(OpenSSLErrors.text).joined(separator: "; ")
        if let verify = recorder.verifyFailure {
            return verify.error(expectedName: expectedPeerName, caFile: caFileDescription, isClient: context.isClient)
        }
        if codes.contains(where: { CProxyShims_ERR_is_not_tls($0) != 0 }) {
            let peer = context.isClient ? "the broker" : "the client"
            let hint = context.isClient
                ? "the broker port is probably a plain-TCP listener: check the port, or disable tls for this cluster"
                : "the client is probably connecting without TLS (security.protocol PLAINTEXT) to a TLS listener"
            return TLSError(.notTLS, "\(peer) is not speaking TLS (\(detail)): \(hint)")
        }
        if codes.contains(where: {
            CProxyShims_ERR_GET_LIB($0) == ERR_LIB_SSL && CProxyShims_ERR_GET_REASON($0) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE
        }) {
            return TLSError(.peerCertificateRequired,
                            "the client presented no certificate, but the listener requires one (listener.tls.clientCAFile)")
        }
        if let alert = recorder.receivedAlert {
            return TLSError(.handshakeFailure,
                            "the peer aborted the TLS \(operation == "handshake" ? "handshake" : "connection") with alert '\(alert)'\(alertHint(alert))")
        }
        if let alert = recorder.sentAlert {
            return TLSError(.handshakeFailure, "TLS \(operation) failed, sent alert '\(alert)': \(detail)")
        }
        let code: TLSError.Code = isHandshakeComplete ? .protocolError : .handshakeFailure
        return TLSError(code, "TLS \(operation) failed: \(detail.isEmpty ? "unknown error" : detail)")
    }

    private var caFileDescription: String {
        switch context.configuration {
        case .client(let c): c.caFile.map { "tls.caFile \($0)" } ?? "the system trust store"
        case .server(let s): s.clientCAFile.map { "listener.tls.clientCAFile \($0)" } ?? "the trust store"
        }
    }

    private func alertHint(_ alert: String) -> String {
        let lower = alert.lowercased()
        if context.isClient {
            if lower.contains("certificate required") || lower.contains("handshake failure") && hasNoClientCert {
                return ": the broker requires a client certificate; set tls.certFile and tls.keyFile"
            }
            if lower.contains("unknown ca") || lower.contains("bad certificate") || lower.contains("certificate unknown") {
                return ": the broker does not accept the proxy's client certificate (not signed by a CA it trusts?)"
            }
            if lower.contains("certificate expired") {
                return ": the broker says the proxy's client certificate has expired"
            }
            if lower.contains("protocol version") {
                return ": no TLS version in common (tls.minVersion too high for the broker?)"
            }
        } else {
            if lower.contains("unknown ca") || lower.contains("bad certificate") || lower.contains("certificate unknown") {
                return ": the client does not trust the listener's certificate (listener.tls.certFile)"
            }
            if lower.contains("protocol version") {
                return ": no TLS version in common with the client"
            }
        }
        return ""
    }

    private var hasNoClientCert: Bool {
        if case .client(let c) = context.configuration { return c.certFile == nil }
        return false
    }
}

/// What the verify and info callbacks saw for one connection (reached through SSL ex_data 0).
final class TLSEventRecorder {
    struct VerifyFailure {
        var code: Int32
        var depth: Int32
        var subject: String
        var issuer: String
        var notBefore: String
        var notAfter: String
        var subjectAltNames: [String]

        func error(expectedName: String?, caFile: String, isClient: Bool) -> TLSError {
            let whose = isClient ? "the broker's" : "the client's"
            let which = depth == 0 ? "\(whose) certificate \(subject)" : "certificate \(subject) (depth \(depth) in \(whose) chain)"
            switch code {
            case X509_V_ERR_CERT_HAS_EXPIRED:
                return TLSError(.certificateExpired, "\(which) expired at \(notAfter)")
            case X509_V_ERR_CERT_NOT_YET_VALID:
                return TLSError(.certificateNotYetValid, "\(which) is not valid before \(notBefore) (check the clocks)")
            case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
                let names = subjectAltNames.isEmpty ? "no subject alternative names" : subjectAltNames.joined(separator: ", ")
                return TLSError(.hostnameMismatch,
                                "hostname mismatch: \(which) is not valid for '\(expectedName ?? "?")' (it names \(names)); set tls.serverName if the broker is dialled by another name")
            case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
                 X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
                 X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_CERT_UNTRUSTED:
                return TLSError(.unknownCA,
                                "unknown CA: \(which), issued by \(issuer), is not signed by a CA in \(caFile)")
            default:
                let reason = X509_verify_cert_error_string(Int(code)).map { String(cString: $0) } ?? "error \(code)"
                return TLSError(.certificateVerifyFailed, "certificate verification failed for \(which): \(reason)")
            }
        }
    }

    var verifyFailure: VerifyFailure?
    var receivedAlert: String?
    var sentAlert: String?

    static func from(_ ssl: OpaquePointer?) -> TLSEventRecorder? {
        guard let ssl, let raw = SSL_get_ex_data(ssl, 0) else { return nil }
        return Unmanaged<TLSEventRecorder>.fromOpaque(raw).takeUnretainedValue()
    }
}

/// Records the first verification failure with the certificate it concerns; changes no decision.
func tlsVerifyCallback(_ preverifyOK: Int32, _ store: OpaquePointer?) -> Int32 {
    guard preverifyOK == 0, let store else { return preverifyOK }
    guard let raw = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
          let recorder = TLSEventRecorder.from(OpaquePointer(raw)), recorder.verifyFailure == nil else {
        return preverifyOK
    }
    let code = X509_STORE_CTX_get_error(store)
    let depth = X509_STORE_CTX_get_error_depth(store)
    if let cert = X509_STORE_CTX_get_current_cert(store) {
        recorder.verifyFailure = .init(code: code, depth: depth, subject: X509Text.subject(cert),
                                       issuer: X509Text.issuer(cert), notBefore: X509Text.notBefore(cert),
                                       notAfter: X509Text.notAfter(cert),
                                       subjectAltNames: X509Text.subjectAltNames(cert))
    } else {
        recorder.verifyFailure = .init(code: code, depth: depth, subject: "(unknown)", issuer: "(unknown)",
                                       notBefore: "?", notAfter: "?", subjectAltNames: [])
    }
    return preverifyOK
}

/// Records alerts sent and received, for "handshake failure with the alert name".
func tlsInfoCallback(_ ssl: OpaquePointer?, _ location: Int32, _ value: Int32) {
    guard location & SSL_CB_ALERT != 0, let recorder = TLSEventRecorder.from(ssl) else { return }
    // close_notify is not a failure.
    guard value & 0xff != 0 else { return }
    var name = SSL_alert_desc_string_long(value).map { String(cString: $0) } ?? "unknown"
    if name == "unknown" {
        // OpenSSL 3.0 has no long names for the TLS 1.3 alerts.
        switch value & 0xff {
        case 109: name = "missing extension"
        case 115: name = "unknown PSK identity"
        case 116: name = "certificate required"
        case 120: name = "no application protocol"
        default: name = "alert \(value & 0xff)"
        }
    }
    if location & SSL_CB_READ != 0 {
        if recorder.receivedAlert == nil { recorder.receivedAlert = name }
    } else if recorder.sentAlert == nil {
        recorder.sentAlert = name
    }
}
