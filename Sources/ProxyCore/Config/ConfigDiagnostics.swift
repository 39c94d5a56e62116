import ProxyYAML

/// Collects errors while the sections decode, so one run reports everything wrong with a file.
final class ConfigDiagnostics {
    private(set) var errors: [ConfigError] = []

    var isEmpty: Bool { errors.isEmpty }

    func report(_ code: ConfigError.Code, path: String, _ message: String, at mark: Mark?) {
        errors.append(ConfigError(code: code, path: path, message: message, line: mark?.line, column: mark?.column))
    }

    /// Unlocated errors first (they concern the file as a whole), then in file order; the sort is
    /// stable so errors at the same spot keep the order they were found in.
    func sortedErrors() -> [ConfigError] {
        errors.enumerated().sorted { lhs, rhs in
            let l = (lhs.element.line ?? 0, lhs.element.column ?? 0, lhs.offset)
            let r = (rhs.element.line ?? 0, rhs.element.column ?? 0, rhs.offset)
            return l < r
        }.map(\.element)
    }
}

enum ConfigPath {
    static func join(_ parent: String, _ key: String) -> String {
        parent.isEmpty ? key : "\(parent).\(key)"
    }
}
