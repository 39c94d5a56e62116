/// The fields of the classic group protocol's requests that name a member: which group, which
/// member id. The proxy learns from them which cluster's coordinator each member belongs to.

/// A request of the classic group protocol that starts with (group_id, generation_id, member_id);
/// `API` says which one, and its extension reads and writes the rest.
public struct GroupMemberRequest<API: GroupMemberAPI>: Equatable, Sendable {
    public static var maxVersion: Int16 { API.maxVersion }
    static var flexibleFrom: Int16 { API.flexibleFrom }

    public var groupId: String
    public var generationId: Int32
    public var memberId: String

    public init(groupId: String, generationId: Int32, memberId: String) {
        self.groupId = groupId
        self.generationId = generationId
        self.memberId = memberId
    }

    /// Checks the version and reads the member; `r` is left after the member id.
    static func decodeMember(_ r: inout ByteReader, version: Int16) throws -> Self {
        try KafkaProtocolError.checkVersion(version, upTo: maxVersion, of: API.name)
        let flex = version >= flexibleFrom
        return Self(groupId: try r.readString(flexible: flex), generationId: try r.readInt32(),
                    memberId: try r.readString(flexible: flex))
    }

    /// The member, its group_instance_id (v3+ in both requests), what `rest` writes, the tagged fields.
    func encodedMember(version: Int16, groupInstanceId: String?,
                       rest: (inout ByteWriter, _ flexible: Bool) -> Void = { _, _ in }) -> [UInt8] {
        let flex = version >= Self.flexibleFrom
        var w = ByteWriter()
        w.writeString(groupId, flexible: flex)
        w.writeInt32(generationId)
        w.writeString(memberId, flexible: flex)
        if version >= 3 { w.writeNullableString(groupInstanceId, flexible: flex) }
        rest(&w, flex)
        w.writeTaggedFields([], if: flex)
        return w.bytes
    }
}

/// The versions of a `GroupMemberRequest`'s API this codec reads.
public protocol GroupMemberAPI: Sendable {
    static var name: String { get }
    static var maxVersion: Int16 { get }
    static var flexibleFrom: Int16 { get }
}

/// SyncGroup request (api key 14), v0-5, up to the member id (the assignments are not read).
public enum SyncGroupAPI: GroupMemberAPI {
    public static let name = "SyncGroup"
    public static let maxVersion: Int16 = 5
    public static let flexibleFrom: Int16 = 4
}

public typealias SyncGroupMember = GroupMemberRequest<SyncGroupAPI>

extension GroupMemberRequest where API == SyncGroupAPI {
    /// `body`: the request after its header.
    public static func decode(body: [UInt8], version: Int16) throws -> SyncGroupMember {
        var r = ByteReader(body)
        return try decodeMember(&r, version: version)
    }

    /// A whole SyncGroup request body with no assignments (a follower's), for tests and seeds.
    public func encodedRequest(version: Int16, groupInstanceId: String? = nil) -> [UInt8] {
        encodedMember(version: version, groupInstanceId: groupInstanceId) { w, flex in
            if version >= 5 {
                w.writeNullableString("consumer", flexible: flex)
                w.writeNullableString("range", flexible: flex)
            }
            w.writeArrayCount(0, flexible: flex)
        }
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
        try KafkaProtocolError.checkVersion(version, upTo: maxVersion, of: "LeaveGroup")
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
        ApiKey.heartbeat.rawValue: HeartbeatMember.maxVersion,
    ]
}

/// Heartbeat request (api key 12), v0-4: the member that says it is alive.
public enum HeartbeatAPI: GroupMemberAPI {
    public static let name = "Heartbeat"
    public static let maxVersion: Int16 = 4
    public static let flexibleFrom: Int16 = 4
}

public typealias HeartbeatMember = GroupMemberRequest<HeartbeatAPI>

extension GroupMemberRequest where API == HeartbeatAPI {
    public static func decode(body: [UInt8], version: Int16) throws -> HeartbeatMember {
        var r = ByteReader(body)
        let member = try decodeMember(&r, version: version)
        let flex = version >= flexibleFrom
        if version >= 3 { _ = try r.readNullableString(flexible: flex) }   // group_instance_id
        if flex { try r.skipTaggedFields() }
        try r.expectEnd("Heartbeat request")
        return member
    }

    public func encoded(version: Int16, groupInstanceId: String? = nil) -> [UInt8] {
        encodedMember(version: version, groupInstanceId: groupInstanceId)
    }

    /// A Heartbeat response body with this error: throttle_time_ms (v1+), error_code, tagged fields (v4+).
    public static func responseBody(errorCode: Int16, version: Int16) -> [UInt8] {
        var w = ByteWriter()
        if version >= 1 { w.writeInt32(0) }
        w.writeInt16(errorCode)
        w.writeTaggedFields([], if: version >= flexibleFrom)
        return w.bytes
    }
}
