/// One problem in a configuration file. `line`/`column` are 1-based (columns count Unicode scalars,
/// as libyaml does) and nil when the problem has no place in the file (unreadable file, missing
/// top-level section).
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let unreadableFile = Code(rawValue: "unreadable_file")
        public static let yamlSyntax = Code(rawValue: "yaml_syntax")
        public static let duplicateKey = Code(rawValue: "duplicate_key")
        public static let emptyDocument = Code(rawValue: "empty_document")
        public static let unknownKey = Code(rawValue: "unknown_key")
        public static let missingKey = Code(rawValue: "missing_key")
        public static let typeMismatch = Code(rawValue: "type_mismatch")
        public static let invalidValue = Code(rawValue: "invalid_value")
        public static let conflict = Code(rawValue: "conflict")
    }

    public var code: Code
    /// Dotted path of the offending key, e.g. `clusters.primary.bootstrapServers[1]`; "" for the file itself.
    public var path: String
    /// Self-contained sentence; it names the path itself where that helps.
    public var message: String
    public var line: Int?
    public var column: Int?

    public init(code: Code, path: String, message: String, line: Int? = nil, column: Int? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String {
        guard let line else { return "error: \(message)" }
        return "\(line):\(column ?? 1): error: \(message)"
    }
}

/// Every problem found in one file; the loader never stops at the first one.
public struct ConfigErrors: Error, Equatable, Sendable, CustomStringConvertible {
    public var errors: [ConfigError]
    /// Set by `ConfigLoader` so `description` can show the offending lines without the caller
    /// having to keep (or re-read) the file.
    public var source: String?
    public var fileName: String?

    public init(_ errors: [ConfigError], source: String? = nil, fileName: String? = nil) {
        self.errors = errors
        self.source = source
        self.fileName = fileName
    }

    public var description: String {
        rendered(source: source ?? "", fileName: fileName ?? "config")
    }
}
