import ProxyYAML

/// The top-level mapping: dispatches to one decoder per section, then checks what spans sections
/// (activeCluster). 
enum RootSection {
    static func decode(_ root: Node?, _ diagnostics: ConfigDiagnostics) -> ProxyConfig? {
        guard let root, !ConfigValues.isNull(root) else {
            diagnostics.report(.emptyDocument, path: "",
                               "the configuration is empty; it needs at least 'listener' and 'clusters'", at: nil)
            return nil
        }
        guard let map = ConfigMapping(root, path: "", ownerMark: nil, diagnostics: diagnostics) else { return nil }
        defer { map.finish() }

        let listener = map.required("listener").flatMap {
            ListenerSection.decode($0, ownerMark: map.keyMark("listener"), diagnostics)
        }
        let admin = AdminSection.decode(map.optional("admin"), ownerMark: map.keyMark("admin"),
                                        listener: listener, diagnostics)
        let clusters = map.required("clusters").flatMap {
            ClustersSection.decode($0, ownerMark: map.keyMark("clusters"), diagnostics)
        }
        let activeCluster = decodeActiveCluster(map, clusters: clusters, diagnostics)
        let limits = LimitsSection.decode(map.optional("limits"), ownerMark: map.keyMark("limits"), diagnostics)
        let logging = LoggingSection.decode(map.optional("logging"), ownerMark: map.keyMark("logging"), diagnostics)
        let failover = FailoverSection.decode(map.optional("failover"), ownerMark: map.keyMark("failover"),
                                              clusterNames: clusters?.map(\.name), diagnostics)

        guard let listener, let admin, let clusters, let activeCluster, let limits, let logging, let failover else { return nil }
        let decoded = clusters.compactMap(\.cluster)
        guard decoded.count == clusters.count else { return nil }
        return ProxyConfig(listener: listener, admin: admin, activeCluster: activeCluster, clusters: decoded,
                           limits: limits, logging: logging, failover: failover)
    }

    private static func decodeActiveCluster(_ map: ConfigMapping, clusters: [ClustersSection.Entry]?,
                                            _ diagnostics: ConfigDiagnostics) -> String? {
        guard let node = map.optional("activeCluster") else {
            return clusters?.first?.name
        }
        guard let name = ConfigValues.string(node, path: "activeCluster", diagnostics) else { return nil }
        // Without a usable clusters section the name cannot be checked; that section already reported.
        guard let clusters else { return nil }
        let names = clusters.map(\.name)
        guard names.contains(name) else {
            let known = names.map { "'\($0)'" }.joined(separator: ", ")
            diagnostics.report(.invalidValue, path: "activeCluster",
                               "activeCluster '\(name)' is not defined in clusters (defined: \(known))\(Suggestions.didYouMean(name, among: names))",
                               at: node.mark)
            return nil
        }
        return name
    }
}
