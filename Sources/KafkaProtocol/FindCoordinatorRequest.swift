/// FindCoordinator request (api key 10), v0-6. Versions 4+ carry a list of keys.
public struct FindCoordinatorRequest: Equatable, Sendable, KafkaEncodable {
    /// Versions 0-3.
    public var key: String
    /// Version 1+: 0 = group, 1 = transaction, 2 = share.
    public var keyType: Int8
    /// Version 4+.
    public var coordinatorKeys: [String]

    public init(key: String = "", keyType: Int8 = 0, coordinatorKeys: [String] = []) {
        self.key = key
        self.keyType = keyType
        self.coordinatorKeys = coordinatorKeys
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        let flex = version >= 3
        if version <= 3 { w.writeString(key, flexible: flex) }
        if version >= 1 { w.writeInt8(keyType) }
        if version >= 4 {
            w.writeArrayCount(coordinatorKeys.count, flexible: flex)
            for k in coordinatorKeys { w.writeString(k, flexible: flex) }
        }
        w.writeTaggedFields([], if: flex)
    }
}
