@testable import ProxyCore
import XCTest

final class ByteQueueTests: XCTestCase {
    private func append(_ queue: inout ByteQueue, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { queue.append($0) }
    }

    func testConsumeUnconsumeAndCompaction() {
        var queue = ByteQueue()
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0) }
        append(&queue, bytes)
        queue.consume(6000)
        XCTAssertEqual(queue.count, 4000)
        queue.unconsume(1000)
        XCTAssertEqual(Array(queue.unread), Array(bytes[5000...]))
        let capacity = queue.capacity
        // 5000 consumed, 5000 left: worth moving down; the storage stays.
        queue.compactIfWorthwhile()
        XCTAssertEqual(queue.readIndex, 0)
        XCTAssertEqual(queue.capacity, capacity)
        XCTAssertEqual(Array(queue.unread), Array(bytes[5000...]))
        // Little consumed: left in place.
        queue.consume(100)
        queue.compactIfWorthwhile()
        XCTAssertEqual(queue.readIndex, 100)
        queue.consume(queue.count)
        queue.compactIfWorthwhile()
        XCTAssertTrue(queue.isEmpty)
        XCTAssertEqual(queue.capacity, capacity, "an emptied queue keeps its memory")
    }

    func testAppendingReusesTheConsumedFront() {
        var queue = ByteQueue()
        append(&queue, Array(repeating: 1, count: 200))
        let capacity = queue.capacity
        queue.consume(150)
        append(&queue, Array(repeating: 2, count: capacity - 100))
        XCTAssertEqual(queue.capacity, capacity)
        XCTAssertEqual(Array(queue.unread), Array(repeating: 1, count: 50) + Array(repeating: 2, count: capacity - 100))
    }

    func testCopiesDoNotShareBytes() {
        var a = ByteQueue()
        append(&a, [1, 2, 3])
        var b = a
        append(&b, [4])
        a.consume(1)
        append(&a, [9])
        XCTAssertEqual(Array(a.unread), [2, 3, 9])
        XCTAssertEqual(Array(b.unread), [1, 2, 3, 4])
    }

    func testAHugeBufferIsReleasedOnceEmpty() {
        var queue = ByteQueue()
        append(&queue, Array(repeating: 0, count: ByteQueue.retainedCapacity + 1))
        queue.consume(queue.count)
        queue.compactIfWorthwhile()
        XCTAssertEqual(queue.capacity, 0)
    }
}
