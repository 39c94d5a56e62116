extension ConfigErrors {
    /// One line per error, as the report begins each: `file:line:column: error: ...` (`file: error: ...`
    /// for an error with no place in the file).
    public var headlines: [String] {
        errors.map { Self.headline($0, fileName: fileName ?? "config") }
    }

    static func headline(_ error: ConfigError, fileName: String) -> String {
        guard let line = error.line else { return "\(fileName): error: \(error.message)" }
        return "\(fileName):\(line):\(max(1, error.column ?? 1)): error: \(error.message)"
    }

    /// Compiler-style report, one block per error:
    ///
    ///     config.yaml:12:5: error: unknown key 'bootstrapServer' in clusters.primary (did you mean 'bootstrapServers'?)
    ///        12 |     bootstrapServer: ["a:9092"]
    ///           |     ^
    ///
    /// Errors without a position are a single `config.yaml: error: ...` line. The result ends with a newline.
    public func rendered(source: String, fileName: String) -> String {
        let lines = Self.splitLines(source)
        let widestLine = errors.compactMap(\.line).max() ?? 0
        let gutter = max(5, String(widestLine).count)
        var out = ""
        for error in errors {
            out += Self.headline(error, fileName: fileName) + "\n"
            guard let line = error.line else { continue }
            let column = max(1, error.column ?? 1)
            guard line >= 1, line <= lines.count else { continue }
            let text = lines[line - 1]
            let number = String(line)
            out += String(repeating: " ", count: gutter - number.count) + number + " | " + text + "\n"
            out += String(repeating: " ", count: gutter) + " | " + Self.caretPadding(text, column: column) + "^\n"
        }
        return out
    }

    /// Lines as libyaml counts them (its marks number lines this way): breaks are LF, CR LF, a lone
    /// CR, NEL, LS and PS. By scalars, because "\r\n" is one Character and never equals "\n".
    static func splitLines(_ source: String) -> [Substring] {
        let scalars = source.unicodeScalars
        var lines: [Substring] = []
        var start = scalars.startIndex
        var index = start
        while index != scalars.endIndex {
            let scalar = scalars[index]
            guard ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"].contains(scalar) else {
                index = scalars.index(after: index)
                continue
            }
            lines.append(Substring(scalars[start..<index]))
            index = scalars.index(after: index)
            if scalar == "\r", index != scalars.endIndex, scalars[index] == "\n" { index = scalars.index(after: index) }
            start = index
        }
        lines.append(Substring(scalars[start..<scalars.endIndex]))
        return lines
    }

    /// Keeps tabs as tabs so the caret lines up under the same column the terminal shows.
    static func caretPadding(_ text: Substring, column: Int) -> String {
        var padding = ""
        for scalar in text.unicodeScalars.prefix(column - 1) {
            padding.append(scalar == "\t" ? "\t" : " ")
        }
        let missing = column - 1 - text.unicodeScalars.count
        if missing > 0 { padding += String(repeating: " ", count: missing) }
        return padding
    }
}
