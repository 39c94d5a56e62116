import ProxyYAML
import SASLSettings

extension ProxyConfig {
    /// `clusters.<name>.sasl`: how the proxy logs in to that cluster. Validated per mechanism by the
    /// loader; secrets are never part of `description` (it goes to logs and `/status`).
    public typealias SASL = SASLCredentials

    /// Things that are valid but worth a warning at startup (the runtime logs them): today, inline
    /// SASL passwords. Never contains a secret.
    public var advisories: [String] {
        clusters.compactMap { cluster in
            guard let sasl = cluster.sasl, case .inline = sasl.password else { return nil }
            let at = sasl.inlinePasswordLine.map { "line \($0): " } ?? ""
            return "\(at)clusters.\(cluster.name).sasl.password is written in the config file; prefer passwordFile (re-read when it changes, kept out of the config)"
        } + topicPrefixAdvisories
    }
}

/// `clusters.<name>.sasl:` — mechanism plus the credentials that mechanism needs, and nothing else.
enum SASLSection {
    static func decode(_ node: Node?, clusterPath: String, ownerMark: Mark?, _ diagnostics: ConfigDiagnostics) -> ProxyConfig.SASL?? {
        guard let node else { return .some(nil) }
        let path = ConfigPath.join(clusterPath, "sasl")
        guard let map = ConfigMapping(node, path: path, ownerMark: ownerMark, diagnostics: diagnostics) else { return nil }
        defer { map.finish() }
        var ok = true

        func string(_ key: String) -> (value: String, node: Node)? {
            guard let n = map.optional(key) else { return nil }
            guard let s = ConfigValues.string(n, path: map.childPath(key), diagnostics) else {
                ok = false
                return nil
            }
            return (s, n)
        }

        let mechanismNode = map.required("mechanism", what: SASLMechanism.allCases.map(\.rawValue).joined(separator: " | "))
        let mechanism = mechanismNode.flatMap {
            ConfigValues.enumeration($0, path: map.childPath("mechanism"), as: SASLMechanism.self, diagnostics)
        }
        let username = string("username")
        let password = string("password")
        let passwordFile = string("passwordFile")
        let principal = string("principal")
        let keytabFile = string("keytabFile")
        let serviceName = string("serviceName")
        let tokenFile = string("tokenFile")
        guard let mechanism else { return nil }

        let m = mechanism.rawValue
        func missing(_ key: String, _ why: String) {
            ok = false
            // A key that is present but invalid has been reported already.
            guard map.keyMark(key) == nil else { return }
            let place = " in \(path)"
            diagnostics.report(.missingKey, path: map.childPath(key), "missing required key '\(key)'\(place) (\(why))",
                               at: map.keyMark("mechanism") ?? ownerMark)
            ok = false
        }
        func notFor(_ key: String, _ value: (value: String, node: Node)?, _ appliesTo: String) {
            guard value != nil else { return }
            diagnostics.report(.invalidValue, path: map.childPath(key),
                               "\(map.childPath(key)) applies to \(appliesTo) only, not to mechanism \(m)",
                               at: map.keyMark(key))
            ok = false
        }

        var sasl = ProxyConfig.SASL(mechanism: mechanism)
        switch mechanism {
        case .plain, .scramSha256, .scramSha512:
            if let username { sasl.username = username.value } else { missing("username", "\(m) logs in with a user name") }
            switch (password, passwordFile) {
            case (let p?, nil):
                sasl.password = .inline(Secret(p.value))
                sasl.inlinePasswordLine = map.keyMark("password")?.line
            case (nil, let f?):
                sasl.password = .file(path: f.value)
            case (_?, _?):
                // Pointed at passwordFile, so the rendered context line never shows the inline password.
                diagnostics.report(.conflict, path: map.childPath("passwordFile"),
                                   "\(path) sets both password and passwordFile; keep passwordFile", at: map.keyMark("passwordFile"))
                ok = false
            case (nil, nil):
                if map.keyMark("password") == nil {
                    missing("passwordFile", "\(m) needs passwordFile (or password)")
                } else {
                    ok = false
                }
            }
            notFor("principal", principal, "GSSAPI")
            notFor("keytabFile", keytabFile, "GSSAPI")
            notFor("serviceName", serviceName, "GSSAPI")
            notFor("tokenFile", tokenFile, "OAUTHBEARER")
        case .gssapi:
            if let principal { sasl.principal = principal.value } else { missing("principal", "GSSAPI logs in as a Kerberos principal") }
            sasl.keytabFile = keytabFile?.value
            if let serviceName { sasl.serviceName = serviceName.value }
            notFor("username", username, "PLAIN and SCRAM")
            notFor("password", password, "PLAIN and SCRAM")
            notFor("passwordFile", passwordFile, "PLAIN and SCRAM")
            notFor("tokenFile", tokenFile, "OAUTHBEARER")
        case .oauthBearer:
            if let tokenFile { sasl.tokenFile = tokenFile.value } else { missing("tokenFile", "OAUTHBEARER sends the token read from this file") }
            notFor("username", username, "PLAIN and SCRAM")
            notFor("password", password, "PLAIN and SCRAM")
            notFor("passwordFile", passwordFile, "PLAIN and SCRAM")
            notFor("principal", principal, "GSSAPI")
            notFor("keytabFile", keytabFile, "GSSAPI")
            notFor("serviceName", serviceName, "GSSAPI")
        }
        return ok ? .some(sasl) : nil
    }
}
