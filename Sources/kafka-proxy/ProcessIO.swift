#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The little process I/O the command needs, without Foundation: linking Foundation (and ICU
/// through it) cost ~7 MB of resident memory in every sidecar (issue 6).
enum ProcessIO {
    static func writeToStandardError(_ text: String) {
        var remaining = Array(text.utf8)[...]
        while !remaining.isEmpty {
            let n = remaining.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            remaining = remaining.dropFirst(n)
        }
    }

    /// The environment as a dictionary; the first of repeated names wins, as getenv(3) does.
    static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                let name = String(text[..<equals])
                if result[name] == nil { result[name] = String(text[text.index(after: equals)...]) }
            }
            entry += 1
        }
        return result
    }
}
