import SASLSettings

extension SASLCredentials {
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
