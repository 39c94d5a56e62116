/// Bytes a connection writes to one of its sockets.
public enum OutgoingBytes {
    /// A range of the chunk being handled: valid only until the executor returns to the machine
    /// with the next event. Pass-through traffic goes out this way, without a copy.
    case borrowed(UnsafeRawBufferPointer)
    /// Bytes the machine made or collected (a rewritten response, a login request, a patched Produce).
    case owned([UInt8])
    /// The checked first 8 bytes (size, correlation id; big endian) of a pass-through response that
    /// began in an earlier read.
    case prefix(UInt64)
}

/// What the executor of a `ConnectionMachine` does, in order.
public enum ConnectionAction {
    /// Resolve the route's upstream names off the loop; answer with `resolved` or `resolveFailed`.
    case resolve
    /// Open a socket to the resolved target with this index (TLS as the cluster says); answer with
    /// `connected` or `connectFailed`.
    case dial(target: Int)
    /// Close the broker connection (a move: the same route is dialled on another cluster next).
    case closeBroker
    /// Start a SASL login (or a KIP-368 re-authentication) off the loop; its steps come back as `loginStepped`.
    case startLogin(reauthentication: Bool, firstCorrelationId: Int32)
    /// The broker's answer to a login request: hand it to the login driver (off the loop).
    case loginResponse([UInt8])
    /// Metrics and log; a positive lifetime means re-authenticating before it ends
    /// (`reauthenticationTimerFired`).
    case loginSucceeded(reauthentication: Bool, sessionLifetimeMs: Int64)
    case loginFailed(reason: String)

    case sendToBroker(OutgoingBytes)
    case sendToClient(OutgoingBytes)
    /// A response whose broker addresses (or API versions) the executor rewrites, then sends to the
    /// client as a frame. `payload` excludes the size prefix.
    case rewriteToClient(InflightRequest, payload: [UInt8])
    /// The proxy answers a client's own SaslHandshake/SaslAuthenticate with an error.
    case refuseClientSASL(apiKey: Int16, apiVersion: Int16, correlationId: Int32)

    case pauseClient
    case resumeClient
    case pauseBroker
    case resumeBroker
    /// Fire `timerFired` at this monotonic time (replaces any earlier deadline).
    case schedule(deadlineNanos: UInt64)

    /// A request went to the broker (metrics, tracing).
    case requestSeen(ObservedRequest)
    /// A response was matched to its request; `latencyNanos` since the request was seen;
    /// `payload` when the machine collected it whole (nil for a streamed response).
    case responseSeen(InflightRequest, frameBytes: Int, latencyNanos: UInt64, payload: [UInt8]?)
    /// SyncGroup succeeded: the member has its assignment on this connection's cluster.
    case memberSynced(groupId: String, memberId: String, generation: Int32, clientId: String)
    /// A LeaveGroup for these members went to the broker.
    case memberLeft(groupId: String, memberIds: [String])
    /// The proxy answered an OffsetCommit or TxnOffsetCommit (api key) with an error itself.
    case commitRefused(apiKey: Int16)
    /// This cluster issued a producer id to a client (InitProducerId answer relayed).
    case producerIdIssued(Int64)
    /// The connection stands in for a producer id another cluster issued.
    case producerMoved(Int64)
    /// The proxy refused a transactional request carrying another cluster's producer id (metrics).
    case transactionRefused(apiKey: Int16)
    case log(CloseSeverity, String)

    // Boxed: a reason is much larger than the other actions, and comes once per connection.
    indirect case close(CloseReason)
    /// Close once the client's queued output is written (at once when nothing is queued).
    indirect case closeWhenFlushed(CloseReason)
}

/// FIFO of actions; keeps its storage, so steady traffic appends without allocating. It starts
/// empty: an idle connection holds only what its busiest event needed.
///
/// Actions are moved out of their slot (`take`), not copied: a copy retained each payload and
/// the emptied array released it again, element by element, after every event. Inlinable, with
/// `ConnectionMachine.nextAction`: the executor pops every action from another module.
@usableFromInline
struct ActionQueue {
    @usableFromInline var slots: [ConnectionAction?] = []
    @usableFromInline var head = 0
    /// Slots before `tail` hold queued actions (from `head` on); the rest are empty and reused.
    @usableFromInline var tail = 0

    @usableFromInline init() {}

    var isEmpty: Bool { head == tail }

    mutating func append(_ action: ConnectionAction) {
        if tail < slots.count {
            slots[tail] = action
        } else {
            slots.append(action)
        }
        tail += 1
    }

    @inlinable
    mutating func popFirst() -> ConnectionAction? {
        guard head < tail else { return nil }
        let action = slots[head].take()
        head += 1
        if head == tail {
            head = 0
            tail = 0
        }
        return action
    }

    /// Owned bytes for one side, joined to the last owned send to that side still queued when
    /// only request/response notes stand after it: re-framed requests and mapped responses of one
    /// read then go out in one write, as pass-through bytes do.
    mutating func appendJoiningOwned(_ bytes: [UInt8], toBroker: Bool) {
        if let index = lastSend(toBroker: toBroker) {
            switch slots[index] {
            case .sendToBroker(.owned(var joined))?, .sendToClient(.owned(var joined))?:
                slots[index] = nil     // drop the queue's reference: `joined` grows in place
                joined.append(contentsOf: bytes)
                slots[index] = toBroker ? .sendToBroker(.owned(joined)) : .sendToClient(.owned(joined))
                return
            default:
                break
            }
        }
        append(toBroker ? .sendToBroker(.owned(bytes)) : .sendToClient(.owned(bytes)))
    }

    /// Pass-through bytes for one side: when they continue, in memory, the last borrowed send to that
    /// side still queued (only request/response notes after it), that send grows to cover them. The
    /// frames a framing connection forwards from one read then go out in one write, as streamed bytes do.
    mutating func appendJoiningBorrowed(_ bytes: UnsafeRawBufferPointer, toBroker: Bool) {
        if let index = lastSend(toBroker: toBroker) {
            switch slots[index] {
            case .sendToBroker(.borrowed(let last))?, .sendToClient(.borrowed(let last))?:
                if let joined = Self.joined(last, bytes) {
                    slots[index] = toBroker ? .sendToBroker(.borrowed(joined)) : .sendToClient(.borrowed(joined))
                    return
                }
            default:
                break
            }
        }
        append(toBroker ? .sendToBroker(.borrowed(bytes)) : .sendToClient(.borrowed(bytes)))
    }

    /// The slot of the last queued send to that side, when only request/response notes stand after it.
    private func lastSend(toBroker: Bool) -> Int? {
        var index = tail - 1
        while index >= head {
            switch slots[index] {
            case .requestSeen?, .responseSeen?:
                index -= 1
            case .sendToBroker? where toBroker, .sendToClient? where !toBroker:
                return index
            default:
                return nil
            }
        }
        return nil
    }

    private static func joined(_ first: UnsafeRawBufferPointer, _ next: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let start = first.baseAddress, let nextStart = next.baseAddress, start + first.count == nextStart else {
            return nil
        }
        return UnsafeRawBufferPointer(start: start, count: first.count + next.count)
    }

    mutating func removeAll() {
        for i in head..<tail { slots[i] = nil }
        head = 0
        tail = 0
    }
}
