import ProxyYAML

/// `failover:` — how the active cluster may change without a restart. `order` names clusters,
/// so it is checked against the clusters section.
enum FailoverSection {
    static func decode(_ node: Node?, ownerMark: Mark?, clusterNames: [String]?,
                       _ diagnostics: ConfigDiagnostics) -> ProxyConfig.Failover? {
        var failover = ProxyConfig.Failover()
        guard let node else { return failover }
        guard let map = ConfigMapping(node, path: "failover", ownerMark: ownerMark, diagnostics: diagnostics) else { return nil }
        defer { map.finish() }
        var ok = true
        if let modeNode = map.optional("mode") {
            if let mode = ConfigValues.enumeration(modeNode, path: map.childPath("mode"), as: ProxyConfig.FailoverMode.self, diagnostics) {
                failover.mode = mode
            } else { ok = false }
        }
        if let failbackNode = map.optional("failback") {
            if let failback = ConfigValues.enumeration(failbackNode, path: map.childPath("failback"), as: ProxyConfig.FailbackMode.self, diagnostics) {
                failover.failback = failback
            } else { ok = false }
        }
        if let node = map.optional("onSwitch") {
            if let behaviour = ConfigValues.enumeration(node, path: map.childPath("onSwitch"), as: ProxyConfig.SwitchBehaviour.self, diagnostics) {
                failover.onSwitch = behaviour
            } else { ok = false }
        }
        func seconds(_ key: String, into field: inout Int) {
            guard let valueNode = map.optional(key) else { return }
            if let value = ConfigValues.integer(valueNode, path: map.childPath(key), in: 1...86_400, diagnostics) {
                field = value
            } else { ok = false }
        }
        seconds("healthCheckIntervalSeconds", into: &failover.healthCheckIntervalSeconds)
        seconds("probeTimeoutSeconds", into: &failover.probeTimeoutSeconds)
        seconds("unhealthyAfterSeconds", into: &failover.unhealthyAfterSeconds)
        seconds("failbackAfterSeconds", into: &failover.failbackAfterSeconds)
        seconds("drainTimeoutSeconds", into: &failover.drainTimeoutSeconds)

        if let orderNode = map.optional("order") {
            let path = map.childPath("order")
            if let sequence = orderNode.sequence {
                var order: [String] = []
                for (index, item) in sequence.enumerated() {
                    guard let name = ConfigValues.string(item, path: "\(path)[\(index)]", diagnostics) else {
                        ok = false
                        continue
                    }
                    if let clusterNames, !clusterNames.contains(name) {
                        diagnostics.report(.invalidValue, path: "\(path)[\(index)]",
                            "failover.order names '\(name)', which is not defined in clusters\(Suggestions.didYouMean(name, among: clusterNames))",
                            at: item.mark)
                        ok = false
                    } else if order.contains(name) {
                        diagnostics.report(.invalidValue, path: "\(path)[\(index)]",
                            "failover.order lists '\(name)' twice", at: item.mark)
                        ok = false
                    } else {
                        order.append(name)
                    }
                }
                failover.order = order
            } else {
                diagnostics.report(.typeMismatch, path: path,
                    "failover.order must be a list of cluster names, got \(ConfigValues.describe(orderNode))", at: orderNode.mark)
                ok = false
            }
        }
        return ok ? failover : nil
    }
}
