import ProxyYAML

/// Typed readers for scalar values. Each reports its own error and returns nil, so a section can
/// read every field and still produce all errors in one pass.
enum ConfigValues {
    static func isNull(_ node: Node) -> Bool {
        guard let scalar = node.scalar, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// How a node looks to a user, for "found ..." in messages.
    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar(let scalar, _):
            if isNull(node) { return "no value" }
            return scalar.style == .plain ? "'\(scalar.string)'" : "the string \"\(scalar.string)\""
        }
    }

    static func string(_ node: Node, path: String, _ diagnostics: ConfigDiagnostics) -> String? {
        guard let scalar = node.scalar, !isNull(node) else {
            diagnostics.report(.typeMismatch, path: path, "\(path) must be a string, found \(describe(node))", at: node.mark)
            return nil
        }
        guard !scalar.string.isEmpty else {
            diagnostics.report(.invalidValue, path: path, "\(path) must not be empty", at: node.mark)
            return nil
        }
        return scalar.string
    }

    /// Quoted numbers are rejected rather than coerced: `"9092"` is most likely a template that
    /// forgot to substitute, and the YAML spec types it as a string anyway.
    static func integer(_ node: Node, path: String, in range: ClosedRange<Int>, _ diagnostics: ConfigDiagnostics) -> Int? {
        guard let scalar = node.scalar, scalar.style == .plain, !isNull(node) else {
            var message = "\(path) must be an integer, found \(describe(node))"
            if let scalar = node.scalar, scalar.style != .plain, Int(scalar.string) != nil {
                message += " (remove the quotes)"
            }
            diagnostics.report(.typeMismatch, path: path, message, at: node.mark)
            return nil
        }
        // YAML 1.1 allows digit-group underscores (104_857_600); people use them for byte sizes.
        let digits = scalar.string.replacingUnderscores()
        guard let value = Int(digits) else {
            diagnostics.report(.typeMismatch, path: path, "\(path) must be an integer, found '\(scalar.string)'", at: node.mark)
            return nil
        }
        guard range.contains(value) else {
            let bound = range.upperBound == Int.max ? "a positive integer" : "between \(range.lowerBound) and \(range.upperBound)"
            diagnostics.report(.invalidValue, path: path, "\(path) must be \(bound), got \(value)", at: node.mark)
            return nil
        }
        return value
    }

    static func port(_ node: Node, path: String, _ diagnostics: ConfigDiagnostics) -> UInt16? {
        integer(node, path: path, in: 1...65535, diagnostics).map { UInt16($0) }
    }

    static func enumeration<E: RawRepresentable & CaseIterable>(
        _ node: Node, path: String, as _: E.Type, _ diagnostics: ConfigDiagnostics
    ) -> E? where E.RawValue == String {
        guard let text = string(node, path: path, diagnostics) else { return nil }
        if let value = E(rawValue: text) { return value }
        let allowed = E.allCases.map(\.rawValue)
        let hint = Suggestions.didYouMean(text, among: allowed)
        diagnostics.report(.invalidValue, path: path,
                           "\(path) must be one of \(allowed.joined(separator: "|")), got '\(text)'\(hint)",
                           at: node.mark)
        return nil
    }

    /// A bind or advertised host: hostname, IPv4, IPv6 (brackets optional), no port.
    static func host(_ node: Node, path: String, _ diagnostics: ConfigDiagnostics) -> String? {
        guard let text = string(node, path: path, diagnostics) else { return nil }
        switch HostSyntax.parseHost(text) {
        case .success(let host):
            return host
        case .failure(let error):
            diagnostics.report(.invalidValue, path: path, "\(path): \(error.message)", at: node.mark)
            return nil
        }
    }

    static func hostPort(_ node: Node, path: String, _ diagnostics: ConfigDiagnostics) -> ProxyConfig.HostPort? {
        guard let text = string(node, path: path, diagnostics) else { return nil }
        do {
            return try ProxyConfig.HostPort(parsing: text)
        } catch {
            diagnostics.report(.invalidValue, path: path,
                               "\(path): '\(text)' is not a valid host:port: \(error.message)", at: node.mark)
            return nil
        }
    }

    /// `A-B` (inclusive) or a single port `A`.
    static func portRange(_ node: Node, path: String, _ diagnostics: ConfigDiagnostics) -> ClosedRange<UInt16>? {
        guard let scalar = node.scalar, !isNull(node) else {
            diagnostics.report(.typeMismatch, path: path,
                               "\(path) must be a port range like 9100-9163, found \(describe(node))", at: node.mark)
            return nil
        }
        let text = scalar.string
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
            .map { $0.trimmingSpaces() }
        guard (1...2).contains(bounds.count) else {
            diagnostics.report(.invalidValue, path: path,
                               "\(path) must be a port range like 9100-9163, got '\(text)'", at: node.mark)
            return nil
        }
        guard let low = HostSyntax.parsePort(bounds[0]), let high = HostSyntax.parsePort(bounds[bounds.count - 1]) else {
            diagnostics.report(.invalidValue, path: path,
                               "\(path) must be a port range like 9100-9163 with ports between 1 and 65535, got '\(text)'",
                               at: node.mark)
            return nil
        }
        guard low <= high else {
            diagnostics.report(.invalidValue, path: path,
                               "\(path): the range '\(text)' is empty (the first port must not exceed the last)",
                               at: node.mark)
            return nil
        }
        return low...high
    }
}

private extension String {
    func replacingUnderscores() -> String {
        // A leading/trailing or doubled underscore is not digit grouping; leave it for Int() to reject.
        guard !hasPrefix("_"), !hasSuffix("_"), !contains("__") else { return self }
        return String(filter { $0 != "_" })
    }
}

private extension Substring {
    func trimmingSpaces() -> Substring {
        var result = self
        while result.first == " " { result = result.dropFirst() }
        while result.last == " " { result = result.dropLast() }
        return result
    }
}
