/// A tagged field of a flexible-version struct. Tags this codec does not interpret are kept raw,
/// in wire order, so that decode followed by encode reproduces the input.
public struct TaggedField: Equatable, Hashable, Sendable {
    public var tag: UInt32
    public var data: [UInt8]

    public init(tag: UInt32, data: [UInt8]) {
        self.tag = tag
        self.data = data
    }
}

extension Array where Element == TaggedField {
    /// Data of the first field with `tag`, if present.
    public func data(forTag tag: UInt32) -> [UInt8]? {
        for field in self where field.tag == tag { return field.data }
        return nil
    }
}
