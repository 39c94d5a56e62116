import KafkaProtocol

/// Consumer group members across a switch. A member keeps its positions and its member id when its
/// connection moves, but both belong to the old cluster: its Fetch would read the new cluster at
/// old offsets and its commit would write old offsets there. Until it has rejoined on the new
/// cluster (and fetched the offsets committed there), the proxy answers both itself; every other
/// request of the connection (FindCoordinator, JoinGroup, Heartbeat, Metadata...) flows.
extension ConnectionMachine {
    /// Requests that name a group member, read whole so the proxy can learn from or answer them.
    static func framesGroupTraffic(_ apiKey: Int16) -> Bool {
        switch apiKey {
        case ApiKey.joinGroup.rawValue, ApiKey.syncGroup.rawValue, ApiKey.heartbeat.rawValue,
             ApiKey.leaveGroup.rawValue, ApiKey.offsetCommit.rawValue, ApiKey.txnOffsetCommit.rawValue:
            return true
        default:
            return false
        }
    }

    /// Longest wait of a Fetch answered empty: a client's max wait beyond it is not honoured.
    static let maxFetchAnswerWaitMs: Int32 = 10_000
    /// At most this many SyncGroup requests of one connection are remembered until their answers.
    static let maxSyncsInFlight = 16

    /// True when the proxy answered the request itself (it does not go to the broker).
    mutating func answersGroupRequest(_ request: ObservedRequest, _ frame: UnsafeRawBufferPointer,
                                      nowNanos: UInt64) -> Bool {
        let bodyStart = 4 + request.headerLength
        guard frame.count >= bodyStart else { return false }
        let body = UnsafeRawBufferPointer(rebasing: frame[bodyStart...])
        switch request.apiKey {
        case ApiKey.fetch.rawValue:
            return answersFetch(request, body: body, nowNanos: nowNanos)
        case ApiKey.syncGroup.rawValue:
            // Undecodable: the broker answers it with its own error, and the member is not learned.
            if let member = try? SyncGroupMember.decode(body: Array(body), version: request.apiVersion) {
                if syncsInFlight.count >= Self.maxSyncsInFlight { syncsInFlight.removeFirst() }
                syncsInFlight.append((request.correlationId, member))
            }
            return false
        case ApiKey.leaveGroup.rawValue:
            if let leave = try? LeaveGroupMembers.decode(body: Array(body), version: request.apiVersion) {
                actions.append(.memberLeft(groupId: leave.groupId, memberIds: leave.memberIds))
            }
            return false
        case ApiKey.offsetCommit.rawValue where request.apiVersion >= 1:
            guard let commit = try? OffsetCommitRequest.decode(body: Array(body), version: request.apiVersion),
                  policy.mustRefuseCommit(groupId: commit.groupId, memberId: commit.memberId) else { return false }
            let answer = CommitRefusal.offsetCommitResponse(commit.committed, errorCode: CommitRefusal.unknownMemberId,
                                                            version: request.apiVersion)
            refuseCommit(request, answer, group: commit.groupId, member: commit.memberId, nowNanos: nowNanos)
            return true
        case ApiKey.txnOffsetCommit.rawValue where request.apiVersion >= 3:
            guard let commit = try? TxnOffsetCommitRequest.decode(body: Array(body), version: request.apiVersion),
                  policy.mustRefuseCommit(groupId: commit.groupId, memberId: commit.memberId) else { return false }
            let answer = CommitRefusal.txnOffsetCommitResponse(commit.committed, errorCode: CommitRefusal.unknownMemberId,
                                                               version: request.apiVersion)
            refuseCommit(request, answer, group: commit.groupId, member: commit.memberId, nowNanos: nowNanos)
            return true
        default:
            return false
        }
    }

    /// A Fetch of a member that has not rejoined carries old-cluster positions: never forwarded,
    /// answered as a long poll with no data, due at the client's max wait or the member's rejoin.
    private mutating func answersFetch(_ request: ObservedRequest, body: UnsafeRawBufferPointer, nowNanos: UInt64) -> Bool {
        guard let clientId, policy.mustHoldFetch(clientId: clientId),
              let maxWaitMs = FetchEmptyAnswer.maxWaitMs(body: body, version: request.apiVersion) else { return false }
        let waitMs = UInt64(min(max(maxWaitMs, 0), Self.maxFetchAnswerWaitMs))
        if !loggedFetchAnswer {
            loggedFetchAnswer = true
            actions.append(.log(.info, "group member \(clientId) has not rejoined its group on \(settings.cluster): its fetches are answered empty until it has"))
        }
        let frame = KafkaFrame.response(apiKey: request.apiKey, apiVersion: request.apiVersion,
                                        correlationId: request.correlationId,
                                        body: FetchEmptyAnswer.body(version: request.apiVersion))
        answerLocally(request, frame: frame, dueNanos: nowNanos + waitMs * 1_000_000, untilRejoinOf: clientId,
                      nowNanos: nowNanos)
        return true
    }

    private mutating func refuseCommit(_ request: ObservedRequest, _ body: [UInt8], group: String, member: String,
                                       nowNanos: UInt64) {
        let api = request.apiKey == ApiKey.offsetCommit.rawValue ? "OffsetCommit" : "TxnOffsetCommit"
        actions.append(.commitRefused(apiKey: request.apiKey))
        actions.append(.log(.info, "\(api) of group \(group) member \(member) refused with UNKNOWN_MEMBER_ID: the member belongs to another cluster's group, not to \(settings.cluster)'s"))
        let frame = KafkaFrame.response(apiKey: request.apiKey, apiVersion: request.apiVersion,
                                        correlationId: request.correlationId, body: body)
        answerLocally(request, frame: frame, dueNanos: nowNanos, nowNanos: nowNanos)
    }
}
