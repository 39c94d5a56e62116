import XCTest
@testable import ProxyCore

final class RepeatLimiterTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000

    func testFirstIsWrittenRepeatsAreCountedAndSummarisedPerWindow() {
        var limiter = RepeatLimiter<String>(windowNanos: 10 * second)
        XCTAssertEqual(limiter.occurred("a", nowNanos: 100 * second).decision, .write)
        for i in 1...116 {
            let outcome = limiter.occurred("a", nowNanos: 100 * second + UInt64(i) * 50_000_000)
            XCTAssertEqual(outcome.decision, .suppress)
            XCTAssertNil(outcome.summary)
        }
        XCTAssertEqual(limiter.nextDeadlineNanos, 110 * second)
        XCTAssertEqual(limiter.expire(nowNanos: 109 * second), [], "the window is not over yet")
        XCTAssertEqual(limiter.expire(nowNanos: 110 * second),
                       [.init(key: "a", suppressed: 116, nanos: 10 * second)])
        // The repeats go on: still counted, one summary per window.
        XCTAssertEqual(limiter.occurred("a", nowNanos: 111 * second).decision, .suppress)
        XCTAssertEqual(limiter.occurred("a", nowNanos: 112 * second).decision, .suppress)
        XCTAssertEqual(limiter.expire(nowNanos: 120 * second), [.init(key: "a", suppressed: 2, nanos: 10 * second)])
        // A quiet window: forgotten, and the next occurrence is written in full.
        XCTAssertEqual(limiter.expire(nowNanos: 130 * second), [])
        XCTAssertEqual(limiter.count, 0)
        XCTAssertNil(limiter.nextDeadlineNanos)
        XCTAssertEqual(limiter.occurred("a", nowNanos: 131 * second).decision, .write)
    }

    func testKeysAreIndependent() {
        var limiter = RepeatLimiter<String>(windowNanos: 10 * second)
        XCTAssertEqual(limiter.occurred("primary/sasl", nowNanos: 0).decision, .write)
        XCTAssertEqual(limiter.occurred("dr/sasl", nowNanos: 1).decision, .write)
        XCTAssertEqual(limiter.occurred("primary/tls", nowNanos: 2).decision, .write)
        XCTAssertEqual(limiter.occurred("primary/sasl", nowNanos: 3).decision, .suppress)
        let summaries = limiter.expire(nowNanos: 10 * second + 5)
        XCTAssertEqual(summaries, [.init(key: "primary/sasl", suppressed: 1, nanos: 10 * second + 5)])
        XCTAssertEqual(limiter.count, 1, "the keys without repeats are forgotten")
    }

    func testALateTimerIsCoveredByTheNextOccurrence() {
        var limiter = RepeatLimiter<String>(windowNanos: 10 * second)
        _ = limiter.occurred("a", nowNanos: 0)
        _ = limiter.occurred("a", nowNanos: 1 * second)
        _ = limiter.occurred("a", nowNanos: 2 * second)
        // No expire() at 10 s: the occurrence at 15 s reports the window that ended and opens the next.
        let late = limiter.occurred("a", nowNanos: 15 * second)
        XCTAssertEqual(late.decision, .suppress)
        XCTAssertEqual(late.summary, .init(key: "a", suppressed: 2, nanos: 15 * second))
        XCTAssertEqual(limiter.expire(nowNanos: 25 * second), [.init(key: "a", suppressed: 1, nanos: 10 * second)])
        // A window that ended without repeats: the next occurrence is simply written.
        _ = limiter.occurred("b", nowNanos: 30 * second)
        XCTAssertEqual(limiter.occurred("b", nowNanos: 45 * second).decision, .write)
        XCTAssertNil(limiter.occurred("b", nowNanos: 46 * second).summary)
    }

    func testClockWrapDoesNotTrap() {
        var limiter = RepeatLimiter<String>(windowNanos: 10)
        _ = limiter.occurred("a", nowNanos: UInt64.max - 2)
        XCTAssertEqual(limiter.occurred("a", nowNanos: UInt64.max).decision, .suppress)
        XCTAssertEqual(limiter.nextDeadlineNanos, 7)
    }
}
