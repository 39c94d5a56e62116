/// The fields of the classic group protocol's requests that name a member: which group, which
/// member id. The proxy learns from them which cluster's coordinator each member belongs to.

/// SyncGroup request (api key 14), v0-5, up to the member id (the assignments are not read).
public struct SyncGroupMember: Equatable, Sendable {
    public static let maxVersion: Int16 = 5
    static let flexibleFrom: Int16 = 4

    public var groupId: String
    public var generationId: Int32
    public var memberId: String

    public init(groupId: String, generationId: Int32, memberId: String) {
        self.groupId = groupId
        self.generationId = generationId
        self.memberId = memberId
    }

    /// `body`: the request after its header.
    public static func decode(body: [UInt8], version: Int16) throws -> SyncGroupMember {
        guard (0...maxVersion).contains(version) else {
            throw KafkaProtocolError(.unsupportedVersion, "SyncGroup v\(version)")
        }
        let flex = version >= flexibleFrom
        var r = ByteReader(body)
        return SyncGroupMember(groupId: try r.readString(flexible: flex), generationId: try r.readInt32(),
                               memberId: try r.readString(flexible: flex))
    }

    /// A whole SyncGroup request body with no assignments (a follower's), for tests and seeds.
    public func encodedRequest(version: Int16, groupInstanceId: String? = nil) -> [UInt8] {
        let flex = version >= Self.flexibleFrom
        var w = ByteWriter()
        w.writeString(groupId, flexible: flex)
        w.writeInt32(generationId)
        w.writeString(memberId, flexible: flex)
        if version >= 3 { w.writeNullableString(groupInstanceId, flexible: flex) }
        if version >= 5 {
            w.writeNullableString("consumer", flexible: flex)
            w.writeNullableString("range", flexible: flex)
        }
        w.writeArrayCount(0, flexible: flex)
        w.writeTaggedFields([], if: flex)
        return w.bytes
    }
}

/// LeaveGroup request (api key 13), v0-5: the group and the members that leave it (one before v3).
public struct LeaveGroupMembers: Equatable, Sendable {
    public static let maxVersion: Int16 = 5
    static let flexibleFrom: Int16 = 4

    public var groupId: String
    public var memberIds: [String]

    public init(groupId: String, memberIds: [String]) {
        self.groupId = groupId
        self.memberIds = memberIds
    }

    public static func decode(body: [UInt8], version: Int16) throws -> LeaveGroupMembers {
        guard (0...maxVersion).contains(version) else {
            throw KafkaProtocolError(.unsupportedVersion, "LeaveGroup v\(version)")
        }
        let flex = version >= flexibleFrom
        var r = ByteReader(body)
        let groupId = try r.readString(flexible: flex)
        guard version >= 3 else {
            let member = try r.readString(flexible: flex)
            try r.expectEnd("LeaveGroup request")
            return LeaveGroupMembers(groupId: groupId, memberIds: [member])
        }
        var members: [String] = []
        for _ in 0..<(try r.readArrayCount(flexible: flex, minElementSize: 2)) {
            members.append(try r.readString(flexible: flex))
            _ = try r.readNullableString(flexible: flex)             // group_instance_id
            if version >= 5 { _ = try r.readNullableString(flexible: flex) }  // reason
            if flex { try r.skipTaggedFields() }
        }
        if flex { try r.skipTaggedFields() }
        try r.expectEnd("LeaveGroup request")
        return LeaveGroupMembers(groupId: groupId, memberIds: members)
    }

    public func encoded(version: Int16) -> [UInt8] {
        let flex = version >= Self.flexibleFrom
        var w = ByteWriter()
        w.writeString(groupId, flexible: flex)
        if version < 3 {
            w.writeString(memberIds.first ?? "", flexible: flex)
            return w.bytes
        }
        w.writeArrayCount(memberIds.count, flexible: flex)
        for m in memberIds {
            w.writeString(m, flexible: flex)
            w.writeNullableString(nil, flexible: flex)
            if version >= 5 { w.writeNullableString("leaving", flexible: flex) }
            w.writeTaggedFields([], if: flex)
        }
        w.writeTaggedFields([], if: flex)
        return w.bytes
    }
}

/// Highest versions of the group requests the proxy reads: it caps what it advertises to them, so
/// a client never sends a commit the proxy could not judge.
public enum GroupRequestVersions {
    public static let maxDecodedVersion: [Int16: Int16] = [
        ApiKey.offsetCommit.rawValue: OffsetCommitRequest.maxVersion,
        ApiKey.txnOffsetCommit.rawValue: TxnOffsetCommitRequest.maxVersion,
        ApiKey.syncGroup.rawValue: SyncGroupMember.maxVersion,
        ApiKey.leaveGroup.rawValue: LeaveGroupMembers.maxVersion,
    ]
}
