import Dispatch
import Reactor
import XCTest

final class EventLoopDeadlineTests: XCTestCase {
    /// Touched only on the loop's queue.
    private final class Target: LoopTimerTarget, @unchecked Sendable {
        let name: String
        let loop: EventLoop
        let fired: XCTestExpectation
        let order: Order
        var onFire: (() -> Void)?
        init(_ name: String, _ loop: EventLoop, _ order: Order, _ fired: XCTestExpectation) {
            self.name = name
            self.loop = loop
            self.order = order
            self.fired = fired
        }
        func loopTimerFired() {
            dispatchPrecondition(condition: .onQueue(loop.queue))
            order.names.append(name)
            fired.fulfill()
            onFire?()
        }
    }

    private final class Order: @unchecked Sendable {
        var names: [String] = []
    }

    func testDeadlinesFireInOrderOnTheLoopsQueueAndRemovedOnesNever() {
        let loop = EventLoop(index: 0, readBufferSize: 16)
        let order = Order()
        let first = Target("first", loop, order, expectation(description: "first"))
        let second = Target("second", loop, order, expectation(description: "second"))
        let removed = Target("removed", loop, order, expectation(description: "removed never fires"))
        removed.fired.isInverted = true
        loop.queue.sync {
            let now = DispatchTime.now().uptimeNanoseconds
            let a = loop.addTimer(for: first), b = loop.addTimer(for: second), c = loop.addTimer(for: removed)
            loop.schedule(b, deadlineNanos: now + 20_000_000)
            loop.schedule(a, deadlineNanos: now + 300_000_000)
            loop.schedule(a, deadlineNanos: now + 5_000_000)   // moved earlier: the timer is set again
            loop.schedule(c, deadlineNanos: now + 1_000_000)
            loop.removeTimer(c)                                // gone before it is due
            XCTAssertEqual(loop.scheduledDeadlines, 2)
        }
        wait(for: [first.fired, second.fired, removed.fired], timeout: 1)
        loop.queue.sync {
            XCTAssertEqual(order.names, ["first", "second"])
            XCTAssertEqual(loop.scheduledDeadlines, 0)
        }
    }

    func testADeadlineMovedLaterStillFiresAndATargetCanScheduleAgainFromItsHandler() {
        let loop = EventLoop(index: 0, readBufferSize: 16)
        let order = Order()
        let fired = expectation(description: "fired twice")
        fired.expectedFulfillmentCount = 2
        let target = Target("t", loop, order, fired)
        var start: UInt64 = 0
        loop.queue.sync {
            start = DispatchTime.now().uptimeNanoseconds
            let timer = loop.addTimer(for: target)
            loop.schedule(timer, deadlineNanos: start + 2_000_000)
            // Later than the timer is set for: the timer fires early, finds nothing due, is set again.
            loop.schedule(timer, deadlineNanos: start + 80_000_000)
            target.onFire = { [unowned target] in
                target.onFire = nil
                loop.schedule(timer, deadlineNanos: DispatchTime.now().uptimeNanoseconds + 1_000_000)
            }
        }
        wait(for: [fired], timeout: 1)
        loop.queue.sync {
            XCTAssertEqual(order.names, ["t", "t"])
            XCTAssertEqual(loop.scheduledDeadlines, 0)
        }
        XCTAssertGreaterThanOrEqual(DispatchTime.now().uptimeNanoseconds - start, 80_000_000,
                                    "a deadline moved later is not fired at the earlier time")
    }
}
