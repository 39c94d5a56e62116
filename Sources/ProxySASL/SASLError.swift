import SASLSettings

/// Why a SASL login failed. Holds the mechanism, the broker's error code and message when the
/// broker refused, and a detail written by the proxy; never a password or token.
public struct SASLError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The broker refused the credentials (SaslAuthenticate error, usually 58 SASL_AUTHENTICATION_FAILED).
        case authenticationFailed = "authentication_failed"
        /// The broker does not enable the mechanism (SaslHandshake error 33), or lacks SaslHandshake v1 / SaslAuthenticate.
        case unsupportedMechanism = "unsupported_mechanism"
        /// Credentials missing or unreadable (secret file, keytab), before anything was sent.
        case credentials = "credentials"
        /// libsasl2 refused (missing plugin, bad server message, failed server verification).
        case mechanism = "mechanism"
        /// The broker answered something that is not a valid response to what was sent.
        case protocolViolation = "protocol"
        /// The login did not finish in time (a broker that does not answer, a KDC that does not).
        case timeout = "timeout"
    }

    public var kind: Kind
    public var mechanism: SASLMechanism?
    /// The broker's error code, when the broker refused.
    public var brokerErrorCode: Int16?
    /// The broker's error message, when it sent one.
    public var brokerMessage: String?
    public var detail: String

    public init(_ kind: Kind, mechanism: SASLMechanism? = nil, brokerErrorCode: Int16? = nil,
                brokerMessage: String? = nil, detail: String) {
        self.kind = kind
        self.mechanism = mechanism
        self.brokerErrorCode = brokerErrorCode
        self.brokerMessage = brokerMessage
        self.detail = detail
    }

    /// Label for `kafka_proxy_sasl_failures_total{reason}`-style metrics.
    public var reason: String { kind.rawValue }

    public var description: String {
        var s = "SASL \(mechanism.map { $0.rawValue } ?? "login") failed (\(kind.rawValue)): \(detail)"
        if let code = brokerErrorCode { s += "; broker error \(code)" }
        if let m = brokerMessage, !m.isEmpty { s += ": \(m)" }
        return s
    }

    func with(mechanism: SASLMechanism) -> SASLError {
        var e = self
        if e.mechanism == nil { e.mechanism = mechanism }
        return e
    }
}
