/// Why a text is not one usable YAML document. Every case carries the place to point at.
public enum YAMLError: Error, Sendable, Equatable {
    /// libyaml refused the text. `context` ("while parsing a block mapping") and its mark say where
    /// the construct began, which is often the real culprit (an unclosed quote or bracket).
    case syntax(problem: String, mark: YAMLMark?, context: String?, contextMark: YAMLMark?)
    /// A second `---` document: a config file holds exactly one.
    case secondDocument(mark: YAMLMark)
    /// The same key twice in one mapping; `mark` is the repeat, `first` the original.
    case duplicateKey(key: String, first: YAMLMark, mark: YAMLMark)
    /// `*name` without an earlier `&name`.
    case undefinedAlias(name: String, mark: YAMLMark)
    /// Deeper than `YAMLComposer.maxDepth`: no configuration needs that, a generated or hostile file might.
    case tooDeep(mark: YAMLMark)

    public var mark: YAMLMark? {
        switch self {
        case .syntax(_, let mark, _, _): return mark
        case .secondDocument(let mark), .duplicateKey(_, _, let mark), .undefinedAlias(_, let mark),
             .tooDeep(let mark):
            return mark
        }
    }
}
