#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A Kafka client reduced to a TCP socket: writes the bytes it is given, reads what comes back,
/// and reports how and when the other side ended the connection.
final class RawClient {
    enum Ending: Equatable, CustomStringConvertible {
        /// FIN from the proxy.
        case eof
        /// RST (ECONNRESET) from the proxy.
        case reset
        /// Still open when the wait ended.
        case open

        var description: String {
            switch self {
            case .eof: "eof"
            case .reset: "reset"
            case .open: "still open"
            }
        }
    }

    let fd: Int32
    private var buffered: [UInt8] = []
    private var scratch: [UInt8] = []
    private(set) var ending: Ending = .open

    /// `receiveBuffer`: SO_RCVBUF before connecting, for tests about a client that does not read.
    init(port: UInt16, receiveBuffer: Int? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
        if var size = receiveBuffer.map(Int32.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in.loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw HarnessError("connect 127.0.0.1:\(port): errno \(code)")
        }
    }

    deinit { Glibc.close(fd) }

    /// Writes all of `bytes`; false when the proxy closed (EPIPE, ECONNRESET).
    @discardableResult
    func send<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        let array = Array(bytes)
        var offset = 0
        while offset < array.count {
            let n = array.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, array.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// One read of whatever is there (at most `max` bytes), waiting at most `timeout`; appends to the buffer.
    private func fill(timeout: TimeInterval, max: Int = 1 << 20) {
        guard ending == .open else { return }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(max0(timeout) * 1000)) > 0 else { return }
        if scratch.count < max { scratch = [UInt8](repeating: 0, count: max) }
        let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
        if n > 0 {
            buffered.append(contentsOf: scratch[..<n])
        } else if n == 0 {
            ending = .eof
        } else if errno == ECONNRESET {
            ending = .reset
        }
    }

    /// Exactly `count` bytes, or nil when the connection ended or `timeout` passed first.
    func read(exactly count: Int, timeout: TimeInterval = 5) -> [UInt8]? {
        let deadline = Date().addingTimeInterval(timeout)
        while buffered.count < count {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 || ending != .open { return nil }
            fill(timeout: left)
        }
        let out = Array(buffered[..<count])
        buffered.removeFirst(count)
        return out
    }

    /// One whole frame (size prefix included), or nil.
    func readFrame(timeout: TimeInterval = 5) -> [UInt8]? {
        let deadline = Date().addingTimeInterval(timeout)
        guard let size = read(exactly: 4, timeout: timeout) else { return nil }
        let length = Int(Int32(bigEndianBytes: size))
        guard length >= 0 else { return size }
        guard let body = read(exactly: length, timeout: max0(deadline.timeIntervalSinceNow)) else {
            buffered.insert(contentsOf: size, at: 0)
            return nil
        }
        return size + body
    }

    /// Bytes that arrive within `timeout` (the connection may stay open).
    func readAvailable(timeout: TimeInterval) -> [UInt8] {
        let deadline = Date().addingTimeInterval(timeout)
        while ending == .open, deadline.timeIntervalSinceNow > 0 {
            fill(timeout: deadline.timeIntervalSinceNow)
        }
        let out = buffered
        buffered.removeAll()
        return out
    }

    /// Waits for the proxy to end the connection, discarding (and counting) bytes that arrive first.
    /// Returns how it ended and after how many seconds.
    func waitForEnd(timeout: TimeInterval) -> (ending: Ending, seconds: TimeInterval, bytes: Int) {
        let start = Date()
        var bytes = buffered.count
        buffered.removeAll()
        while ending == .open, Date().timeIntervalSince(start) < timeout {
            fill(timeout: timeout - Date().timeIntervalSince(start))
            bytes += buffered.count
            buffered.removeAll()
        }
        return (ending, Date().timeIntervalSince(start), bytes)
    }

    /// True when the proxy has not ended the connection within `timeout` (nothing read is lost).
    func staysOpen(for timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while ending == .open, deadline.timeIntervalSinceNow > 0 {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(max0(deadline.timeIntervalSinceNow) * 1000)) > 0 else { break }
            fill(timeout: 0)
            if ending == .open { usleep(1000) }
        }
        return ending == .open
    }
}

private func max0(_ t: TimeInterval) -> TimeInterval { t > 0 ? t : 0 }
