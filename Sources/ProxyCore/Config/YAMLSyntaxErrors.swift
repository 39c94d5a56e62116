import ProxyYAML

/// Maps `YAMLError`s onto `ConfigError`s that point at the offending character.
enum YAMLSyntaxErrors {
    static func translate(_ error: YAMLError) -> ConfigError {
        switch error {
        case let .syntax(problem, mark, context, contextMark):
            var message = "invalid YAML: \(problem)"
            if let context, let contextMark {
                message += " (\(context) started at line \(contextMark.line), column \(contextMark.column))"
            }
            return ConfigError(code: .yamlSyntax, path: "", message: message, line: mark?.line, column: mark?.column)
        case .secondDocument(let mark):
            return ConfigError(code: .yamlSyntax, path: "",
                               message: "invalid YAML: the file must hold a single document, found a second one",
                               line: mark.line, column: mark.column)
        case let .duplicateKey(key, first, mark):
            return ConfigError(code: .duplicateKey, path: "",
                               message: "duplicate key '\(key)' (first defined at line \(first.line))",
                               line: mark.line, column: mark.column)
        case let .undefinedAlias(name, mark):
            return ConfigError(code: .yamlSyntax, path: "",
                               message: "invalid YAML: alias '*\(name)' refers to no anchor '&\(name)' defined before it",
                               line: mark.line, column: mark.column)
        case .tooDeep(let mark):
            return ConfigError(code: .yamlSyntax, path: "",
                               message: "invalid YAML: nested deeper than \(YAMLComposer.maxDepth) levels",
                               line: mark.line, column: mark.column)
        }
    }
}
