import ProxyCore

extension FuzzTargets {
    /// Config files: libyaml, the node tree (ProxyYAML) and every section's validation. A broken
    /// file must come back as located errors, never a crash: the running proxy reloads files an
    /// operator is halfway through editing.
    static func configYAML(_ data: [UInt8]) {
        let text = String(decoding: data, as: UTF8.self)
        // Line breaks as YAML (and libyaml's marks) count them; a CR LF pair is one break. An error at
        // the end of a text without a final newline is one line further (libyaml ends the last line).
        var lines = 1
        var previous: Unicode.Scalar = " "
        for scalar in text.unicodeScalars {
            if ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"].contains(scalar), !(scalar == "\n" && previous == "\r") { lines += 1 }
            previous = scalar
        }
        do throws(ConfigErrors) {
            let config = try ConfigLoader.parse(yaml: text, fileName: "fuzz.yaml")
            check(!config.clusters.isEmpty, "a valid config without clusters")
        } catch {
            check(!error.errors.isEmpty, "ConfigErrors without an error")
            for e in error.errors {
                if let line = e.line { check(line >= 1 && line <= lines + 1, "error at line \(line) of \(lines): \(e.message)") }
                if let column = e.column { check(column >= 1, "error at column \(column): \(e.message)") }
            }
            _ = error.description
        }
    }
}
