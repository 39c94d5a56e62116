#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
@testable import Reactor
import XCTest

final class SocketChannelTests: XCTestCase {
    /// Records delegate events; touched only on the channel's queue.
    private final class Recorder: SocketChannelDelegate, @unchecked Sendable {
        var readable = 0
        var received: [UInt8] = []
        var writable: XCTestExpectation?
        var failed: ChannelError?
        func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer) {
            readable += 1
            received += bytes
            channel.pauseReading()
        }
        func channelEOF(_ channel: SocketChannel) { readable += 1 }
        func channelDrained(_ channel: SocketChannel) { writable?.fulfill() }
        func channelFailed(_ channel: SocketChannel, _ error: ChannelError) { failed = error }
    }

    private func socketPair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        return (fds[0], fds[1])
    }

    func testBackpressureQueuesOutputAndReportsWhenDrained() throws {
        let (a, b) = socketPair()
        defer { Glibc.close(b) }
        let queue = DispatchQueue(label: "test")
        let channel = SocketChannel(fd: a, queue: queue, highWatermark: 64 * 1024)
        let recorder = Recorder()
        let chunk = [UInt8](repeating: 7, count: 32 * 1024)
        var acceptedUntilFull = 0
        queue.sync {
            channel.delegate = recorder
            // The peer does not read: the kernel buffer fills, then the channel queues, then says stop.
            while channel.send(chunk) { acceptedUntilFull += 1 }
            XCTAssertTrue(channel.hasPendingOutput)
            XCTAssertGreaterThanOrEqual(channel.pendingBytes, 64 * 1024)
            recorder.writable = expectation(description: "drained")
        }
        XCTAssertGreaterThan(acceptedUntilFull, 0)
        // Drain the peer until the channel reports its queue written out.
        let expected = (acceptedUntilFull + 1) * chunk.count
        var received = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(10)
        while received < expected && Date() < deadline {
            let n = read(b, &buffer, buffer.count)
            if n > 0 {
                XCTAssertTrue(buffer[..<n].allSatisfy { $0 == 7 })
                received += n
            } else {
                usleep(1000)
            }
        }
        XCTAssertEqual(received, expected, "every queued byte arrives, in order")
        wait(for: [recorder.writable!], timeout: 5)
        queue.sync {
            XCTAssertFalse(channel.hasPendingOutput)
            channel.close()
        }
    }

    func testCloseWithSuspendedAndNeverActivatedSourcesClosesTheFd() throws {
        let (a, b) = socketPair()
        defer { Glibc.close(b) }
        let queue = DispatchQueue(label: "test")
        let recorder = Recorder()
        queue.sync {
            let channel = SocketChannel(fd: a, queue: queue)
            channel.delegate = recorder
            channel.resumeReading()
            channel.pauseReading()
            // Write source never activated, read source suspended: close must resume both before cancel.
            channel.close()
            channel.close()
        }
        // The fd is closed by the last cancel handler, on the queue.
        let closed = expectation(description: "fd closed")
        DispatchQueue.global().async {
            for _ in 0..<500 {
                if fcntl(a, F_GETFD) == -1 && errno == EBADF { closed.fulfill(); return }
                usleep(2000)
            }
        }
        wait(for: [closed], timeout: 5)
    }

    func testPeerCloseIsDeliveredAsEOF() throws {
        let (a, b) = socketPair()
        let queue = DispatchQueue(label: "test")
        let recorder = Recorder()
        let channel = SocketChannel(fd: a, queue: queue)
        queue.sync {
            channel.delegate = recorder
            channel.resumeReading()
        }
        Glibc.close(b)
        let seen = expectation(description: "EOF delivered")
        DispatchQueue.global().async {
            for _ in 0..<500 {
                if queue.sync(execute: { recorder.readable }) > 0 { seen.fulfill(); return }
                usleep(2000)
            }
        }
        wait(for: [seen], timeout: 5)
        queue.sync { channel.close() }
    }
}
