import Yams

/// Maps Yams/libyaml failures onto `ConfigError`s that point at the offending character.
enum YAMLSyntaxErrors {
    static func translate(_ error: any Error) -> ConfigError {
        guard let yamlError = error as? YamlError else {
            return ConfigError(code: .yamlSyntax, path: "", message: "invalid YAML: \(error)")
        }
        switch yamlError {
        case let .scanner(context, problem, mark, _),
             let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            if problem == "but found another document" {
                return ConfigError(code: .yamlSyntax, path: "",
                                   message: "invalid YAML: the file must hold a single document, found a second one",
                                   line: mark.line, column: mark.column)
            }
            return ConfigError(code: .yamlSyntax, path: "", message: "invalid YAML: \(problem)\(describe(context))",
                               line: mark.line, column: mark.column)
        case let .reader(problem, offset, _, yaml):
            let position = offset.map { lineAndColumn(ofCharacterOffset: $0, in: yaml) }
            return ConfigError(code: .yamlSyntax, path: "", message: "invalid YAML: \(problem)",
                               line: position?.line, column: position?.column)
        case let .duplicatedKeysInMapping(duplicates, context):
            // Yams marks the first occurrence; the repeat is what the user has to delete or rename.
            let first = context.mark
            if duplicates.count == 1, let key = duplicates.first,
               let repeatLine = repeatedBlockKeyLine(key, after: first, in: context.text) {
                return ConfigError(code: .duplicateKey, path: "",
                                   message: "duplicate key '\(key)' (first defined at line \(first.line))",
                                   line: repeatLine, column: first.column)
            }
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return ConfigError(code: .duplicateKey, path: "",
                               message: "duplicate key \(keys) in the same mapping (each key may appear once)",
                               line: first.line, column: first.column)
        default:
            return ConfigError(code: .yamlSyntax, path: "", message: "invalid YAML: \(yamlError)")
        }
    }

    /// libyaml's context ("while parsing a block mapping") says where the construct began, which
    /// is often the real culprit (an unclosed quote or bracket).
    private static func describe(_ context: YamlError.Context?) -> String {
        guard let context else { return "" }
        return " (\(context.text) started at line \(context.mark.line), column \(context.mark.column))"
    }

    /// Finds `key:` again at the same indentation in the block mapping that starts at `first`.
    /// Flow mappings and quoted keys are not searched; the caller then falls back to `first`.
    private static func repeatedBlockKeyLine(_ key: String, after first: Mark, in source: String) -> Int? {
        let lines = ConfigErrors.splitLines(source)
        let indent = first.column - 1
        guard first.line < lines.count else { return nil }
        for index in first.line..<lines.count {
            let line = lines[index]
            let leading = line.prefix { $0 == " " }.count
            let content = line.dropFirst(leading)
            if content.isEmpty || content.hasPrefix("#") { continue }
            if leading < indent { return nil }
            guard leading == indent, content.hasPrefix(key) else { continue }
            let rest = content.dropFirst(key.count).drop { $0 == " " }
            if rest.hasPrefix(":") { return index + 1 }
        }
        return nil
    }

    private static func lineAndColumn(ofCharacterOffset offset: Int, in text: String) -> (line: Int, column: Int) {
        var line = 1, column = 1
        for character in text.prefix(offset) {
            if character == "\n" || character == "\r\n" {
                line += 1
                column = 1
            } else {
                column += character.unicodeScalars.count
            }
        }
        return (line, column)
    }
}
