#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CProxyShims

/// An IPv4 or IPv6 socket address, stored by value.
public struct SocketAddress: Sendable, CustomStringConvertible {
    private var storage = sockaddr_storage()
    public private(set) var length: socklen_t = 0

    public init(copying address: UnsafePointer<sockaddr>, length: socklen_t) {
        withUnsafeMutableBytes(of: &storage) { target in
            target.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(length)))
        }
        self.length = length
    }

    public var family: Int32 { Int32(storage.ss_family) }

    public var port: UInt16 {
        get {
            withUnsafeBytes(of: storage) { raw in
                family == AF_INET6
                    ? UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))
                    : UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))
            }
        }
        set {
            // sin_port and sin6_port both sit at offset 2.
            withUnsafeMutableBytes(of: &storage) { raw in
                raw.storeBytes(of: newValue.bigEndian, toByteOffset: 2, as: UInt16.self)
            }
        }
    }

    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: storage) { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }

    public var host: String {
        var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        let result = withSockAddr { address, length in
            getnameinfo(address, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST)
        }
        guard result == 0 else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String { family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Blocking name resolution: call it off the event loops (startup, or a global queue).
    public static func resolve(host: String, port: UInt16, passive: Bool = false) throws(ResolveError) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_socktype = CProxyShims_SOCK_STREAM
        hints.ai_family = AF_UNSPEC
        hints.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw ResolveError(host: host, message: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var result: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = entry.pointee.ai_addr,
               entry.pointee.ai_family == AF_INET || entry.pointee.ai_family == AF_INET6 {
                result.append(SocketAddress(copying: address, length: entry.pointee.ai_addrlen))
            }
            cursor = entry.pointee.ai_next
        }
        guard !result.isEmpty else { throw ResolveError(host: host, message: "no IPv4 or IPv6 address") }
        return result
    }
}

public struct ResolveError: Error, CustomStringConvertible {
    public var host: String
    public var message: String
    public var description: String { "cannot resolve \(host): \(message)" }
}
