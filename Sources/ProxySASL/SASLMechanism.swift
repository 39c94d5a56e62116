/// The SASL mechanisms the proxy can use towards an upstream cluster. The raw value is the name
/// sent in SaslHandshake and the name Cyrus libsasl2 knows the mechanism by.
public enum SASLMechanism: String, CaseIterable, Sendable, CustomStringConvertible {
    case plain = "PLAIN"
    case scramSha256 = "SCRAM-SHA-256"
    case scramSha512 = "SCRAM-SHA-512"
    case gssapi = "GSSAPI"
    case oauthBearer = "OAUTHBEARER"

    public var description: String { rawValue }

    /// Mechanisms carried out by Cyrus libsasl2 plugins (the rest is built by the proxy).
    public var usesCyrus: Bool { self != .oauthBearer }

    /// The libsasl2 plugin package that provides the mechanism at run time (Debian names).
    public var cyrusPluginPackage: String? {
        switch self {
        case .plain, .scramSha256, .scramSha512: return "libsasl2-modules"
        case .gssapi: return "libsasl2-modules-gssapi-mit"
        case .oauthBearer: return nil
        }
    }
}
