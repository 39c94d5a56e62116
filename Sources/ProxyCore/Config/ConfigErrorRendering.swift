extension ConfigErrors {
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
            guard let line = error.line else {
                out += "\(fileName): error: \(error.message)\n"
                continue
            }
            let column = max(1, error.column ?? 1)
            out += "\(fileName):\(line):\(column): error: \(error.message)\n"
            guard line >= 1, line <= lines.count else { continue }
            let text = lines[line - 1]
            let number = String(line)
            out += String(repeating: " ", count: gutter - number.count) + number + " | " + text + "\n"
            out += String(repeating: " ", count: gutter) + " | " + Self.caretPadding(text, column: column) + "^\n"
        }
        return out
    }

    static func splitLines(_ source: String) -> [Substring] {
        source.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasSuffix("\r") ? line.dropLast() : line
        }
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
