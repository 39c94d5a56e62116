import KafkaProtocol
import SASLSettings

/// The proxy's login to one upstream connection, as a state machine that does no I/O: it returns
/// the request frames to write and consumes the response payloads the session reads back.
///
///     var auth = SaslAuthenticator(credentials: creds, serverHost: "broker-1", brokerVersions: nil)
///     var step = auth.start()                       // .send(ApiVersions) when versions are unknown
///     while case .send(let request) = step {
///         write(request.frame)
///         step = auth.receive(readResponsePayload()) // payload = the frame after its 4-byte size
///     }
///     // step is .authenticated(sessionLifetimeMs:) or .failed(SASLError)
///
/// Sequence: [ApiVersions v3 when `brokerVersions` is nil] → SaslHandshake v1 → SaslAuthenticate
/// (v0-v2: the highest both sides speak) until the mechanism completes. Correlation ids are the
/// proxy's own (from `firstCorrelationId`, negative by default so they never look like a client's).
/// A re-authentication (KIP-368) is a new authenticator given the versions the first one learned
/// (`brokerVersions`), so it starts at SaslHandshake.
public struct SaslAuthenticator {
    public struct Request: Equatable, Sendable {
        /// The complete frame, 4-byte size included.
        public var frame: [UInt8]
        public var apiKey: Int16
        public var apiVersion: Int16
        public var correlationId: Int32
    }

    public enum Step: Equatable, Sendable {
        case send(Request)
        case authenticated(sessionLifetimeMs: Int64)
        case failed(SASLError)
    }

    public enum State: Equatable, Sendable {
        case notStarted
        case awaitingApiVersions(correlationId: Int32)
        case awaitingHandshake(correlationId: Int32)
        case awaitingAuthenticate(correlationId: Int32, version: Int16)
        case authenticated(sessionLifetimeMs: Int64)
        case failed(SASLError)
    }

    public static let defaultFirstCorrelationId: Int32 = Int32.min
    public static let clientSoftwareName = "kafka-proxy-swift"
    public static let clientSoftwareVersion = "1.0"
    /// The ApiVersions version the authenticator asks with (a broker that lacks it answers v0).
    public static let apiVersionsVersion: Int16 = 3

    public let mechanism: SASLMechanism
    public private(set) var state: State = .notStarted
    /// The broker's ApiVersions: given, or learned by this authenticator.
    public private(set) var brokerVersions: ApiVersionsResponse?
    /// SaslAuthenticate responses seen; a SCRAM login takes 2, PLAIN and OAUTHBEARER 1.
    public private(set) var authenticateRounds = 0
    public let clientId: String?
    private var nextCorrelationId: Int32
    private let makeSession: () throws(SASLError) -> any SASLMechanismSession
    private var session: (any SASLMechanismSession)?

    /// `makeSession` runs when the broker has accepted the handshake (so secret files are read at
    /// each login, not ahead of it).
    public init(mechanism: SASLMechanism, brokerVersions: ApiVersionsResponse?, clientId: String? = "kafka-proxy",
                firstCorrelationId: Int32 = SaslAuthenticator.defaultFirstCorrelationId,
                makeSession: @escaping () throws(SASLError) -> any SASLMechanismSession) {
        self.mechanism = mechanism
        self.brokerVersions = brokerVersions
        self.clientId = clientId
        self.nextCorrelationId = firstCorrelationId
        self.makeSession = makeSession
    }

    /// The usual form: libsasl2 or OAUTHBEARER sessions from `credentials`; `serverHost` is the
    /// broker's host name (GSSAPI's `serviceName/serverHost`).
    public init(credentials: SASLCredentials, serverHost: String, brokerVersions: ApiVersionsResponse?,
                clientId: String? = "kafka-proxy", firstCorrelationId: Int32 = SaslAuthenticator.defaultFirstCorrelationId,
                secrets: SecretFileCache = .shared) {
        self.init(mechanism: credentials.mechanism, brokerVersions: brokerVersions, clientId: clientId,
                  firstCorrelationId: firstCorrelationId) { () throws(SASLError) in
            try SASLSessionFactory.make(credentials, serverHost: serverHost, secrets: secrets)
        }
    }

    /// The correlation id, api key and version of the response the authenticator waits for, if any.
    public var awaiting: (correlationId: Int32, apiKey: Int16, apiVersion: Int16)? {
        switch state {
        case .awaitingApiVersions(let c): return (c, ApiKey.apiVersions.rawValue, Self.apiVersionsVersion)
        case .awaitingHandshake(let c): return (c, ApiKey.saslHandshake.rawValue, 1)
        case .awaitingAuthenticate(let c, let v): return (c, ApiKey.saslAuthenticate.rawValue, v)
        default: return nil
        }
    }

    public var isFinished: Bool {
        switch state {
        case .authenticated, .failed: return true
        default: return false
        }
    }

    /// The first request. Call once.
    public mutating func start() -> Step {
        guard case .notStarted = state else {
            return fail(SASLError(.protocolViolation, mechanism: mechanism, detail: "authenticator started twice"))
        }
        if brokerVersions == nil {
            let c = takeCorrelationId()
            state = .awaitingApiVersions(correlationId: c)
            let body = ApiVersionsRequest(clientSoftwareName: Self.clientSoftwareName, clientSoftwareVersion: Self.clientSoftwareVersion)
                .encoded(version: Self.apiVersionsVersion)
            return .send(request(ApiKey.apiVersions.rawValue, Self.apiVersionsVersion, c, body))
        }
        return handshake()
    }

    /// Consumes one response payload (the frame without its 4-byte size).
    public mutating func receive(_ payload: [UInt8]) -> Step {
        guard let (expected, apiKey, version) = awaiting else {
            return fail(SASLError(.protocolViolation, mechanism: mechanism, detail: "response while not waiting for one"))
        }
        var r = ByteReader(payload)
        let header: ResponseHeader
        do {
            header = try ResponseHeader.decode(from: &r, headerVersion: ApiCatalog.responseHeaderVersion(apiKey: apiKey, apiVersion: version))
        } catch {
            return fail(SASLError(.protocolViolation, mechanism: mechanism, detail: "\(ApiKey(apiKey)) response header: \(error)"))
        }
        guard header.correlationId == expected else {
            return fail(SASLError(.protocolViolation, mechanism: mechanism,
                                  detail: "\(ApiKey(apiKey)) response has correlation id \(header.correlationId), expected \(expected)"))
        }
        let body = Array(payload[r.index...])
        switch state {
        case .awaitingApiVersions: return receiveApiVersions(body)
        case .awaitingHandshake: return receiveHandshake(body)
        case .awaitingAuthenticate(_, let v): return receiveAuthenticate(body, version: v)
        default: return fail(SASLError(.protocolViolation, mechanism: mechanism, detail: "unexpected state"))
        }
    }

    // MARK: steps

    private mutating func receiveApiVersions(_ body: [UInt8]) -> Step {
        let resp: ApiVersionsResponse
        do { resp = try ApiVersionsResponse.decode(body, version: Self.apiVersionsVersion) } catch {
            return fail(SASLError(.protocolViolation, mechanism: mechanism, detail: "ApiVersions response: \(error)"))
        }
        if resp.errorCode != 0 && !resp.isV0Fallback {
            return fail(SASLError(.protocolViolation, mechanism: mechanism, brokerErrorCode: resp.errorCode,
                                  detail: "ApiVersions refused"))
        }
        brokerVersions = resp
        return handshake()
    }

    private mutating func handshake() -> Step {
        let keys = brokerVersions?.apiKeys ?? []
        guard let hs = keys.first(where: { $0.apiKey == ApiKey.saslHandshake.rawValue }), hs.maxVersion >= 1, hs.minVersion <= 1 else {
            return fail(SASLError(.unsupportedMechanism, mechanism: mechanism,
                                  detail: "the broker does not offer SaslHandshake v1 (is its listener SASL_PLAINTEXT/SASL_SSL?)"))
        }
        guard keys.contains(where: { $0.apiKey == ApiKey.saslAuthenticate.rawValue }) else {
            return fail(SASLError(.unsupportedMechanism, mechanism: mechanism, detail: "the broker does not offer SaslAuthenticate"))
        }
        let c = takeCorrelationId()
        state = .awaitingHandshake(correlationId: c)
        return .send(request(ApiKey.saslHandshake.rawValue, 1, c, SaslHandshakeRequest(mechanism: mechanism.rawValue).encoded(version: 1)))
    }

    /// SaslAuthenticate version: the highest of 0...2 the broker offers.
    public static func authenticateVersion(_ versions: ApiVersionsResponse?) -> Int16? {
        guard let k = versions?.apiKeys.first(where: { $0.apiKey == ApiKey.saslAuthenticate.rawValue }),
              k.minVersion <= 2, k.maxVersion >= 0 else { return nil }
        return min(k.maxVersion, 2)
    }

    private mutating func receiveHandshake(_ body: [UInt8]) -> Step {
        let resp: SaslHandshakeResponse
        do { resp = try SaslHandshakeResponse.decode(body, version: 1) } catch {
            return fail(SASLError(.protocolViolation, mechanism: mechanism, detail: "SaslHandshake response: \(error)"))
        }
        guard resp.errorCode == 0 else {
            let enabled = resp.mechanisms.joined(separator: ", ")
            let kind: SASLError.Kind = resp.errorCode == SaslHandshakeResponse.unsupportedSaslMechanism ? .unsupportedMechanism : .protocolViolation
            return fail(SASLError(kind, mechanism: mechanism, brokerErrorCode: resp.errorCode,
                                  detail: "the broker refused the handshake; it enables [\(enabled)]"))
        }
        guard let version = Self.authenticateVersion(brokerVersions) else {
            return fail(SASLError(.unsupportedMechanism, mechanism: mechanism, detail: "no common SaslAuthenticate version"))
        }
        let first: [UInt8]
        do {
            let s = try makeSession()
            session = s
            first = try s.start()
        } catch {
            return fail(error)
        }
        return authenticate(first, version: version)
    }

    private mutating func authenticate(_ token: [UInt8], version: Int16) -> Step {
        let c = takeCorrelationId()
        state = .awaitingAuthenticate(correlationId: c, version: version)
        return .send(request(ApiKey.saslAuthenticate.rawValue, version, c, SaslAuthenticateRequest(authBytes: token).encoded(version: version)))
    }

    private mutating func receiveAuthenticate(_ body: [UInt8], version: Int16) -> Step {
        authenticateRounds += 1
        let resp: SaslAuthenticateResponse
        do { resp = try SaslAuthenticateResponse.decode(body, version: version) } catch {
            return fail(SASLError(.protocolViolation, mechanism: mechanism, detail: "SaslAuthenticate v\(version) response: \(error)"))
        }
        guard resp.errorCode == 0 else {
            var detail = "the broker rejected the credentials"
            if let s = session as? OAuthBearerClientSession, let status = s.serverErrorStatus { detail += " (status \(status))" }
            return fail(SASLError(.authenticationFailed, mechanism: mechanism, brokerErrorCode: resp.errorCode,
                                  brokerMessage: resp.errorMessage, detail: detail))
        }
        guard let session else {
            return fail(SASLError(.protocolViolation, mechanism: mechanism, detail: "no mechanism session"))
        }
        if session.isComplete && resp.authBytes.isEmpty {
            return succeed(resp.sessionLifetimeMs)
        }
        do {
            if let next = try session.step(resp.authBytes) {
                return authenticate(next, version: version)
            }
        } catch {
            return fail(error)
        }
        guard session.isComplete else {
            return fail(SASLError(.protocolViolation, mechanism: mechanism, detail: "the mechanism expected more from the broker"))
        }
        return succeed(resp.sessionLifetimeMs)
    }

    // MARK: helpers

    private mutating func succeed(_ lifetime: Int64) -> Step {
        session = nil
        state = .authenticated(sessionLifetimeMs: max(0, lifetime))
        return .authenticated(sessionLifetimeMs: max(0, lifetime))
    }

    private mutating func fail(_ error: SASLError) -> Step {
        let e = error.with(mechanism: mechanism)
        session = nil
        state = .failed(e)
        return .failed(e)
    }

    private mutating func takeCorrelationId() -> Int32 {
        defer { nextCorrelationId = nextCorrelationId &+ 1 }
        return nextCorrelationId
    }

    private func request(_ apiKey: Int16, _ version: Int16, _ correlationId: Int32, _ body: [UInt8]) -> Request {
        let header = RequestHeader(apiKey: apiKey, apiVersion: version, correlationId: correlationId, clientId: clientId)
        return Request(frame: KafkaFrame.request(header: header, body: body), apiKey: apiKey, apiVersion: version, correlationId: correlationId)
    }
}

/// What a client gets when it tries SASL itself on a connection where the proxy does the login:
/// an answer from the proxy (the request is not forwarded), so the client fails fast with a
/// message instead of hanging.
public enum ClientSASLRefusal {
    public static let message = "kafka-proxy authenticates to the cluster itself; configure this client without SASL (security.protocol=PLAINTEXT towards the proxy)"

    /// SaslHandshake: UNSUPPORTED_SASL_MECHANISM (33) with an empty mechanism list, so Java and
    /// librdkafka clients report "mechanism not enabled, enabled mechanisms are []".
    /// SaslAuthenticate: ILLEGAL_SASL_STATE (34) with `message`. Nil for any other API.
    /// Returns a complete response frame for the request's version and correlation id.
    public static func response(apiKey: Int16, apiVersion: Int16, correlationId: Int32) -> [UInt8]? {
        let body: [UInt8]
        switch apiKey {
        case ApiKey.saslHandshake.rawValue:
            body = SaslHandshakeResponse(errorCode: SaslHandshakeResponse.unsupportedSaslMechanism, mechanisms: []).encoded(version: apiVersion)
        case ApiKey.saslAuthenticate.rawValue:
            body = SaslAuthenticateResponse(errorCode: SaslHandshakeResponse.illegalSaslState, errorMessage: message,
                                            authBytes: [], sessionLifetimeMs: 0).encoded(version: apiVersion)
        default:
            return nil
        }
        return KafkaFrame.response(apiKey: apiKey, apiVersion: apiVersion, correlationId: correlationId, body: body)
    }
}
