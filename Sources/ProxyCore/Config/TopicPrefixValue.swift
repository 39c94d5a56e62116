import ProxyYAML

/// `clusters.<name>.topicPrefix`: checked against Kafka's rules for topic names, since every name a
/// client sends becomes prefix + name on that cluster.
enum TopicPrefixValue {
    /// Kafka's longest topic name.
    static let maxTopicNameLength = 249

    static func decode(_ node: Node, path: String, _ diagnostics: ConfigDiagnostics) -> String? {
        guard let prefix = ConfigValues.string(node, path: path, diagnostics) else { return nil }
        if let bad = prefix.unicodeScalars.first(where: { !isLegal($0) }) {
            diagnostics.report(.invalidValue, path: path,
                               "\(path): '\(prefix)' contains '\(bad)'; topic names allow only ASCII letters, digits, '.', '_' and '-'",
                               at: node.mark)
            return nil
        }
        // Every client name gets the prefix: at least a one-character name must still fit.
        guard prefix.utf8.count < maxTopicNameLength else {
            diagnostics.report(.invalidValue, path: path,
                               "\(path) is \(prefix.utf8.count) characters; with a topic name it must fit Kafka's \(maxTopicNameLength), so at most \(maxTopicNameLength - 1)",
                               at: node.mark)
            return nil
        }
        return prefix
    }

    static func isLegal(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-": true
        default: false
        }
    }
}

extension ProxyConfig {
    /// Kafka's metric names turn '.' into '_': a prefix with both makes topics that differ only
    /// there collide in the brokers' metrics.
    var topicPrefixAdvisories: [String] {
        clusters.compactMap { cluster in
            guard let prefix = cluster.topicPrefix, prefix.contains("."), prefix.contains("_") else { return nil }
            return "clusters.\(cluster.name).topicPrefix '\(prefix)' mixes '.' and '_': Kafka's metric names do not tell them apart, so topics differing only there collide"
        }
    }
}
