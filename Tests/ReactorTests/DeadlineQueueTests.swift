import XCTest
@testable import Reactor

final class DeadlineQueueTests: XCTestCase {
    func testPopsDueOwnersEarliestFirst() {
        var q = DeadlineQueue<String>()
        let a = q.add("a"), b = q.add("b"), c = q.add("c")
        q.schedule(a, at: 30)
        q.schedule(b, at: 10)
        q.schedule(c, at: 20)
        XCTAssertEqual(q.nextDeadline, 10)
        XCTAssertNil(q.popDue(now: 9))
        XCTAssertEqual(q.popDue(now: 25), "b")
        XCTAssertEqual(q.popDue(now: 25), "c")
        XCTAssertNil(q.popDue(now: 25))
        XCTAssertEqual(q.popDue(now: 30), "a")
        XCTAssertNil(q.nextDeadline)
        XCTAssertEqual(q.ownerCount, 3, "popping unschedules; the slots stay their owners'")
    }

    func testReschedulingMovesTheDeadlineBothWays() {
        var q = DeadlineQueue<Int>()
        let slots = (0..<5).map { q.add($0) }
        for (i, slot) in slots.enumerated() { q.schedule(slot, at: UInt64(100 + i)) }
        q.schedule(slots[4], at: 1)      // earlier
        q.schedule(slots[0], at: 1000)   // later
        XCTAssertEqual(q.count, 5, "a rescheduled slot is in the heap once")
        var order: [Int] = []
        while let owner = q.popDue(now: .max) { order.append(owner) }
        XCTAssertEqual(order, [4, 1, 2, 3, 0])
    }

    func testRemovedSlotsLeaveNothingBehindAndAreReused() {
        var q = DeadlineQueue<Int>()
        var slots: [Int] = []
        for i in 0..<100 {
            let slot = q.add(i)
            q.schedule(slot, at: UInt64(1_000 - i))
            slots.append(slot)
        }
        for slot in slots where slot % 3 == 0 { q.remove(slot) }
        XCTAssertEqual(q.count, 66)
        XCTAssertEqual(q.ownerCount, 66)
        var last: UInt64 = 0
        var popped = 0
        while let owner = q.popDue(now: .max) {
            XCTAssertNotEqual(owner % 3, 0, "removed owners never fire")
            let deadline = UInt64(1_000 - owner)
            XCTAssertGreaterThanOrEqual(deadline, last)
            last = deadline
            popped += 1
        }
        XCTAssertEqual(popped, 66)
        let reused = q.add(500)
        XCTAssertTrue(slots.contains(reused), "a freed slot is handed out again")
    }

    func testUnscheduleKeepsTheHeapOrdered() {
        var q = DeadlineQueue<Int>()
        var rng = SystemRandomNumberGenerator()
        var deadlines: [Int: UInt64] = [:]
        var slotOf: [Int: Int] = [:]
        for i in 0..<300 {
            let slot = q.add(i)
            slotOf[i] = slot
            let d = UInt64.random(in: 0..<10_000, using: &rng)
            q.schedule(slot, at: d)
            deadlines[i] = d
        }
        for i in stride(from: 0, to: 300, by: 7) {
            q.unschedule(slotOf[i]!)
            deadlines[i] = nil
        }
        for i in stride(from: 1, to: 300, by: 11) where deadlines[i] != nil {
            let d = UInt64.random(in: 0..<10_000, using: &rng)
            q.schedule(slotOf[i]!, at: d)
            deadlines[i] = d
        }
        var popped: [UInt64] = []
        while let owner = q.popDue(now: .max) { popped.append(deadlines[owner]!) }
        XCTAssertEqual(popped, deadlines.values.sorted())
    }
}

