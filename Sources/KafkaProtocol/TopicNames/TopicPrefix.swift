/// A cluster's topic prefix: the client's topic T is the upstream topic prefix + T.
public struct TopicPrefix: Sendable, Hashable {
    public let value: String
    /// The prefix's UTF-8, the form the walker compares and writes (names are never decoded).
    let bytes: [UInt8]

    public init(_ value: String) {
        self.value = value
        self.bytes = Array(value.utf8)
    }

    public func upstream(_ clientName: String) -> String { value + clientName }

    /// nil when the upstream name lacks the prefix. A name equal to the prefix is invisible too:
    /// the client would see a topic with an empty name, which Kafka does not allow.
    public func client(_ upstreamName: String) -> String? {
        let name = Array(upstreamName.utf8)
        guard hasPrefix(name[...]) else { return nil }
        return String(decoding: name[bytes.count...], as: UTF8.self)
    }

    /// True when `name` starts with the prefix and is longer than it.
    func hasPrefix(_ name: ArraySlice<UInt8>) -> Bool {
        name.count > bytes.count && name.prefix(bytes.count).elementsEqual(bytes)
    }

    func hasPrefix(_ name: UnsafeRawBufferPointer) -> Bool {
        guard name.count > bytes.count else { return false }
        for i in 0..<bytes.count where name[i] != bytes[i] { return false }
        return true
    }

    // MARK: subscription regexes

    /// The upstream form of a client's subscription regex. Brokers match a member's regex against
    /// whole topic names (RE2J `matches`), so prefix + (?:regex) matches exactly the upstream
    /// names prefix + X whose X the client's regex matches, and nothing without the prefix.
    func upstreamRegex(_ clientRegex: [UInt8]) -> [UInt8] {
        regexHead + clientRegex + [UInt8(ascii: ")")]
    }

    /// The client's regex back from an upstream one built by `upstreamRegex`, nil for any other.
    func clientRegex(_ upstreamRegex: [UInt8]) -> [UInt8]? {
        let head = regexHead
        guard upstreamRegex.count > head.count, upstreamRegex.starts(with: head),
              upstreamRegex.last == UInt8(ascii: ")") else { return nil }
        return Array(upstreamRegex[head.count..<(upstreamRegex.count - 1)])
    }

    /// The prefix as a regex literal followed by the opening of a non-capturing group. Every
    /// character but letters, digits and '_' is escaped (RE2 takes any escaped punctuation as
    /// itself); topic names hold only [a-zA-Z0-9._-] anyway.
    private var regexHead: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2 + 3)
        for b in bytes {
            let plain = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F
            if !plain && b < 0x80 { out.append(UInt8(ascii: "\\")) }
            out.append(b)
        }
        out += Array("(?:".utf8)
        return out
    }
}
