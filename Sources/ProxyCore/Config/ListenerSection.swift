import ProxyYAML

/// `listener:` — where clients connect; `tls` is decoded by `TLSSection`.
enum ListenerSection {
    static func decode(_ node: Node, ownerMark: Mark?, _ diagnostics: ConfigDiagnostics) -> ProxyConfig.Listener? {
        let path = "listener"
        guard let map = ConfigMapping(node, path: path, ownerMark: ownerMark, diagnostics: diagnostics) else { return nil }
        defer { map.finish() }
        var ok = true

        var host = ProxyConfig.Listener.defaultHost
        let hostNode = map.optional("host")
        if let hostNode {
            if let value = ConfigValues.host(hostNode, path: map.childPath("host"), diagnostics) { host = value } else { ok = false }
        }

        var advertisedHost: String?
        if let advertisedNode = map.optional("advertisedHost") {
            if let value = ConfigValues.host(advertisedNode, path: map.childPath("advertisedHost"), diagnostics) {
                if HostSyntax.isWildcard(value) {
                    diagnostics.report(.invalidValue, path: map.childPath("advertisedHost"),
                                       "listener.advertisedHost '\(value)' is a wildcard address; clients need a host they can connect to",
                                       at: advertisedNode.mark)
                    ok = false
                } else {
                    advertisedHost = value
                }
            } else {
                ok = false
            }
        } else if HostSyntax.isWildcard(host) {
            // Clients would be told to connect to 0.0.0.0: refuse rather than guess an interface.
            diagnostics.report(.missingKey, path: map.childPath("advertisedHost"),
                               "listener.advertisedHost is required when listener.host is the wildcard address '\(host)'",
                               at: hostNode?.mark ?? ownerMark)
            ok = false
        }

        var bootstrapPort = ProxyConfig.Listener.defaultBootstrapPort
        var bootstrapPortValid = true
        if let portNode = map.optional("bootstrapPort") {
            if let value = ConfigValues.port(portNode, path: map.childPath("bootstrapPort"), diagnostics) {
                bootstrapPort = value
            } else {
                ok = false
                bootstrapPortValid = false
            }
        }

        var brokerPorts = ProxyConfig.Listener.defaultBrokerPorts
        let brokerPortsNode = map.optional("brokerPorts")
        if let brokerPortsNode {
            if let value = ConfigValues.portRange(brokerPortsNode, path: map.childPath("brokerPorts"), diagnostics) {
                brokerPorts = value
                if bootstrapPortValid && brokerPorts.contains(bootstrapPort) {
                    diagnostics.report(.conflict, path: map.childPath("brokerPorts"),
                                       "listener.brokerPorts \(brokerPorts.lowerBound)-\(brokerPorts.upperBound) contains listener.bootstrapPort \(bootstrapPort)",
                                       at: brokerPortsNode.mark)
                    ok = false
                }
            } else {
                ok = false
            }
        } else if bootstrapPortValid && brokerPorts.contains(bootstrapPort) {
            diagnostics.report(.conflict, path: map.childPath("bootstrapPort"),
                               "listener.bootstrapPort \(bootstrapPort) falls inside the default listener.brokerPorts \(brokerPorts.lowerBound)-\(brokerPorts.upperBound); set brokerPorts to a range that excludes it",
                               at: map.optional("bootstrapPort")?.mark)
            ok = false
        }

        var tls: ProxyConfig.ListenerTLS?
        if let tlsNode = map.optional("tls") {
            tls = TLSSection.decodeListener(tlsNode, path: map.childPath("tls"), ownerMark: map.keyMark("tls"), diagnostics)
            if tls == nil { ok = false }
        }

        guard ok else { return nil }
        return ProxyConfig.Listener(host: host, advertisedHost: advertisedHost, bootstrapPort: bootstrapPort,
                                    brokerPorts: brokerPorts, tls: tls)
    }
}
