import Foundation
import Logging

/// What was logged through the loggers it makes: each event's level and message, and a rendered
/// line (level, metadata, message) for failure messages. `CHAR_LOG=1` echoes the lines to stderr.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    private var recorded: [(Logger.Level, String)] = []
    private let echo = ProcessInfo.processInfo.environment["CHAR_LOG"] != nil

    func logger(label: String, level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { _ in CapturingLogHandler(capture: self) }
        logger.logLevel = level
        return logger
    }

    fileprivate func append(_ level: Logger.Level, message: String, line: String) {
        if echo { FileHandle.standardError.write(Data((line + "\n").utf8)) }
        lock.withLock {
            lines.append(line)
            recorded.append((level, message))
        }
    }

    var all: [String] { lock.withLock { lines } }
    var text: String { all.joined(separator: "\n") }
    func contains(_ fragment: String) -> Bool { all.contains { $0.contains(fragment) } }
    /// Level and message of every event, in order.
    var events: [(Logger.Level, String)] { lock.withLock { recorded } }
}

private struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let meta = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        capture.append(event.level, message: "\(event.message)", line: "\(event.level)\(meta): \(event.message)")
    }
}
