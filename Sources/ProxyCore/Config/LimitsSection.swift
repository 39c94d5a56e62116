import ProxyYAML

/// `limits:` — resource caps. Byte limits stop at Int32.max: Kafka frame sizes are int32, so a
/// larger cap could never apply and probably means a unit mistake.
enum LimitsSection {
    static func decode(_ node: Node?, ownerMark: Mark?, _ diagnostics: ConfigDiagnostics) -> ProxyConfig.Limits? {
        var limits = ProxyConfig.Limits()
        guard let node else { return limits }
        guard let map = ConfigMapping(node, path: "limits", ownerMark: ownerMark, diagnostics: diagnostics) else { return nil }
        defer { map.finish() }
        let frameBytes = 1...Int(Int32.max)
        let positive = 1...Int.max
        var ok = true
        func read(_ key: String, _ range: ClosedRange<Int>, into field: inout Int) {
            guard let valueNode = map.optional(key) else { return }
            if let value = ConfigValues.integer(valueNode, path: map.childPath(key), in: range, diagnostics) {
                field = value
            } else {
                ok = false
            }
        }
        read("maxRequestBytes", frameBytes, into: &limits.maxRequestBytes)
        read("maxResponseBytes", frameBytes, into: &limits.maxResponseBytes)
        read("maxConnections", positive, into: &limits.maxConnections)
        read("idleTimeoutSeconds", positive, into: &limits.idleTimeoutSeconds)
        return ok ? limits : nil
    }
}
