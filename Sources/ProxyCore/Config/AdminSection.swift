import ProxyYAML

/// `admin:` — the HTTP endpoint for metrics and health.
enum AdminSection {
    /// `listener` (when it decoded) is used to catch the admin port colliding with a proxy port.
    static func decode(_ node: Node?, ownerMark: Mark?, listener: ProxyConfig.Listener?,
                       _ diagnostics: ConfigDiagnostics) -> ProxyConfig.Admin? {
        guard let node else { return ProxyConfig.Admin() }
        guard let map = ConfigMapping(node, path: "admin", ownerMark: ownerMark, diagnostics: diagnostics) else { return nil }
        defer { map.finish() }

        guard let listenNode = map.optional("listen") else { return ProxyConfig.Admin() }
        guard let listen = ConfigValues.hostPort(listenNode, path: map.childPath("listen"), diagnostics) else { return nil }
        if let listener, sharesAddress(listen.host, listener.host) {
            let clash: String?
            if listen.port == listener.bootstrapPort {
                clash = "listener.bootstrapPort"
            } else if listener.brokerPorts.contains(listen.port) {
                clash = "listener.brokerPorts \(listener.brokerPorts.lowerBound)-\(listener.brokerPorts.upperBound)"
            } else {
                clash = nil
            }
            if let clash {
                diagnostics.report(.conflict, path: map.childPath("listen"),
                                   "admin.listen port \(listen.port) is already used by \(clash)", at: listenNode.mark)
                return nil
            }
        }
        return ProxyConfig.Admin(listen: listen)
    }

    /// Two binds can only collide when they are the same address or either is a wildcard.
    private static func sharesAddress(_ a: String, _ b: String) -> Bool {
        a == b || HostSyntax.isWildcard(a) || HostSyntax.isWildcard(b)
    }
}
