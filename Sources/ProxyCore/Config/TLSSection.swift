import ProxyYAML
import TLSSettings

extension ProxyConfig {
    public typealias TLSVersion = TLSSettings.TLSVersion
    /// `clusters.<name>.tls`: how the proxy dials this cluster's brokers.
    public typealias ClusterTLS = TLSClientConfiguration
    /// `listener.tls`: TLS on the bootstrap and every broker listener.
    public typealias ListenerTLS = TLSServerConfiguration
}

/// `tls:` under a cluster and under `listener`. File paths are only checked for syntax here; the
/// runtime loads them at start (and on every change) and reports what is wrong with their content.
enum TLSSection {
    static func decodeCluster(_ node: Node, path: String, ownerMark: Mark?,
                              _ diagnostics: ConfigDiagnostics) -> ProxyConfig.ClusterTLS? {
        guard let map = ConfigMapping(node, path: path, ownerMark: ownerMark, diagnostics: diagnostics) else { return nil }
        defer { map.finish() }
        var ok = true
        var tls = ProxyConfig.ClusterTLS()
        func string(_ key: String) -> String? {
            guard let node = map.optional(key) else { return nil }
            guard let value = ConfigValues.string(node, path: map.childPath(key), diagnostics) else { ok = false; return nil }
            return value
        }
        if let node = map.optional("enabled") {
            if let value = bool(node, path: map.childPath("enabled"), diagnostics) { tls.enabled = value } else { ok = false }
        }
        tls.caFile = string("caFile")
        tls.certFile = string("certFile")
        tls.keyFile = string("keyFile")
        tls.keyPasswordFile = string("keyPasswordFile")
        if let node = map.optional("serverName") {
            if let value = ConfigValues.host(node, path: map.childPath("serverName"), diagnostics) {
                tls.serverName = value
            } else {
                ok = false
            }
        }
        if let node = map.optional("insecureSkipVerify") {
            if let value = bool(node, path: map.childPath("insecureSkipVerify"), diagnostics) {
                tls.insecureSkipVerify = value
            } else {
                ok = false
            }
        }
        if let node = map.optional("minVersion") {
            if let value = ConfigValues.enumeration(node, path: map.childPath("minVersion"), as: ProxyConfig.TLSVersion.self,
                                                    diagnostics) {
                tls.minVersion = value
            } else {
                ok = false
            }
        }
        ok = checkPair(map, certFile: tls.certFile, keyFile: tls.keyFile, keyPasswordFile: tls.keyPasswordFile,
                       ownerMark: ownerMark, diagnostics) && ok
        return ok ? tls : nil
    }

    static func decodeListener(_ node: Node, path: String, ownerMark: Mark?,
                               _ diagnostics: ConfigDiagnostics) -> ProxyConfig.ListenerTLS? {
        guard let map = ConfigMapping(node, path: path, ownerMark: ownerMark, diagnostics: diagnostics) else { return nil }
        defer { map.finish() }
        var ok = true
        func string(_ key: String, required: Bool = false) -> String? {
            let node = required ? map.required(key, what: "a PEM file path") : map.optional(key)
            guard let node else { if required { ok = false }; return nil }
            guard let value = ConfigValues.string(node, path: map.childPath(key), diagnostics) else { ok = false; return nil }
            return value
        }
        let certFile = string("certFile", required: true)
        let keyFile = string("keyFile", required: true)
        let keyPasswordFile = string("keyPasswordFile")
        let clientCAFile = string("clientCAFile")
        var minVersion = ProxyConfig.TLSVersion.v1_2
        if let node = map.optional("minVersion") {
            if let value = ConfigValues.enumeration(node, path: map.childPath("minVersion"), as: ProxyConfig.TLSVersion.self,
                                                    diagnostics) {
                minVersion = value
            } else {
                ok = false
            }
        }
        guard ok, let certFile, let keyFile else { return nil }
        return ProxyConfig.ListenerTLS(certFile: certFile, keyFile: keyFile, keyPasswordFile: keyPasswordFile,
                                       clientCAFile: clientCAFile, minVersion: minVersion)
    }

    /// certFile and keyFile come together; keyPasswordFile needs a keyFile.
    private static func checkPair(_ map: ConfigMapping, certFile: String?, keyFile: String?, keyPasswordFile: String?,
                                  ownerMark: Mark?, _ diagnostics: ConfigDiagnostics) -> Bool {
        switch (certFile, keyFile) {
        case (.some, nil):
            diagnostics.report(.missingKey, path: map.childPath("keyFile"),
                               "\(map.path).certFile is set but \(map.path).keyFile is not (a client certificate needs its key)",
                               at: map.keyMark("certFile"))
            return false
        case (nil, .some):
            diagnostics.report(.missingKey, path: map.childPath("certFile"),
                               "\(map.path).keyFile is set but \(map.path).certFile is not (a client key needs its certificate)",
                               at: map.keyMark("keyFile"))
            return false
        default:
            break
        }
        if keyPasswordFile != nil && keyFile == nil {
            diagnostics.report(.missingKey, path: map.childPath("keyFile"),
                               "\(map.path).keyPasswordFile is set but there is no \(map.path).keyFile",
                               at: map.keyMark("keyPasswordFile"))
            return false
        }
        return true
    }

    static func bool(_ node: Node, path: String, _ diagnostics: ConfigDiagnostics) -> Bool? {
        if let scalar = node.scalar, scalar.style == .plain {
            switch scalar.string {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
        }
        var message = "\(path) must be true or false, found \(ConfigValues.describe(node))"
        if let scalar = node.scalar, scalar.style != .plain, ["true", "false"].contains(scalar.string.lowercased()) {
            message += " (remove the quotes)"
        }
        diagnostics.report(.typeMismatch, path: path, message, at: node.mark)
        return nil
    }
}
