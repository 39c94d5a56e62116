#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
@testable import Reactor
import XCTest

/// The channel's read loop over socketpairs: what is delivered, how often, and when it stops.
final class SocketChannelReadTests: XCTestCase {
    /// Records delegate events; touched only on the channel's queue.
    private final class Reader: SocketChannelDelegate, @unchecked Sendable {
        enum Action { case keepReading, pause, close }
        var action = Action.keepReading
        var reads = 0
        var received: [UInt8] = []
        var bufferAddresses: Set<UnsafeRawPointer> = []
        var eofs = 0
        var connected = 0
        var failures: [ChannelError] = []
        var onRead: ((Int) -> Void)?
        func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer) {
            reads += 1
            received += bytes
            onRead?(bytes.count)
            if let base = bytes.baseAddress { bufferAddresses.insert(base) }
            switch action {
            case .keepReading: break
            case .pause: channel.pauseReading()
            case .close: channel.close()
            }
        }
        func channelEOF(_ channel: SocketChannel) { eofs += 1 }
        func channelConnected(_ channel: SocketChannel) { connected += 1 }
        func channelFailed(_ channel: SocketChannel, _ error: ChannelError) { failures.append(error) }
    }

    private func socketPair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        return (fds[0], fds[1])
    }

    private func write(_ fd: Int32, _ bytes: [UInt8]) {
        XCTAssertEqual(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }, bytes.count)
    }

    private func waitUntil(_ queue: DispatchQueue, _ what: String, _ condition: @escaping () -> Bool) {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if queue.sync(execute: condition) { return }
            usleep(2000)
        }
        XCTFail("timed out waiting for \(what)")
    }

    private func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) } }

    func testBytesArriveInTheChannelsOwnBuffer() {
        let (a, b) = socketPair()
        defer { Glibc.close(b) }
        let queue = DispatchQueue(label: "test")
        let reader = Reader()
        let channel = SocketChannel(fd: a, queue: queue, readBufferSize: 64)
        queue.sync {
            channel.delegate = reader
            channel.resumeReading()
        }
        let sent = pattern(1000)
        write(b, sent)
        waitUntil(queue, "all bytes") { reader.received.count == sent.count }
        queue.sync {
            XCTAssertEqual(reader.received, sent)
            XCTAssertEqual(reader.bufferAddresses.count, 1, "one buffer, allocated once, reused for every read")
            XCTAssertGreaterThanOrEqual(reader.reads, 1000 / 64)
            channel.close()
        }
    }

    func testAtMostEightReadsPerEventThenTheRestWaits() {
        let (a, b) = socketPair()
        defer { Glibc.close(b) }
        let queue = DispatchQueue(label: "test")
        let reader = Reader()
        let channel = SocketChannel(fd: a, queue: queue, readBufferSize: 16)
        let sent = pattern(1000)
        write(b, sent)
        queue.sync {
            channel.delegate = reader
            channel.resumeReading()
            // One read event, driven by hand on the queue (the source cannot fire in between).
            channel.pollReadable()
            XCTAssertEqual(reader.reads, SocketChannel.maxReadsPerEvent)
            XCTAssertEqual(reader.received, Array(sent[..<(16 * SocketChannel.maxReadsPerEvent)]))
        }
        // Level-triggered: the rest comes with later events.
        waitUntil(queue, "the rest") { reader.received.count == sent.count }
        queue.sync {
            XCTAssertEqual(reader.received, sent)
            channel.close()
        }
    }

    func testAShortReadEndsTheLoopOnThePoller() {
        let loop = EventLoop(index: 0, readBufferSize: 16)
        XCTAssertTrue(loop.canPoll)
        let (a, b) = socketPair()
        defer { Glibc.close(b) }
        let queue = loop.makeConnectionQueue(label: "test")
        let reader = Reader()
        let channel = SocketChannel(fd: a, queue: queue, loop: loop)
        write(b, pattern(20))
        // More bytes arrive while the short read is delivered: a loop that went on would read them now.
        reader.onRead = { [self] count in if count < 16 { write(b, pattern(5)) } }
        queue.sync {
            channel.delegate = reader
            channel.resumeReading()
            channel.pollReadable()
            // 16 + 4: the short read says the socket is drained.
            XCTAssertEqual(reader.reads, 2)
            XCTAssertEqual(reader.received.count, 20)
            reader.onRead = nil
        }
        waitUntil(queue, "the later bytes, with the next event") { reader.received.count == 25 }
        queue.sync { channel.close() }
    }

    func testEOFArrivingWithTheLastBytesIsSeenByTheSameEventOnADispatchSource() {
        let (a, b) = socketPair()
        let queue = DispatchQueue(label: "test")
        let reader = Reader()
        let channel = SocketChannel(fd: a, queue: queue, readBufferSize: 16)
        write(b, pattern(20))
        Glibc.close(b)
        queue.sync {
            channel.delegate = reader
            channel.resumeReading()
            // A Dispatch read source would not fire again for this EOF: the short read must not end the loop.
            channel.pollReadable()
            XCTAssertEqual(reader.received, pattern(20))
            XCTAssertEqual(reader.eofs, 1)
            channel.close()
        }
    }

    func testPausingInsideChannelReadStopsTheLoopAndResumeContinues() {
        let (a, b) = socketPair()
        defer { Glibc.close(b) }
        let queue = DispatchQueue(label: "test")
        let reader = Reader()
        reader.action = .pause
        let channel = SocketChannel(fd: a, queue: queue, readBufferSize: 16)
        let sent = pattern(100)
        write(b, sent)
        queue.sync {
            channel.delegate = reader
            channel.resumeReading()
            channel.pollReadable()
            XCTAssertEqual(reader.reads, 1)
            XCTAssertFalse(channel.isReading)
        }
        usleep(20_000)
        queue.sync {
            XCTAssertEqual(reader.reads, 1, "no read events while paused")
            reader.action = .keepReading
            channel.resumeReading()
        }
        waitUntil(queue, "the rest after resuming") { reader.received.count == sent.count }
        queue.sync {
            XCTAssertEqual(reader.received, sent, "nothing lost across the pause")
            channel.close()
        }
    }

    func testClosingInsideChannelReadStopsTheLoop() {
        let (a, b) = socketPair()
        defer { Glibc.close(b) }
        let queue = DispatchQueue(label: "test")
        let reader = Reader()
        reader.action = .close
        let channel = SocketChannel(fd: a, queue: queue, readBufferSize: 16)
        write(b, pattern(100))
        queue.sync {
            channel.delegate = reader
            channel.resumeReading()
            channel.pollReadable()
            XCTAssertEqual(reader.reads, 1)
            XCTAssertTrue(channel.isClosed)
        }
    }

    func testEOFIsDeliveredOnceAfterTheDataAndReadingStops() {
        let (a, b) = socketPair()
        let queue = DispatchQueue(label: "test")
        let reader = Reader()
        let channel = SocketChannel(fd: a, queue: queue)
        queue.sync {
            channel.delegate = reader
            channel.resumeReading()
        }
        write(b, [1, 2, 3])
        Glibc.close(b)
        waitUntil(queue, "EOF") { reader.eofs > 0 }
        usleep(20_000)
        queue.sync {
            XCTAssertEqual(reader.received, [1, 2, 3])
            XCTAssertEqual(reader.eofs, 1)
            XCTAssertFalse(channel.isReading)
            channel.resumeReading()
            XCTAssertFalse(channel.isReading, "a stream at its end has nothing more to read")
            XCTAssertTrue(reader.failures.isEmpty)
            channel.close()
        }
    }

    func testChannelsOnALoopReadIntoTheLoopsBuffer() throws {
        let loop = EventLoop(index: 0, readBufferSize: 256)
        let (a, b) = socketPair()
        defer { Glibc.close(b) }
        let queue = loop.makeConnectionQueue(label: "test")
        let reader = Reader()
        let channel = SocketChannel(fd: a, queue: queue, loop: loop)
        queue.sync {
            channel.delegate = reader
            channel.resumeReading()
        }
        let sent = pattern(3000)
        write(b, sent)
        waitUntil(queue, "all bytes") { reader.received.count == sent.count }
        queue.sync {
            XCTAssertEqual(reader.received, sent)
            XCTAssertEqual(reader.bufferAddresses, [UnsafeRawPointer(loop.readBuffer.baseAddress!)])
            channel.close()
        }
    }

    /// A listening loopback socket and its address.
    private func listeningSocket() -> (Int32, sockaddr_in) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                XCTAssertEqual(bind(fd, $0, length), 0)
                XCTAssertEqual(getsockname(fd, $0, &length), 0)
            }
        }
        return (fd, address)
    }

    private func connectNonBlocking(to address: sockaddr_in) -> Int32 {
        var address = address
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        XCTAssertTrue(result == 0 || errno == EINPROGRESS || errno == ECONNREFUSED)
        return fd
    }

    func testConnectIsReportedThenDataFlows() throws {
        let (listening, address) = listeningSocket()
        defer { Glibc.close(listening) }
        XCTAssertEqual(listen(listening, 4), 0)
        let fd = connectNonBlocking(to: address)
        let queue = DispatchQueue(label: "test")
        let reader = Reader()
        let channel = SocketChannel(fd: fd, queue: queue)
        queue.sync {
            channel.delegate = reader
            channel.awaitConnect()
        }
        let server = accept(listening, nil, nil)
        XCTAssertGreaterThanOrEqual(server, 0)
        defer { Glibc.close(server) }
        waitUntil(queue, "channelConnected") { reader.connected == 1 }
        queue.sync {
            XCTAssertTrue(channel.send([5, 6, 7]))
            channel.resumeReading()
        }
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = Glibc.read(server, &buffer, buffer.count)
        XCTAssertEqual(Array(buffer[..<max(0, n)]), [5, 6, 7])
        write(server, [8, 9])
        waitUntil(queue, "the answer") { reader.received == [8, 9] }
        queue.sync {
            XCTAssertEqual(reader.connected, 1)
            XCTAssertTrue(reader.failures.isEmpty)
            channel.close()
        }
    }

    func testRefusedConnectFailsWithConnectError() throws {
        // A port nobody listens on: bound but never listening.
        let (bound, address) = listeningSocket()
        defer { Glibc.close(bound) }
        let fd = connectNonBlocking(to: address)
        let queue = DispatchQueue(label: "test")
        let reader = Reader()
        let channel = SocketChannel(fd: fd, queue: queue)
        queue.sync {
            channel.delegate = reader
            channel.awaitConnect()
        }
        waitUntil(queue, "the failure") { !reader.failures.isEmpty }
        queue.sync {
            guard case .connect(let error) = reader.failures.first else {
                return XCTFail("expected a connect error, got \(reader.failures)")
            }
            XCTAssertEqual(error.errno, ECONNREFUSED)
            XCTAssertEqual(reader.connected, 0)
            XCTAssertFalse(reader.failures[0].isDisconnect)
            XCTAssertEqual(reader.failures[0].reason, "connect_failed")
            channel.close()
        }
    }
}
