/// A proxy that hides leader epochs (Metadata answers -1, because its clients may be moved to
/// another cluster whose epochs are unrelated) must not let a Fetch carry an epoch either:
/// librdkafka sends current_leader_epoch 0 for an unknown epoch when the broker's Metadata is v9+,
/// and a broker whose partition has had a leader change answers FENCED_LEADER_EPOCH to that on
/// every Fetch, for good (the client's metadata refresh brings -1 again). -1 asks the broker not
/// to check, which is what the client's unknown epoch means.
public enum FetchLeaderEpochs {
    /// A copy of `frame` (a whole Fetch request frame, v9+) with every partition's
    /// current_leader_epoch set to -1; nil when there is nothing to change (an older version, every
    /// epoch already -1) or the body cannot be walked (the broker then answers it with its own error).
    /// `bodyStart`: where the body begins in `frame`.
    ///
    /// Every Fetch of a connection with several clusters comes here: the common answer (all -1, as
    /// Java clients send) costs one walk and no allocation; only a Fetch to change is copied.
    public static func cleared(frame: UnsafeRawBufferPointer, bodyStart: Int, version: Int16) -> [UInt8]? {
        guard version >= 9 else { return nil }
        var anySet = false
        guard (try? visitEpochs(frame, bodyStart: bodyStart, version: version, { offset in
            if Self.int32(frame, at: offset) != -1 { anySet = true }
        })) == true, anySet else { return nil }
        var copy = Array(frame)
        _ = try? visitEpochs(frame, bodyStart: bodyStart, version: version) { offset in
            for i in offset..<offset + 4 { copy[i] = 0xFF }
        }
        return copy
    }

    /// Calls `visit` with where each partition's current_leader_epoch lies in `frame`; false when
    /// the bytes end early.
    static func visitEpochs(_ frame: UnsafeRawBufferPointer, bodyStart: Int, version: Int16,
                            _ visit: (Int) -> Void) throws -> Bool {
        let flex = version >= 12
        var c = RawCursor(frame, offset: bodyStart)
        // replica_id (v0-14), max_wait_ms, min_bytes, max_bytes (v3+), isolation_level (v4+),
        // session_id and session_epoch (v7+)
        let fixed = (version <= 14 ? 4 : 0) + 8 + 4 + 1 + 8
        guard c.skip(fixed), let topics = try count(&c, flex: flex) else { return false }
        for _ in 0..<topics {
            if version >= 13 {
                guard c.skip(16) else { return false }
            } else {
                guard let length = try stringLength(&c, flex: flex), c.skip(length) else { return false }
            }
            guard let partitions = try count(&c, flex: flex) else { return false }
            for _ in 0..<partitions {
                guard c.skip(4) else { return false }           // partition
                let epochAt = c.offset
                // current_leader_epoch, fetch_offset, last_fetched_epoch (v12+), log_start_offset,
                // partition_max_bytes
                guard c.skip(4 + 8 + (version >= 12 ? 4 : 0) + 8 + 4) else { return false }
                visit(epochAt)
                if flex { guard try c.skipTaggedFields() else { return false } }
            }
            if flex { guard try c.skipTaggedFields() else { return false } }
        }
        return true
    }

    private static func count(_ c: inout RawCursor, flex: Bool) throws -> Int? {
        if flex {
            guard let n = try c.unsignedVarint() else { return nil }
            return n == 0 ? 0 : Int(n) - 1
        }
        guard let n = c.int32() else { return nil }
        return n < 0 ? 0 : Int(n)
    }

    private static func stringLength(_ c: inout RawCursor, flex: Bool) throws -> Int? {
        if flex {
            guard let n = try c.unsignedVarint(), n > 0 else { return nil }
            return Int(n) - 1
        }
        guard let n = c.int16(), n >= 0 else { return nil }
        return Int(n)
    }

    private static func int32(_ frame: UnsafeRawBufferPointer, at offset: Int) -> Int32 {
        Int32(bigEndian: frame.loadUnaligned(fromByteOffset: offset, as: Int32.self))
    }
}
