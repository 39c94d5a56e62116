#if canImport(Glibc)
import Glibc
#endif
@testable import Reactor
import XCTest

/// The pending-output queue alone: partial writes are simulated by `consume`, no sockets.
final class PendingWritesTests: XCTestCase {
    /// The bytes the next writev would send, in order.
    private func nextBatch(_ pending: inout PendingWrites) -> [[UInt8]] {
        pending.withIOVecs { iov in
            iov.map { Array(UnsafeRawBufferPointer(start: $0.iov_base, count: $0.iov_len)) }
        }
    }

    private func append(_ bytes: [UInt8], to pending: inout PendingWrites) {
        bytes.withUnsafeBytes { pending.append(copying: $0) }
    }

    func testEmptyQueueHasNoBatchAndIgnoresEmptyBuffers() {
        var pending = PendingWrites(highWatermark: 16)
        XCTAssertTrue(pending.isEmpty)
        XCTAssertEqual(pending.count, 0)
        XCTAssertEqual(pending.totalBytes, 0)
        XCTAssertTrue(nextBatch(&pending).isEmpty)
        append([], to: &pending)
        XCTAssertTrue(pending.isEmpty)
        XCTAssertEqual(pending.count, 0)
        pending.consume(0)
        XCTAssertTrue(pending.isEmpty)
        XCTAssertTrue(pending.isBelowHighWatermark)
    }

    func testPartialWriteOfTheFirstBufferResumesInsideIt() {
        var pending = PendingWrites(highWatermark: 1 << 20)
        append([1, 2, 3], to: &pending)
        append([4, 5, 6, 7], to: &pending)
        XCTAssertEqual(pending.totalBytes, 7)
        pending.consume(2)
        XCTAssertEqual(nextBatch(&pending), [[3], [4, 5, 6, 7]])
        XCTAssertEqual(pending.totalBytes, 5)
        XCTAssertEqual(pending.count, 2)
        // A write ending inside the second buffer frees the first.
        pending.consume(2)
        XCTAssertEqual(nextBatch(&pending), [[5, 6, 7]])
        XCTAssertEqual(pending.count, 1)
        XCTAssertEqual(pending.totalBytes, 3)
    }

    func testWritesEndingExactlyOnBufferBoundaries() {
        var pending = PendingWrites(highWatermark: 1 << 20)
        append([1, 2, 3], to: &pending)
        append([4, 5], to: &pending)
        append([6], to: &pending)
        pending.consume(3)
        XCTAssertEqual(nextBatch(&pending), [[4, 5], [6]])
        XCTAssertEqual(pending.count, 2)
        pending.consume(3)
        XCTAssertTrue(pending.isEmpty)
        XCTAssertEqual(pending.count, 0)
        XCTAssertTrue(nextBatch(&pending).isEmpty)
        // Usable again after it ran empty.
        append([7, 8], to: &pending)
        XCTAssertEqual(nextBatch(&pending), [[7, 8]])
    }

    func testQueuedBytesAreCopies() {
        var pending = PendingWrites(highWatermark: 1 << 20)
        var source: [UInt8] = [9, 9, 9]
        append(source, to: &pending)
        source[0] = 0
        source[1] = 0
        XCTAssertEqual(nextBatch(&pending), [[9, 9, 9]])
    }

    func testManyBuffersGoOutInBatchesOfAtMost64AndInOrder() {
        var pending = PendingWrites(highWatermark: 1 << 30)
        var expected: [UInt8] = []
        for i in 0..<500 {
            let chunk = (0..<(i % 37 + 1)).map { UInt8(truncatingIfNeeded: i &* 31 &+ $0) }
            expected += chunk
            append(chunk, to: &pending)
        }
        XCTAssertEqual(pending.count, 500)
        XCTAssertEqual(pending.totalBytes, expected.count)
        // A socket that takes an odd amount each time, often ending mid-buffer.
        var written: [UInt8] = []
        var step = 0
        while !pending.isEmpty {
            let batch = nextBatch(&pending)
            XCTAssertLessThanOrEqual(batch.count, PendingWrites.maxBatch)
            XCTAssertFalse(batch.isEmpty)
            let offered = batch.flatMap { $0 }
            let taken = min(offered.count, 1 + (step * 97) % 400)
            written += offered[..<taken]
            pending.consume(taken)
            XCTAssertEqual(pending.totalBytes, expected.count - written.count)
            step += 1
        }
        XCTAssertEqual(written, expected)
        XCTAssertEqual(pending.count, 0)
    }

    func testHighWatermark() {
        var pending = PendingWrites(highWatermark: 10)
        append([UInt8](repeating: 1, count: 9), to: &pending)
        XCTAssertTrue(pending.isBelowHighWatermark)
        append([1], to: &pending)
        XCTAssertFalse(pending.isBelowHighWatermark, "at the watermark the producer stops")
        pending.consume(1)
        XCTAssertTrue(pending.isBelowHighWatermark)
    }

    func testRemoveAllDropsEverything() {
        var pending = PendingWrites(highWatermark: 10)
        append([1, 2, 3], to: &pending)
        append([4], to: &pending)
        pending.consume(1)
        pending.removeAll()
        XCTAssertTrue(pending.isEmpty)
        XCTAssertEqual(pending.count, 0)
        XCTAssertTrue(nextBatch(&pending).isEmpty)
    }
}
