/// The SASL login settings as plain values, in their own module because both the config model
/// (ProxyCore, which links no SASL library) and the SASL client (ProxySASL, the only module that
/// imports libsasl2) take them, and neither may depend on the other.

/// The SASL mechanisms the proxy can use towards an upstream cluster. The raw value is the name
/// sent in SaslHandshake and the name Cyrus libsasl2 knows the mechanism by.
public enum SASLMechanism: String, CaseIterable, Sendable, CustomStringConvertible {
    case plain = "PLAIN"
    case scramSha256 = "SCRAM-SHA-256"
    case scramSha512 = "SCRAM-SHA-512"
    case gssapi = "GSSAPI"
    case oauthBearer = "OAUTHBEARER"

    public var description: String { rawValue }
}
