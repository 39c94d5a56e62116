import CYAML

/// Composes one YAML document into a `YAMLNode` tree with libyaml's event parser.
///
/// Why not Yams: it imports Foundation, and Foundation (with ICU) was ~7 MB of the proxy's
/// resident memory, more than everything the proxy does with 100 connections (issue 6). libyaml
/// does the parsing here too; this file only builds the tree, keeps the marks, resolves aliases,
/// and rejects what a config file must not hold (repeated keys, a second document).
public enum YAMLComposer {
    /// Nesting limit for sequences and mappings; the deepest real config is 5 levels.
    public static let maxDepth = 64

    /// nil for an empty stream (nothing but comments or whitespace).
    public static func compose(_ text: String) throws(YAMLError) -> YAMLNode? {
        // libyaml keeps a pointer to the input until the parser is deleted: one stable copy.
        let count = text.utf8.count
        let input = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(count, 1))
        defer { input.deallocate() }
        _ = input.initialize(from: text.utf8)

        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw .syntax(problem: "out of memory", mark: nil, context: nil, contextMark: nil)
        }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_input_string(&parser, input.baseAddress, count)

        var builder = TreeBuilder()
        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else {
                throw parserError(parser, text: text)
            }
            defer { yaml_event_delete(&event) }
            if try builder.consume(event) { return builder.root }
        }
    }

    private static func parserError(_ parser: yaml_parser_t, text: String) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown error"
        switch parser.error {
        case YAML_MEMORY_ERROR:
            return .syntax(problem: "out of memory", mark: nil, context: nil, contextMark: nil)
        case YAML_READER_ERROR:
            // Reader errors (bad encoding, control characters) carry a byte offset, not a mark.
            let detail = parser.problem_value >= 0 ? " (character 0x\(String(parser.problem_value, radix: 16, uppercase: true)))" : ""
            return .syntax(problem: problem + detail, mark: mark(ofByteOffset: parser.problem_offset, in: text),
                           context: nil, contextMark: nil)
        default:
            let context = parser.context.map { String(cString: $0) }
            return .syntax(problem: problem, mark: mark(parser.problem_mark),
                           context: context, contextMark: context == nil ? nil : mark(parser.context_mark))
        }
    }

    static func mark(_ mark: yaml_mark_t) -> YAMLMark {
        YAMLMark(line: mark.line + 1, column: mark.column + 1)
    }

    static func mark(ofByteOffset offset: Int, in text: String) -> YAMLMark {
        var line = 1, column = 1, consumed = 0
        for scalar in text.unicodeScalars {
            if consumed >= offset { break }
            consumed += UTF8.width(scalar)
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return YAMLMark(line: line, column: column)
    }
}

/// Turns the event stream into a tree without recursion, so nesting depth costs heap, not stack.
private struct TreeBuilder {
    private struct Open {
        let isMapping: Bool
        let mark: YAMLMark
        let anchor: String?
        /// Sequence items, or a mapping's keys and values alternating.
        var items: [YAMLNode] = []
        var keyMarks: [String: YAMLMark] = [:]
    }

    private(set) var root: YAMLNode?
    private var open: [Open] = []
    private var anchors: [String: YAMLNode] = [:]
    private var documents = 0

    /// Returns true at the end of the stream.
    mutating func consume(_ event: yaml_event_t) throws(YAMLError) -> Bool {
        let mark = YAMLComposer.mark(event.start_mark)
        switch event.type {
        case YAML_STREAM_END_EVENT:
            return true
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 { throw .secondDocument(mark: mark) }
        case YAML_ALIAS_EVENT:
            let name = String(cString: event.data.alias.anchor)
            guard let target = anchors[name] else { throw .undefinedAlias(name: name, mark: mark) }
            // Errors about the value should point where it is used, not where it was defined.
            try add(target.moved(to: mark))
        case YAML_SCALAR_EVENT:
            let data = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
            let node = YAMLNode.scalar(YAMLScalar(text, style: Self.style(data.style), tag: data.tag.map { String(cString: $0) }),
                                       mark)
            if let anchor = data.anchor { anchors[String(cString: anchor)] = node }
            try add(node)
        case YAML_SEQUENCE_START_EVENT:
            try push(isMapping: false, mark: mark, anchor: event.data.sequence_start.anchor.map { String(cString: $0) })
        case YAML_MAPPING_START_EVENT:
            try push(isMapping: true, mark: mark, anchor: event.data.mapping_start.anchor.map { String(cString: $0) })
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            let done = open.removeLast()
            let node: YAMLNode
            if done.isMapping {
                let pairs = stride(from: 0, to: done.items.count - 1, by: 2).map {
                    YAMLPair(key: done.items[$0], value: done.items[$0 + 1])
                }
                node = .mapping(pairs, done.mark)
            } else {
                node = .sequence(done.items, done.mark)
            }
            if let anchor = done.anchor { anchors[anchor] = node }
            try add(node)
        default:
            break
        }
        return false
    }

    private mutating func push(isMapping: Bool, mark: YAMLMark, anchor: String?) throws(YAMLError) {
        guard open.count < YAMLComposer.maxDepth else { throw .tooDeep(mark: mark) }
        open.append(Open(isMapping: isMapping, mark: mark, anchor: anchor))
    }

    private mutating func add(_ node: YAMLNode) throws(YAMLError) {
        guard !open.isEmpty else {
            root = node
            return
        }
        let top = open.count - 1
        if open[top].isMapping, open[top].items.count % 2 == 0, let key = node.scalar?.string {
            if let first = open[top].keyMarks[key] {
                throw .duplicateKey(key: key, first: first, mark: node.mark)
            }
            open[top].keyMarks[key] = node.mark
        }
        open[top].items.append(node)
    }

    private static func style(_ style: yaml_scalar_style_t) -> YAMLScalarStyle {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: return .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: return .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: return .literal
        case YAML_FOLDED_SCALAR_STYLE: return .folded
        default: return .plain
        }
    }
}

extension YAMLNode {
    fileprivate func moved(to mark: YAMLMark) -> YAMLNode {
        switch self {
        case .scalar(let scalar, _): return .scalar(scalar, mark)
        case .mapping(let pairs, _): return .mapping(pairs, mark)
        case .sequence(let items, _): return .sequence(items, mark)
        }
    }
}
