import ProxyYAML

typealias Node = YAMLNode
typealias Mark = YAMLMark

/// One YAML mapping being decoded by a section. Sections ask for the keys they know; whatever is
/// left over is reported as unknown when the section calls `finish()`, so a typo never silently
/// falls back to a default. New sections (tls, sasl, failover) just ask for one more key.
final class ConfigMapping {
    let path: String
    /// Where "missing key" errors point: the key that introduced this mapping (nil for the root).
    let ownerMark: Mark?
    let diagnostics: ConfigDiagnostics
    private let entries: [(key: String, keyNode: Node, value: Node)]
    private var known: [String] = []

    /// Reports and returns nil when `node` is not a mapping. An empty value (`admin:`) is an empty
    /// mapping: it happens when every child is commented out, and then the defaults apply.
    init?(_ node: Node, path: String, ownerMark: Mark?, diagnostics: ConfigDiagnostics) {
        self.path = path
        self.ownerMark = ownerMark
        self.diagnostics = diagnostics
        if ConfigValues.isNull(node) {
            entries = []
            return
        }
        guard let mapping = node.mapping else {
            diagnostics.report(.typeMismatch, path: path,
                               "\(Self.describe(path)) must be a mapping, found \(ConfigValues.describe(node))",
                               at: node.mark)
            return nil
        }
        var entries: [(String, Node, Node)] = []
        for pair in mapping {
            let key = pair.key, value = pair.value
            guard let scalar = key.scalar else {
                diagnostics.report(.typeMismatch, path: path,
                                   "keys in \(Self.describe(path)) must be plain names, found \(ConfigValues.describe(key))",
                                   at: key.mark)
                continue
            }
            entries.append((scalar.string, key, value))
        }
        self.entries = entries
    }

    static func describe(_ path: String) -> String {
        path.isEmpty ? "the top level" : path
    }

    func childPath(_ key: String) -> String { ConfigPath.join(path, key) }

    /// The value for `key`, or nil when absent. Marks the key as known either way.
    func optional(_ key: String) -> Node? {
        known.append(key)
        return entries.first { $0.key == key }?.value
    }

    /// Mark of the key itself (for errors that are about the entry rather than its value).
    func keyMark(_ key: String) -> Mark? {
        entries.first { $0.key == key }?.keyNode.mark
    }

    func required(_ key: String, what: String? = nil) -> Node? {
        if let value = optional(key) { return value }
        let place = path.isEmpty ? "" : " in \(path)"
        let detail = what.map { " (\($0))" } ?? ""
        diagnostics.report(.missingKey, path: childPath(key), "missing required key '\(key)'\(place)\(detail)",
                           at: ownerMark)
        return nil
    }

    /// Entries in file order, for mappings whose keys are names chosen by the user (clusters).
    var allEntries: [(key: String, keyNode: Node, value: Node)] { entries }

    func finish() {
        for entry in entries where !known.contains(entry.key) {
            let place = path.isEmpty ? "at the top level" : "in \(path)"
            diagnostics.report(.unknownKey, path: childPath(entry.key),
                               "unknown key '\(entry.key)' \(place)\(Suggestions.didYouMean(entry.key, among: known))",
                               at: entry.keyNode.mark)
        }
    }
}
