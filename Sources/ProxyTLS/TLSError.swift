/// Why a TLS connection or a TLS configuration failed, in words an operator can act on.
///
/// `code` is stable (metrics use `reason`, tests match on it); `message` names the certificate,
/// the host, the date or the alert involved.
public struct TLSError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable, CaseIterable {
        /// The peer's chain does not lead to a CA we trust (wrong `caFile`, or a self-signed certificate).
        case unknownCA = "unknown_ca"
        /// The certificate is valid but for another name (or IP) than the one dialled / `serverName`.
        case hostnameMismatch = "hostname_mismatch"
        case certificateExpired = "certificate_expired"
        case certificateNotYetValid = "certificate_not_yet_valid"
        /// Any other chain verification failure (revoked, bad signature, wrong purpose, ...).
        case certificateVerifyFailed = "certificate_verify_failed"
        /// A server that requires client certificates got none.
        case peerCertificateRequired = "peer_certificate_required"
        /// The peer aborted the handshake (the alert is in the message) or no common parameters.
        case handshakeFailure = "handshake_failure"
        /// The peer does not speak TLS (a plain-TCP port behind a TLS config).
        case notTLS = "not_tls"
        /// The peer closed the connection before the handshake finished.
        case closedDuringHandshake = "closed_during_handshake"
        /// Certificate, key or CA files that cannot be read or used.
        case material = "material"
        /// A TLS-level error after the handshake (bad record MAC, unexpected message, ...).
        case protocolError = "protocol_error"
        case `internal` = "internal"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// For `kafka_proxy_errors_total{reason}`.
    public var reason: String { "tls_\(code.rawValue)" }

    public var description: String { message }
}

/// True when `bytes` start like a TLS record carrying a ClientHello: content type 22
/// (handshake), a 3.x record version and, when present, handshake type 1. A plain Kafka
/// listener uses this to tell "a TLS client on a plain port" from garbage: as a Kafka frame
/// size, 0x1603_01xx would be ~370 MB.
public func looksLikeTLSClientHello<Bytes: Collection>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
    var iterator = bytes.makeIterator()
    guard let type = iterator.next(), type == 0x16 else { return false }
    guard let major = iterator.next() else { return true }
    guard major == 0x03 else { return false }
    guard let minor = iterator.next() else { return true }
    guard minor <= 0x04 else { return false }
    // Record length (2 bytes), then the handshake message type.
    guard iterator.next() != nil, iterator.next() != nil else { return true }
    guard let handshakeType = iterator.next() else { return true }
    return handshakeType == 0x01
}
