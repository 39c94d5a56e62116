/// What the proxy logs in with, per cluster. `description` names files and the user, never a secret.
public struct SASLCredentials: Sendable, Equatable, CustomStringConvertible {
    public var mechanism: SASLMechanism
    /// PLAIN, SCRAM: the user name (authentication id).
    public var username: String?
    /// PLAIN, SCRAM: the password, inline or from a file re-read when it changes.
    public var password: SecretSource?
    /// GSSAPI: the client principal (for example app@EXAMPLE.COM).
    public var principal: String?
    /// GSSAPI: the client keytab. MIT Kerberos reads it through `KRB5_CLIENT_KTNAME`, which is
    /// process-wide; see `GSSAPIEnvironment`.
    public var keytabFile: String?
    /// GSSAPI: the broker's Kerberos service name (`kafka/<broker host>@REALM`).
    public var serviceName: String
    /// OAUTHBEARER: a file holding the bearer token, re-read when it changes.
    public var tokenFile: String?

    public init(mechanism: SASLMechanism, username: String? = nil, password: SecretSource? = nil,
                principal: String? = nil, keytabFile: String? = nil, serviceName: String = "kafka",
                tokenFile: String? = nil) {
        self.mechanism = mechanism
        self.username = username
        self.password = password
        self.principal = principal
        self.keytabFile = keytabFile
        self.serviceName = serviceName
        self.tokenFile = tokenFile
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

    /// Problems that make a login impossible before anything is sent (missing fields).
    public func validate() throws(SASLError) {
        func missing(_ what: String) -> SASLError {
            SASLError(.credentials, mechanism: mechanism, detail: "\(mechanism.rawValue) needs \(what)")
        }
        switch mechanism {
        case .plain, .scramSha256, .scramSha512:
            guard let username, !username.isEmpty else { throw missing("a username") }
            guard password != nil else { throw missing("a password or passwordFile") }
        case .gssapi:
            guard !serviceName.isEmpty else { throw missing("a serviceName") }
        case .oauthBearer:
            guard tokenFile != nil else { throw missing("a tokenFile") }
        }
    }
}
