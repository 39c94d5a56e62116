/// Copies one message body while renaming its topic names: the client's T becomes prefix + T
/// (`toUpstream`), the upstream prefix + X becomes X and array elements naming topics outside the
/// prefix are dropped (`toClient`). Everything else is copied byte for byte, record data as ranges
/// of the original. The walk follows a `TopicField` description and checks every length against
/// the bytes left, so any input ends in a result or a `KafkaProtocolError`.
struct TopicNameWalker {
    enum Direction { case toUpstream, toClient }

    let body: UnsafeRawBufferPointer
    let version: Int16
    let flexible: Bool
    let direction: Direction
    let prefix: TopicPrefix
    /// Protocol types of the groups the client joined (SyncGroup below v5 names only its group).
    let knownGroups: [[UInt8]: [UInt8]]

    var pos = 0
    /// Input before this offset is in `out` already (copied or replaced).
    var copied = 0
    var out = MappedOutput()
    var changed = false
    /// Inside an array element of a response, which is dropped when `dropElement` gets set.
    var inElement = false
    var dropElement = false
    var resourceType: Int8 = -1
    var groupId: [UInt8]?
    var protocolType: [UInt8]?
    var lastArrayCount: Int?

    static let consumerProtocol = Array("consumer".utf8)

    init(body: UnsafeRawBufferPointer, version: Int16, flexible: Bool, direction: Direction, prefix: TopicPrefix,
         knownGroups: [[UInt8]: [UInt8]] = [:], protocolType: [UInt8]? = nil) {
        self.body = body
        self.version = version
        self.flexible = flexible
        self.direction = direction
        self.prefix = prefix
        self.knownGroups = knownGroups
        self.protocolType = protocolType
    }

    /// Walks a whole message; nil when nothing changed. Bytes after the message follow it
    /// unchanged: Kafka's parsers stop at the message's end and ignore them, and real peers send
    /// some (librdkafka's Metadata request for all topics, the librdkafka mock's Metadata v13 answers).
    mutating func message(_ fields: [TopicField]) throws(KafkaProtocolError) -> MappedBody? {
        try walk(fields)
        return finish()
    }

    /// The output so far plus the unread rest of the input; nil when nothing changed.
    mutating func finish() -> MappedBody? {
        guard changed else { return nil }
        flush(to: body.count)
        return out.finish()
    }

    // MARK: walking

    mutating func walk(_ fields: [TopicField]) throws(KafkaProtocolError) {
        for field in fields where field.versions.contains(version) { try walk(field.kind) }
        if flexible { try skipTaggedFields() }
    }

    mutating func walk(_ kind: TopicFieldKind) throws(KafkaProtocolError) {
        switch kind {
        case .fixed(let n): try skip(n, "field")
        case .string: _ = try readString()
        case .bytes: _ = try readBytes()
        case .records:
            if let r = try readBytes(), !r.isEmpty {
                flush(to: r.lowerBound)
                out.appendOriginal(r)
                copied = r.upperBound
            }
        case .topic: _ = try topic()
        case .array(let element): try array(element)
        case .structure(let fields): try walk(fields)
        case .nullableStructure(let fields):
            if try readInt8() >= 0 { try walk(fields) }
        case .resourceType: resourceType = try readInt8()
        case .resourceName:
            if resourceType == 2 { _ = try topic() } else { _ = try readString() }
        case .groupId:
            guard let r = try readString() else { return }
            let group = Array(body[r])
            groupId = group
            if let known = knownGroups[group] { protocolType = known }
        case .protocolType:
            protocolType = try readString().map { Array(body[$0]) }
        case .subscription: try embedded(ConsumerProtocolSpec.subscription)
        case .assignment: try embedded(ConsumerProtocolSpec.assignment)
        case .topicRegex: try regex()
        case .cursor: try cursor()
        }
    }

    /// Maps one topic name. false: a response name outside the prefix (its element is dropped).
    mutating func topic() throws(KafkaProtocolError) -> Bool {
        let start = pos
        guard let r = try readString() else { return true }
        switch direction {
        case .toUpstream:
            flush(to: start)
            try writeStringLength(prefix.bytes.count + r.count)
            out.buffer += prefix.bytes
            append(r)
        case .toClient:
            guard prefix.hasPrefix(UnsafeRawBufferPointer(rebasing: body[r])) else {
                guard inElement else {
                    throw KafkaProtocolError(.invalidValue, "topic outside the prefix at offset \(start), where it cannot be removed")
                }
                dropElement = true
                return false
            }
            flush(to: start)
            try writeStringLength(r.count - prefix.bytes.count)
            append((r.lowerBound + prefix.bytes.count)..<r.upperBound)
        }
        copied = pos
        changed = true
        return true
    }

    mutating func array(_ element: TopicFieldKind) throws(KafkaProtocolError) {
        let countStart = pos
        guard let n = try readCount() else { lastArrayCount = nil; return }
        if case .fixed(let size) = element {
            // n <= bytes left, so n * size cannot overflow.
            try skip(n * size, "array")
            lastArrayCount = n
            return
        }
        guard direction == .toClient else {
            for _ in 0..<n { try walk(element) }
            lastArrayCount = n
            return
        }
        flush(to: pos)
        let countLength = pos - countStart
        let countMark = MappedOutput.Mark(piece: out.pieces.count, offset: out.buffer.count - countLength)
        let outer = (inElement, dropElement)
        var kept = 0
        for _ in 0..<n {
            flush(to: pos)
            let elementMark = out.mark
            inElement = true
            dropElement = false
            try walk(element)
            if dropElement {
                out.truncate(to: elementMark)
                copied = pos
                changed = true
            } else {
                kept += 1
            }
        }
        (inElement, dropElement) = outer
        if kept != n { out.replace(at: countMark, length: countLength, with: encodeCount(kept)) }
        lastArrayCount = kept
    }

    /// Consumer protocol bytes of a group whose protocol type is "consumer"; others pass.
    mutating func embedded(_ spec: [TopicField]) throws(KafkaProtocolError) {
        let start = pos
        guard let r = try readBytes(), !r.isEmpty, protocolType == Self.consumerProtocol else { return }
        let data = UnsafeRawBufferPointer(rebasing: body[r])
        guard let mapped = try ConsumerProtocolSpec.map(data, spec, direction: direction, prefix: prefix) else { return }
        flush(to: start)
        writeBytesLength(mapped.count)
        out.buffer += mapped
        copied = pos
        changed = true
    }

    /// A subscription regex: wrapped so it matches only prefixed names, unwrapped on the way back.
    /// The empty regex (no regex subscription) stays empty.
    mutating func regex() throws(KafkaProtocolError) {
        let start = pos
        guard let r = try readString(), !r.isEmpty else { return }
        let value = Array(body[r])
        let mapped = direction == .toUpstream ? prefix.upstreamRegex(value) : prefix.clientRegex(value)
        guard let mapped else { return }
        flush(to: start)
        try writeStringLength(mapped.count)
        out.buffer += mapped
        copied = pos
        changed = true
    }

    /// DescribeTopicPartitions' cursor. Listing every topic without a cursor starts at the prefix
    /// (all prefixed names sort together from there); a next cursor outside the prefix means the
    /// prefixed topics are all listed, so it becomes null.
    mutating func cursor() throws(KafkaProtocolError) {
        let start = pos
        guard try readInt8() >= 0 else {
            guard direction == .toUpstream, lastArrayCount == 0 else { return }
            flush(to: start)
            out.buffer.append(1)
            try writeStringLength(prefix.bytes.count)
            out.buffer += prefix.bytes
            out.buffer += [0, 0, 0, 0]
            if flexible { out.buffer.append(0) }
            copied = pos
            changed = true
            return
        }
        let nameStart = pos
        let name = try readString()
        let outside = direction == .toClient && name.map { !prefix.hasPrefix(UnsafeRawBufferPointer(rebasing: body[$0])) } == true
        if outside {
            try skip(4, "cursor partition")
            if flexible { try skipTaggedFields() }
            flush(to: start)
            out.buffer.append(0xFF)
            copied = pos
            changed = true
            return
        }
        pos = nameStart
        _ = try topic()
        try skip(4, "cursor partition")
        if flexible { try skipTaggedFields() }
    }

    // MARK: output

    mutating func flush(to end: Int) {
        if end > copied { append(copied..<end) }
        copied = max(copied, end)
    }

    /// Input bytes into the output, as one contiguous copy.
    mutating func append(_ range: Range<Int>) {
        guard let base = body.baseAddress, !range.isEmpty else { return }
        out.buffer.append(contentsOf: UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self) + range.lowerBound, count: range.count))
    }

    mutating func writeStringLength(_ n: Int) throws(KafkaProtocolError) {
        if flexible {
            appendUnsignedVarint(UInt32(n + 1))
        } else {
            guard n <= Int(Int16.max) else {
                throw KafkaProtocolError(.invalidValue, "mapped name of \(n) bytes does not fit an int16 length")
            }
            out.buffer += [UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
        }
    }

    mutating func writeBytesLength(_ n: Int) {
        if flexible { appendUnsignedVarint(UInt32(n + 1)) } else { out.buffer += bigEndian32(n) }
    }

    func encodeCount(_ n: Int) -> [UInt8] {
        guard flexible else { return bigEndian32(n) }
        var v = UInt32(n + 1)
        var bytes: [UInt8] = []
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
        return bytes
    }

    mutating func appendUnsignedVarint(_ value: UInt32) {
        var v = value
        while v >= 0x80 {
            out.buffer.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.buffer.append(UInt8(v))
    }

    func bigEndian32(_ n: Int) -> [UInt8] {
        [UInt8(truncatingIfNeeded: n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
    }

    // MARK: input

    mutating func skip(_ n: Int, _ what: StaticString) throws(KafkaProtocolError) {
        guard n >= 0, body.count - pos >= n else {
            throw KafkaProtocolError(.truncated, "\(what): \(n) bytes needed, \(body.count - pos) left at offset \(pos)")
        }
        pos += n
    }

    mutating func readInt8() throws(KafkaProtocolError) -> Int8 {
        try skip(1, "int8")
        return Int8(bitPattern: body[pos - 1])
    }

    mutating func readInt16() throws(KafkaProtocolError) -> Int16 {
        var cursor = RawCursor(body, offset: pos)
        guard let v = cursor.int16() else { throw truncated("int16") }
        pos = cursor.offset
        return v
    }

    mutating func readInt32() throws(KafkaProtocolError) -> Int32 {
        var cursor = RawCursor(body, offset: pos)
        guard let v = cursor.int32() else { throw truncated("int32") }
        pos = cursor.offset
        return v
    }

    mutating func readUnsignedVarint() throws(KafkaProtocolError) -> UInt32 {
        var cursor = RawCursor(body, offset: pos)
        let v: UInt32?
        do {
            v = try cursor.unsignedVarint()
        } catch let e as KafkaProtocolError {
            throw e
        } catch {
            throw KafkaProtocolError(.badVarint, "varint at offset \(pos): \(error)")
        }
        guard let v else { throw truncated("varint") }
        pos = cursor.offset
        return v
    }

    func truncated(_ what: StaticString) -> KafkaProtocolError {
        KafkaProtocolError(.truncated, "\(what) at offset \(pos): \(body.count - pos) bytes left")
    }

    /// The length of a string, bytes or array: nil for null.
    mutating func readLength(wide: Bool, _ what: StaticString) throws(KafkaProtocolError) -> Int? {
        let n: Int
        if flexible {
            let v = try readUnsignedVarint()
            if v == 0 { return nil }
            n = Int(v) - 1
        } else {
            n = wide ? Int(try readInt32()) : Int(try readInt16())
            if n == -1 { return nil }
        }
        guard n >= 0 else { throw KafkaProtocolError(.negativeLength, "\(what) of length \(n) at offset \(pos)") }
        guard n <= body.count - pos else {
            throw KafkaProtocolError(.lengthTooLarge, "\(what) of \(n) with \(body.count - pos) bytes left at offset \(pos)")
        }
        return n
    }

    /// The content's range, nil for null.
    mutating func readString() throws(KafkaProtocolError) -> Range<Int>? {
        guard let n = try readLength(wide: false, "string") else { return nil }
        pos += n
        return (pos - n)..<pos
    }

    mutating func readBytes() throws(KafkaProtocolError) -> Range<Int>? {
        guard let n = try readLength(wide: true, "bytes") else { return nil }
        pos += n
        return (pos - n)..<pos
    }

    mutating func readCount() throws(KafkaProtocolError) -> Int? {
        try readLength(wide: true, "array")
    }

    mutating func skipTaggedFields() throws(KafkaProtocolError) {
        let count = try readUnsignedVarint()
        for _ in 0..<count {
            _ = try readUnsignedVarint()
            let size = Int(try readUnsignedVarint())
            try skip(size, "tagged field")
        }
    }
}
