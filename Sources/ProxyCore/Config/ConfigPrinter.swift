/// Renders a `ProxyConfig` as YAML the loader accepts (`ConfigLoader.parse` gives a config that
/// behaves the same). Every key is written with its effective value, defaults included, in the
/// order of the reference file `config/kafka-proxy.yaml`: `failover.order` as the full preference
/// the proxy uses (and /status shows), even where the file left it empty or partial.
///
/// Secrets: an inline SASL password is written as `<redacted>`. Everything else the model holds is
/// a file path or a plain setting and is written as is; the printer never reads a file, so no file
/// content (password, key, token) can appear.
public enum ConfigPrinter {
    public static let redacted = "<redacted>"

    /// The effective config as YAML with secrets redacted. `header` lines are written first as
    /// `# ` comments (e.g. where the config came from).
    public static func yaml(_ config: ProxyConfig, header: [String] = []) -> String {
        render(config, header: header, revealSecrets: false)
    }

    /// Module-internal on purpose: only used to run a hand-built config (from flags) through the
    /// loader's validation in memory. Never printed.
    static func yamlRevealingSecrets(_ config: ProxyConfig) -> String {
        render(config, header: [], revealSecrets: true)
    }

    private static func render(_ config: ProxyConfig, header: [String], revealSecrets: Bool) -> String {
        var out = YAMLWriter()
        for line in header { out.comment(line) }

        let listener = config.listener
        out.key("listener", indent: 0)
        out.field("host", quote(listener.host), indent: 1)
        out.field("advertisedHost", quote(listener.advertisedHost), indent: 1)
        out.field("bootstrapPort", String(listener.bootstrapPort), indent: 1)
        out.field("brokerPorts", portRange(listener.brokerPorts), indent: 1)
        if let tls = listener.tls {
            out.key("tls", indent: 1)
            out.field("certFile", quote(tls.certFile), indent: 2)
            out.field("keyFile", quote(tls.keyFile), indent: 2)
            if let file = tls.keyPasswordFile { out.field("keyPasswordFile", quote(file), indent: 2) }
            if let file = tls.clientCAFile { out.field("clientCAFile", quote(file), indent: 2) }
            out.field("minVersion", quote(tls.minVersion.rawValue), indent: 2)
        }

        out.key("admin", indent: 0)
        out.field("listen", quote(config.admin.listen.description), indent: 1)

        out.field("activeCluster", quote(config.activeCluster), indent: 0)

        out.key("clusters", indent: 0)
        for cluster in config.clusters {
            out.key(quote(cluster.name), indent: 1)
            let servers = cluster.bootstrapServers.map { quoteAlways($0.description) }.joined(separator: ", ")
            out.field("bootstrapServers", "[\(servers)]", indent: 2)
            if let prefix = cluster.topicPrefix { out.field("topicPrefix", quoteAlways(prefix), indent: 2) }
            if let tls = cluster.tls {
                out.key("tls", indent: 2)
                out.field("enabled", String(tls.enabled), indent: 3)
                if let file = tls.caFile { out.field("caFile", quote(file), indent: 3) }
                if let file = tls.certFile { out.field("certFile", quote(file), indent: 3) }
                if let file = tls.keyFile { out.field("keyFile", quote(file), indent: 3) }
                if let file = tls.keyPasswordFile { out.field("keyPasswordFile", quote(file), indent: 3) }
                if let name = tls.serverName { out.field("serverName", quote(name), indent: 3) }
                out.field("insecureSkipVerify", String(tls.insecureSkipVerify), indent: 3)
                out.field("minVersion", quote(tls.minVersion.rawValue), indent: 3)
            }
            if let sasl = cluster.sasl {
                out.key("sasl", indent: 2)
                out.field("mechanism", quote(sasl.mechanism.rawValue), indent: 3)
                if let username = sasl.username { out.field("username", quote(username), indent: 3) }
                switch sasl.password {
                case .inline(let secret)?:
                    out.field("password", quoteAlways(revealSecrets ? String(decoding: secret.bytes, as: UTF8.self) : redacted), indent: 3)
                case .file(let path)?:
                    out.field("passwordFile", quote(path), indent: 3)
                case nil:
                    break
                }
                if let principal = sasl.principal { out.field("principal", quote(principal), indent: 3) }
                if let file = sasl.keytabFile { out.field("keytabFile", quote(file), indent: 3) }
                // The loader accepts serviceName for GSSAPI only.
                if sasl.mechanism == .gssapi { out.field("serviceName", quote(sasl.serviceName), indent: 3) }
                if let file = sasl.tokenFile { out.field("tokenFile", quote(file), indent: 3) }
            }
        }

        let limits = config.limits
        out.key("limits", indent: 0)
        out.field("maxRequestBytes", String(limits.maxRequestBytes), indent: 1)
        out.field("maxResponseBytes", String(limits.maxResponseBytes), indent: 1)
        out.field("maxConnections", String(limits.maxConnections), indent: 1)
        out.field("idleTimeoutSeconds", String(limits.idleTimeoutSeconds), indent: 1)

        out.key("logging", indent: 0)
        out.field("level", config.logging.level.rawValue, indent: 1)
        out.field("format", config.logging.format.rawValue, indent: 1)
        out.field("protocol", String(config.logging.protocol), indent: 1)

        let failover = config.failover
        out.key("failover", indent: 0)
        out.field("mode", failover.mode.rawValue, indent: 1)
        out.field("order", "[\(config.clusterPreference.map(quoteAlways).joined(separator: ", "))]", indent: 1)
        out.field("healthCheckIntervalSeconds", String(failover.healthCheckIntervalSeconds), indent: 1)
        out.field("probeTimeoutSeconds", String(failover.probeTimeoutSeconds), indent: 1)
        out.field("unhealthyAfterSeconds", String(failover.unhealthyAfterSeconds), indent: 1)
        out.field("failback", failover.failback.rawValue, indent: 1)
        out.field("failbackAfterSeconds", String(failover.failbackAfterSeconds), indent: 1)
        out.field("drainTimeoutSeconds", String(failover.drainTimeoutSeconds), indent: 1)
        out.field("onSwitch", failover.onSwitch.rawValue, indent: 1)
        return out.text
    }

    private static func portRange(_ range: ClosedRange<UInt16>) -> String {
        range.lowerBound == range.upperBound ? String(range.lowerBound) : "\(range.lowerBound)-\(range.upperBound)"
    }

    /// A plain scalar when it cannot be mistaken for anything else, otherwise double-quoted.
    static func quote(_ text: String) -> String {
        isSafePlain(text) ? text : quoteAlways(text)
    }

    static func quoteAlways(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Letters, digits and `_ . / - @ +`, starting with a letter, digit, `_`, `.` or `/`; not a
    /// YAML keyword or a number.
    private static func isSafePlain(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first else { return false }
        func allowed(_ s: Unicode.Scalar) -> Bool {
            switch s {
            case "a"..."z", "A"..."Z", "0"..."9", "_", ".", "/": return true
            default: return false
            }
        }
        guard allowed(first) else { return false }
        guard text.unicodeScalars.allSatisfy({ allowed($0) || $0 == "-" || $0 == "@" || $0 == "+" }) else { return false }
        let keywords: Set<String> = ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".inf", ".nan"]
        if keywords.contains(text.lowercased()) { return false }
        let digitsOnly = String(text.filter { $0 != "_" })
        if Int(digitsOnly) != nil || Double(digitsOnly) != nil { return false }
        return true
    }
}

private struct YAMLWriter {
    var text = ""

    mutating func comment(_ line: String) {
        text += line.isEmpty ? "#\n" : "# \(line)\n"
    }

    mutating func key(_ name: String, indent: Int) {
        text += String(repeating: "  ", count: indent) + name + ":\n"
    }

    mutating func field(_ name: String, _ value: String, indent: Int) {
        text += String(repeating: "  ", count: indent) + name + ": " + value + "\n"
    }
}
