/// A request or response body that writes itself into a `ByteWriter`: the whole-body form follows.
public protocol KafkaEncodable {
    func encode(into w: inout ByteWriter, version: Int16)
    /// Bytes to reserve before encoding; a hint, 0 by default.
    var encodedCapacity: Int { get }
}

extension KafkaEncodable {
    public var encodedCapacity: Int { 0 }

    public func encoded(version: Int16) -> [UInt8] {
        var w = ByteWriter(capacity: encodedCapacity)
        encode(into: &w, version: version)
        return w.bytes
    }
}

/// A request or response body that reads itself from a `ByteReader` and stops after itself, so
/// that a caller of `decode(from:version:)` decides what trailing bytes mean.
public protocol KafkaDecodable {
    static func decode(from r: inout ByteReader, version: Int16) throws -> Self
}

extension KafkaDecodable {
    /// Strict: the body must hold exactly one message.
    public static func decode(_ body: [UInt8], version: Int16) throws -> Self {
        var r = ByteReader(body)
        let message = try decode(from: &r, version: version)
        try r.expectEnd("\(Self.self) v\(version)")
        return message
    }
}
