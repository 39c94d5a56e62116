import ProxyYAML

/// `clusters:` — the upstream Kafka clusters by name, in file order. (`tls` is decoded by `TLSSection`,
/// `sasl` by `SASLSection`.)
enum ClustersSection {
    struct Entry {
        var name: String
        var nameMark: Mark?
        /// nil when this cluster had errors.
        var cluster: ProxyConfig.Cluster?
    }

    static func decode(_ node: Node, ownerMark: Mark?, _ diagnostics: ConfigDiagnostics) -> [Entry]? {
        guard let map = ConfigMapping(node, path: "clusters", ownerMark: ownerMark, diagnostics: diagnostics) else { return nil }
        let entries = map.allEntries
        guard !entries.isEmpty else {
            diagnostics.report(.missingKey, path: "clusters", "clusters must define at least one cluster",
                               at: ownerMark ?? node.mark)
            return nil
        }
        return entries.map { entry in
            Entry(name: entry.key, nameMark: entry.keyNode.mark,
                  cluster: ClusterSection.decode(name: entry.key, entry.value, ownerMark: entry.keyNode.mark, diagnostics))
        }
    }
}

enum ClusterSection {
    static func decode(name: String, _ node: Node, ownerMark: Mark?, _ diagnostics: ConfigDiagnostics) -> ProxyConfig.Cluster? {
        let path = "clusters.\(name)"
        if name.isEmpty {
            diagnostics.report(.invalidValue, path: path, "cluster names must not be empty", at: ownerMark)
            return nil
        }
        guard let map = ConfigMapping(node, path: path, ownerMark: ownerMark, diagnostics: diagnostics) else { return nil }
        defer { map.finish() }
        // Decoded before anything can return early, so its key is known and its errors are reported.
        var tls: ProxyConfig.ClusterTLS?
        var tlsOK = true
        if let tlsNode = map.optional("tls") {
            tls = TLSSection.decodeCluster(tlsNode, path: map.childPath("tls"), ownerMark: map.keyMark("tls"), diagnostics)
            tlsOK = tls != nil
        }
        let sasl = SASLSection.decode(map.optional("sasl"), clusterPath: path, ownerMark: map.keyMark("sasl"), diagnostics)
        var topicPrefix: String?
        var prefixOK = true
        if let prefixNode = map.optional("topicPrefix") {
            topicPrefix = TopicPrefixValue.decode(prefixNode, path: map.childPath("topicPrefix"), diagnostics)
            prefixOK = topicPrefix != nil
        }
        guard let serversNode = map.required("bootstrapServers", what: "a list of host:port") else { return nil }
        let servers = bootstrapServers(serversNode, path: map.childPath("bootstrapServers"), diagnostics)
        guard let servers, tlsOK, let sasl, prefixOK else { return nil }
        return ProxyConfig.Cluster(name: name, bootstrapServers: servers, tls: tls, sasl: sasl, topicPrefix: topicPrefix)
    }

    /// A YAML list, or (as Kafka clients spell it) one comma-separated string.
    static func bootstrapServers(_ node: Node, path: String, _ diagnostics: ConfigDiagnostics) -> [ProxyConfig.HostPort]? {
        var result: [ProxyConfig.HostPort] = []
        var ok = true
        if let sequence = node.sequence {
            for (index, item) in sequence.enumerated() {
                if let server = ConfigValues.hostPort(item, path: "\(path)[\(index)]", diagnostics) {
                    result.append(server)
                } else {
                    ok = false
                }
            }
        } else if let scalar = node.scalar, !ConfigValues.isNull(node) {
            for part in scalar.string.split(separator: ",", omittingEmptySubsequences: false) {
                let text = part.trimmingCharacters(in: " ")
                do {
                    result.append(try ProxyConfig.HostPort(parsing: String(text)))
                } catch {
                    diagnostics.report(.invalidValue, path: path,
                                       "\(path): '\(text)' is not a valid host:port: \(error.message)", at: node.mark)
                    ok = false
                }
            }
        } else if !ConfigValues.isNull(node) {
            diagnostics.report(.typeMismatch, path: path,
                               "\(path) must be a list of host:port strings, found \(ConfigValues.describe(node))",
                               at: node.mark)
            return nil
        }
        guard ok else { return nil }
        guard !result.isEmpty else {
            diagnostics.report(.invalidValue, path: path, "\(path) must list at least one host:port", at: node.mark)
            return nil
        }
        return result
    }
}

private extension Substring {
    func trimmingCharacters(in character: Character) -> Substring {
        var result = self
        while result.first == character { result = result.dropFirst() }
        while result.last == character { result = result.dropLast() }
        return result
    }
}
