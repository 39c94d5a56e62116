/// What the proxy logs in to a cluster with (`clusters.<name>.sasl`): the config model validates it
/// per mechanism, the SASL client logs in with it. `description` names files and the user, never a
/// secret (it may reach logs and `/status`).
public struct SASLCredentials: Sendable, Equatable, CustomStringConvertible {
    public static let defaultServiceName = "kafka"

    public var mechanism: SASLMechanism
    /// PLAIN, SCRAM: the user name (authentication id).
    public var username: String?
    /// PLAIN, SCRAM: the password, inline (discouraged) or from a file re-read when it changes;
    /// exactly one of `password:` / `passwordFile:` in the config.
    public var password: SecretSource?
    /// GSSAPI: the client principal (for example app@EXAMPLE.COM).
    public var principal: String?
    /// GSSAPI: the client keytab; without it the Kerberos ticket cache (KRB5CCNAME) is used. MIT
    /// Kerberos reads it through `KRB5_CLIENT_KTNAME`, which is process-wide; see `GSSAPIEnvironment`.
    public var keytabFile: String?
    /// GSSAPI: the broker's Kerberos service name (`kafka/<broker host>@REALM`).
    public var serviceName: String
    /// OAUTHBEARER: a file holding the bearer token, re-read when it changes.
    public var tokenFile: String?
    /// Config line of an inline `password:` (for the startup warning), nil otherwise.
    public var inlinePasswordLine: Int?

    public init(mechanism: SASLMechanism, username: String? = nil, password: SecretSource? = nil,
                principal: String? = nil, keytabFile: String? = nil, serviceName: String = defaultServiceName,
                tokenFile: String? = nil, inlinePasswordLine: Int? = nil) {
        self.mechanism = mechanism
        self.username = username
        self.password = password
        self.principal = principal
        self.keytabFile = keytabFile
        self.serviceName = serviceName
        self.tokenFile = tokenFile
        self.inlinePasswordLine = inlinePasswordLine
    }

    /// Where the password stood in the file is not a setting: a reload that only moved it (a comment
    /// added above) changes nothing, so it must not reconnect the cluster's clients.
    public static func == (a: SASLCredentials, b: SASLCredentials) -> Bool {
        a.mechanism == b.mechanism && a.username == b.username && a.password == b.password
            && a.principal == b.principal && a.keytabFile == b.keytabFile && a.serviceName == b.serviceName
            && a.tokenFile == b.tokenFile
    }

    public var description: String {
        var parts = ["mechanism=\(mechanism.rawValue)"]
        if let username { parts.append("username=\(username)") }
        if let password { parts.append("password=\(password)") }
        if let principal { parts.append("principal=\(principal)") }
        if let keytabFile { parts.append("keytabFile=\(keytabFile)") }
        if mechanism == .gssapi { parts.append("serviceName=\(serviceName)") }
        if let tokenFile { parts.append("tokenFile=\(tokenFile)") }
        return "SASLCredentials(" + parts.joined(separator: ", ") + ")"
    }
}
