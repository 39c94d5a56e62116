/// A position in the source text, 1-based; columns count Unicode scalars (libyaml's characters).
public struct YAMLMark: Sendable, Hashable {
    public let line: Int
    public let column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
}

public enum YAMLScalarStyle: Sendable, Hashable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// A scalar as written: its text and how it was quoted. No type is resolved here; the config
/// sections decide what a plain `9092` or `true` means, and reject quoted numbers on purpose.
public struct YAMLScalar: Sendable, Hashable {
    public let string: String
    public let style: YAMLScalarStyle
    /// An explicit tag (`!!str`), nil when none was written.
    public let tag: String?

    public init(_ string: String, style: YAMLScalarStyle = .plain, tag: String? = nil) {
        self.string = string
        self.style = style
        self.tag = tag
    }
}

/// One node of a composed document, aliases already replaced by the node they name.
public indirect enum YAMLNode: Sendable {
    case scalar(YAMLScalar, YAMLMark)
    /// Entries in file order; keys are unique (the composer rejects repeats).
    case mapping([YAMLPair], YAMLMark)
    case sequence([YAMLNode], YAMLMark)

    public var mark: YAMLMark {
        switch self {
        case .scalar(_, let mark), .mapping(_, let mark), .sequence(_, let mark): return mark
        }
    }

    public var scalar: YAMLScalar? {
        if case .scalar(let scalar, _) = self { return scalar }
        return nil
    }

    public var mapping: [YAMLPair]? {
        if case .mapping(let pairs, _) = self { return pairs }
        return nil
    }

    public var sequence: [YAMLNode]? {
        if case .sequence(let items, _) = self { return items }
        return nil
    }
}

public struct YAMLPair: Sendable {
    public let key: YAMLNode
    public let value: YAMLNode
}
