/// What the proxy needs to answer a Fetch itself, as a broker with no data answers a long poll.
public enum FetchEmptyAnswer {
    /// max_wait_ms of a Fetch request body (v0-17): after replica_id up to v14, first from v15
    /// (the replica moved into a tagged field). nil when the body is too short.
    public static func maxWaitMs(body: UnsafeRawBufferPointer, version: Int16) -> Int32? {
        let offset = version <= 14 ? 4 : 0
        guard body.count >= offset + 4 else { return nil }
        return Int32(bigEndian: body.loadUnaligned(fromByteOffset: offset, as: Int32.self))
    }

    /// A Fetch response body with no topics and no error: throttle_time_ms (v1+), error_code and
    /// session_id 0 (v7+: no fetch session), an empty responses array, tagged fields (v12+).
    ///
    /// No topics rather than the requested partitions without records: it is what a broker sends
    /// for an incremental fetch with nothing new, clients read it in every version, and it needs
    /// nothing from the request (no high watermark to make up). Session id 0 tells a client with a
    /// fetch session that it is gone, so its next Fetch is a full one, which suits a member that
    /// is about to fetch from other positions anyway.
    public static func body(version: Int16) -> [UInt8] {
        var w = ByteWriter(capacity: 16)
        let flex = version >= 12
        if version >= 1 { w.writeInt32(0) }
        if version >= 7 {
            w.writeInt16(0)
            w.writeInt32(0)
        }
        w.writeArrayCount(0, flexible: flex)
        w.writeTaggedFields([], if: flex)
        return w.bytes
    }
}
