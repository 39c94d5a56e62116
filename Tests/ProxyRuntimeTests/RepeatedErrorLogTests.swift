import Logging
@testable import ProxyRuntime
import Synchronization
import XCTest

final class RepeatedErrorLogTests: XCTestCase {
    func testFirstAtItsLevelRepeatsAtDebugThenASummaryFromConcurrentCallers() throws {
        let lines = LogCapture()
        let log = RepeatedErrorLog(logger: lines.logger(label: "t"), windowSeconds: 1)
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
            summaries = lines.events
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
