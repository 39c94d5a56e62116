import SASLSettings

extension SASLMechanism {
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
