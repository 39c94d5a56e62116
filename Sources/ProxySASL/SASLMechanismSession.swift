import SASLSettings

/// One side of one SASL exchange (client side), as the Kafka SaslAuthenticate flow drives it:
/// `start` gives the initial response, each server challenge goes to `step`.
public protocol SASLMechanismSession: AnyObject {
    var mechanism: SASLMechanism { get }
    /// The client's first message (may be empty, never nil: Kafka always sends one SaslAuthenticate).
    func start() throws(SASLError) -> [UInt8]
    /// Processes a server message. Returns the next client message, or nil when the client has
    /// nothing more to send.
    func step(_ challenge: [UInt8]) throws(SASLError) -> [UInt8]?
    /// The client considers the exchange finished (server verified where the mechanism does so).
    var isComplete: Bool { get }
}

/// Makes the session for a mechanism: Cyrus libsasl2 for PLAIN/SCRAM/GSSAPI, the proxy's own
/// RFC 7628 client for OAUTHBEARER. Secrets are read here (files through `SecretFileCache`), so each
/// login picks up a rotated password or token.
public enum SASLSessionFactory {
    /// `serverHost` is the broker's host name (GSSAPI builds `serviceName/serverHost` from it).
    public static func make(_ credentials: SASLCredentials, serverHost: String,
                            secrets: SecretFileCache = .shared) throws(SASLError) -> any SASLMechanismSession {
        try credentials.validate()
        switch credentials.mechanism {
        case .oauthBearer:
            let token = try secrets.contents(of: credentials.tokenFile!)
            return try OAuthBearerClientSession(token: token)
        case .plain, .scramSha256, .scramSha512:
            let password = try secrets.resolve(credentials.password!)
            return try CyrusClientSession(mechanism: credentials.mechanism, service: "kafka", serverHost: serverHost,
                                          authname: credentials.username!, password: password)
        case .gssapi:
            try GSSAPIEnvironment.prepare(keytabFile: credentials.keytabFile)
            return try CyrusClientSession(mechanism: .gssapi, service: credentials.serviceName, serverHost: serverHost,
                                          authname: credentials.principal, password: nil)
        }
    }
}

/// OAUTHBEARER client message (RFC 7628 section 3.1) with no authorization id and no extensions:
/// `n,,` GS2 header, then `auth=Bearer <token>` between 0x01 separators.
public final class OAuthBearerClientSession: SASLMechanismSession {
    public let mechanism = SASLMechanism.oauthBearer
    private let token: Secret
    private var sentInitial = false
    private var answeredError = false
    /// The server's error status (RFC 7628 section 3.2.2 JSON), once it sent one.
    public private(set) var serverErrorStatus: String?

    public init(token: Secret) throws(SASLError) {
        // RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
        guard !token.isEmpty, token.bytes.allSatisfy(Self.isB64TokenByte) else {
            throw SASLError(.credentials, mechanism: .oauthBearer,
                            detail: "the token is not a bearer token (RFC 6750 b64token characters only)")
        }
        self.token = token
    }

    static func isB64TokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }

    /// The initial client response for `token`.
    public static func initialResponse(token: Secret) -> [UInt8] {
        Array("n,,\u{1}auth=Bearer ".utf8) + token.bytes + [0x01, 0x01]
    }

    public func start() throws(SASLError) -> [UInt8] {
        sentInitial = true
        return Self.initialResponse(token: token)
    }

    /// A non-empty server message after the initial response is an error status; RFC 7628 makes the
    /// client answer it with a single 0x01, after which the server fails the exchange.
    public func step(_ challenge: [UInt8]) throws(SASLError) -> [UInt8]? {
        if challenge.isEmpty { return nil }
        if answeredError {
            throw SASLError(.authenticationFailed, mechanism: .oauthBearer,
                            detail: "server error status \(serverErrorStatus ?? "")")
        }
        answeredError = true
        serverErrorStatus = String(decoding: challenge.prefix(1024), as: UTF8.self)
        return [0x01]
    }

    public var isComplete: Bool { sentInitial }
}
