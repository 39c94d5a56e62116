import Logging
@testable import ProxyRuntime
import Synchronization
import XCTest

private final class Lines: Sendable {
    let all = Mutex<[(Logger.Level, String)]>([])
}

private struct Collecting: LogHandler {
    let lines: Lines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        lines.all.withLock { $0.append((event.level, "\(event.message)")) }
    }
}

final class RepeatedErrorLogTests: XCTestCase {
    func testFirstAtItsLevelRepeatsAtDebugThenASummaryFromConcurrentCallers() throws {
        let lines = Lines()
        let log = RepeatedErrorLog(logger: Logger(label: "t") { _ in Collecting(lines: lines) }, windowSeconds: 1)
        XCTAssertEqual(log.level(.error, cluster: "primary", reason: "SASL login failed"), .error)
        let levels = Mutex<[Logger.Level]>([])
        DispatchQueue.concurrentPerform(iterations: 40) { _ in
            let level = log.level(.error, cluster: "primary", reason: "SASL login failed")
            levels.withLock { $0.append(level) }
        }
        XCTAssertEqual(levels.withLock { $0 }, Array(repeating: .debug, count: 40))
        XCTAssertEqual(log.level(.warning, cluster: "dr", reason: "SASL login failed"), .warning, "per cluster")
        XCTAssertEqual(log.level(.error, cluster: "primary", reason: "TLS failed"), .error, "per reason")

        let deadline = Date().addingTimeInterval(5)
        var summaries: [(Logger.Level, String)] = []
        while Date() < deadline {
            summaries = lines.all.withLock { $0 }
            if !summaries.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertEqual(summaries.count, 1, "\(summaries)")
        XCTAssertEqual(summaries.first?.0, .error)
        let summary = summaries.first?.1 ?? ""
        XCTAssertTrue(summary.hasPrefix("cluster primary: SASL login failed: 40 more time(s) in the last "), summary)
        XCTAssertTrue(summary.hasSuffix("s (each repeat is logged at debug level; the metrics count every one)"), summary)
        // After a quiet window the next one is written in full again.
        Thread.sleep(forTimeInterval: 2.3)
        XCTAssertEqual(log.level(.error, cluster: "primary", reason: "SASL login failed"), .error)
    }
}
