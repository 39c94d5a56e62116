/// Produce response (api key 0) as far as the proxy needs it: the position of the top-level tagged
/// fields, where v10+ brokers put NodeEndpoints (tag 0) for clients to find moved partition leaders.
/// The rest of the body is skipped, never copied.
public enum ProduceResponseWalker {
    public static let maxVersion: Int16 = 13

    /// Advances `r` from the start of the body to its top-level tagged fields (flexible versions) or
    /// to its end (v0-8).
    public static func skipToTaggedFields(_ r: inout ByteReader, version: Int16) throws {
        try KafkaProtocolError.checkVersion(version, upTo: maxVersion, of: "ProduceResponse")
        let flex = version >= 9
        let topics = try r.readArrayCount(flexible: flex)
        for _ in 0..<topics {
            if version >= 13 { try r.skip(16, "topic id") } else { try skipString(&r, flex) }
            let partitions = try r.readArrayCount(flexible: flex)
            for _ in 0..<partitions {
                // index, error code, base offset, log append time (v2+), log start offset (v5+)
                try r.skip(4 + 2 + 8 + (version >= 2 ? 8 : 0) + (version >= 5 ? 8 : 0), "partition response")
                if version >= 8 {
                    let errors = try r.readArrayCount(flexible: flex)
                    for _ in 0..<errors {
                        try r.skip(4, "batch index")
                        try skipNullableString(&r, flex)
                        if flex { try r.skipTaggedFields() }
                    }
                    try skipNullableString(&r, flex)
                }
                if flex { try r.skipTaggedFields() }
            }
            if flex { try r.skipTaggedFields() }
        }
        if version >= 1 { try r.skip(4, "throttle time") }
    }
}

/// Fetch response (api key 1) walker: finds the top-level tagged fields, where v16+ brokers put
/// NodeEndpoints (tag 0), skipping record sets by their length.
public enum FetchResponseWalker {
    public static let maxVersion: Int16 = 17

    public static func skipToTaggedFields(_ r: inout ByteReader, version: Int16) throws {
        try KafkaProtocolError.checkVersion(version, upTo: maxVersion, of: "FetchResponse")
        let flex = version >= 12
        if version >= 1 { try r.skip(4, "throttle time") }
        if version >= 7 { try r.skip(2 + 4, "error code and session id") }
        let topics = try r.readArrayCount(flexible: flex)
        for _ in 0..<topics {
            if version >= 13 { try r.skip(16, "topic id") } else { try skipString(&r, flex) }
            let partitions = try r.readArrayCount(flexible: flex)
            for _ in 0..<partitions {
                // index, error code, high watermark, last stable offset (v4+), log start offset (v5+)
                try r.skip(4 + 2 + 8 + (version >= 4 ? 8 : 0) + (version >= 5 ? 8 : 0), "partition data")
                if version >= 4 {
                    if let aborted = try r.readNullableArrayCount(flexible: flex, minElementSize: 16) {
                        for _ in 0..<aborted {
                            try r.skip(16, "aborted transaction")
                            if flex { try r.skipTaggedFields() }
                        }
                    }
                }
                if version >= 11 { try r.skip(4, "preferred read replica") }
                try r.skipNullableBytes(flexible: flex)
                if flex { try r.skipTaggedFields() }
            }
            if flex { try r.skipTaggedFields() }
        }
    }
}

@inline(__always)
func skipString(_ r: inout ByteReader, _ flex: Bool) throws {
    let n = flex ? try r.readCompactLength(nullable: false, "compact string")! : try r.readInt16Length(nullable: false, "string")!
    try r.skip(n, "string")
}

@inline(__always)
func skipNullableString(_ r: inout ByteReader, _ flex: Bool) throws {
    let n = flex ? try r.readCompactLength(nullable: true, "compact nullable string") : try r.readInt16Length(nullable: true, "nullable string")
    if let n { try r.skip(n, "string") }
}
