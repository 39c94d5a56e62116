import ProxyYAML

/// `logging:` — level and output format of the proxy's stderr log, and request tracing.
enum LoggingSection {
    static func decode(_ node: Node?, ownerMark: Mark?, _ diagnostics: ConfigDiagnostics) -> ProxyConfig.Logging? {
        var logging = ProxyConfig.Logging()
        guard let node else { return logging }
        guard let map = ConfigMapping(node, path: "logging", ownerMark: ownerMark, diagnostics: diagnostics) else { return nil }
        defer { map.finish() }
        var ok = true
        if let levelNode = map.optional("level") {
            if let level = ConfigValues.enumeration(levelNode, path: map.childPath("level"), as: ProxyConfig.LogLevel.self, diagnostics) {
                logging.level = level
            } else {
                ok = false
            }
        }
        if let formatNode = map.optional("format") {
            if let format = ConfigValues.enumeration(formatNode, path: map.childPath("format"), as: ProxyConfig.LogFormat.self, diagnostics) {
                logging.format = format
            } else {
                ok = false
            }
        }
        if let protocolNode = map.optional("protocol") {
            if let value = TLSSection.bool(protocolNode, path: map.childPath("protocol"), diagnostics) {
                logging.protocol = value
            } else {
                ok = false
            }
        }
        return ok ? logging : nil
    }
}
