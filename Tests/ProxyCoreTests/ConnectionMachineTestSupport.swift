import KafkaProtocol
@testable import ProxyCore
import Synchronization

/// Facts the tests set: which members must rejoin, which producer ids are foreign, which member ids
/// another cluster gave.
final class FakePolicy: ConnectionPolicy {
    private let state = Mutex<(hold: Set<String>, foreign: Set<Int64>, strangers: Set<String>)>(([], [], []))

    func holdFetches(of clientId: String, _ hold: Bool) {
        state.withLock { if hold { $0.hold.insert(clientId) } else { $0.hold.remove(clientId) } }
    }

    func markForeign(_ producerId: Int64) { _ = state.withLock { $0.foreign.insert(producerId) } }
    func markStranger(group: String, memberId: String) { _ = state.withLock { $0.strangers.insert(group + "/" + memberId) } }

    func mustHoldFetch(clientId: String) -> Bool { state.withLock { $0.hold.contains(clientId) } }
    func needsTranslation(producerId: Int64) -> Bool { state.withLock { $0.foreign.contains(producerId) } }
    func issuedElsewhere(producerId: Int64) -> Bool { state.withLock { $0.foreign.contains(producerId) } }
    func isMemberOfAnotherCluster(groupId: String, memberId: String) -> Bool {
        state.withLock { $0.strangers.contains(groupId + "/" + memberId) }
    }
    func mustRefuseCommit(groupId: String, memberId: String, clientId: String) -> Bool {
        memberId.isEmpty ? mustHoldFetch(clientId: clientId) : isMemberOfAnotherCluster(groupId: groupId, memberId: memberId)
    }
}

/// An action with its bytes copied out, so tests can compare and keep it.
enum Recorded: Equatable {
    case resolve
    case closeBroker
    case dial(Int)
    case startLogin(reauthentication: Bool)
    case loginResponse
    case loginSucceeded(reauthentication: Bool)
    case loginFailed(String)
    case toBroker([UInt8])
    case toClient([UInt8])
    case rewrite(apiKey: Int16, correlationId: Int32)
    case refuseSASL(apiKey: Int16, correlationId: Int32)
    case pauseClient, resumeClient, pauseBroker, resumeBroker
    case schedule(UInt64)
    case requestSeen(Int32)
    case responseSeen(Int32)
    case memberSynced(group: String, memberId: String, generation: Int32, clientId: String)
    case memberLeft(group: String, memberIds: [String])
    case commitRefused(Int16)
    case producerIdIssued(Int64)
    case producerMoved(Int64)
    case transactionRefused(Int16)
    case log(String)
    case close(CloseReason)
    case closeWhenFlushed(CloseReason)

    init(_ action: ConnectionAction) {
        func bytes(_ out: OutgoingBytes) -> [UInt8] {
            switch out {
            case .borrowed(let b): return Array(b)
            case .owned(let b): return b
            case .prefix(let p): return withUnsafeBytes(of: p.bigEndian) { Array($0) }
            }
        }
        switch action {
        case .resolve: self = .resolve
        case .closeBroker: self = .closeBroker
        case .dial(let t): self = .dial(t)
        case .startLogin(let r, _): self = .startLogin(reauthentication: r)
        case .loginResponse: self = .loginResponse
        case .loginSucceeded(let r, _): self = .loginSucceeded(reauthentication: r)
        case .loginFailed(let r): self = .loginFailed(r)
        case .sendToBroker(let o): self = .toBroker(bytes(o))
        case .sendToClient(let o): self = .toClient(bytes(o))
        case .rewriteToClient(let r, _): self = .rewrite(apiKey: r.apiKey, correlationId: r.correlationId)
        case .refuseClientSASL(let k, _, let c): self = .refuseSASL(apiKey: k, correlationId: c)
        case .pauseClient: self = .pauseClient
        case .resumeClient: self = .resumeClient
        case .pauseBroker: self = .pauseBroker
        case .resumeBroker: self = .resumeBroker
        case .schedule(let d): self = .schedule(d)
        case .requestSeen(let r): self = .requestSeen(r.correlationId)
        case .responseSeen(let r, _, _, _): self = .responseSeen(r.correlationId)
        case .memberSynced(let g, let m, let gen, let c): self = .memberSynced(group: g, memberId: m, generation: gen, clientId: c)
        case .memberLeft(let g, let m): self = .memberLeft(group: g, memberIds: m)
        case .commitRefused(let k): self = .commitRefused(k)
        case .producerIdIssued(let p): self = .producerIdIssued(p)
        case .producerMoved(let p): self = .producerMoved(p)
        case .transactionRefused(let k): self = .transactionRefused(k)
        case .log(_, let m): self = .log(m)
        case .close(let r): self = .close(r)
        case .closeWhenFlushed(let r): self = .closeWhenFlushed(r)
        }
    }

    var isBytes: Bool {
        switch self {
        case .toBroker, .toClient: return true
        default: return false
        }
    }
}

/// Drives a machine with a manual clock and records what it asks for.
struct MachineDriver {
    var machine: ConnectionMachine
    var now: UInt64 = 1_000_000_000
    /// Raw actions of the last step, for tests about how bytes go out (borrowed or owned).
    var lastRaw: [ConnectionAction] = []

    static let second: UInt64 = 1_000_000_000

    init(login: String? = nil, translates: Bool = false, clearsLeaderEpochs: Bool = false, policy: FakePolicy = FakePolicy(),
         idleSeconds: Int = 30, maxRequestBytes: Int = 1 << 20) {
        machine = ConnectionMachine(
            settings: Self.settings(cluster: "primary", login: login, translates: translates,
                                    clearsLeaderEpochs: clearsLeaderEpochs, idleSeconds: idleSeconds,
                                    maxRequestBytes: maxRequestBytes),
            policy: policy)
    }

    static func settings(cluster: String, login: String? = nil, translates: Bool = false, clearsLeaderEpochs: Bool = false,
                         idleSeconds: Int = 30, maxRequestBytes: Int = 1 << 20,
                         topicPrefix: String? = nil) -> ConnectionMachine.Settings {
        .init(route: "bootstrap", cluster: cluster, connectTimeoutSeconds: 10, idleTimeoutSeconds: idleSeconds,
              maxRequestBytes: maxRequestBytes, maxResponseBytes: 1 << 20, loginMechanism: login,
              translatesProducers: translates, clearsLeaderEpochs: clearsLeaderEpochs, topicPrefix: topicPrefix)
    }

    mutating func drain() -> [Recorded] {
        lastRaw = []
        var out: [Recorded] = []
        while let action = machine.nextAction() {
            lastRaw.append(action)
            out.append(Recorded(action))
        }
        return out
    }

    mutating func advance(seconds: Double) { now += UInt64(seconds * 1e9) }

    /// start → resolved → connected, actions discarded.
    mutating func relaying(targets: [String] = ["broker-0:9092"]) {
        machine.start(nowNanos: now)
        machine.resolved(targets, lastError: "")
        machine.connected(nowNanos: now)
        _ = drain()
    }

    mutating func client(_ bytes: [UInt8]) -> [Recorded] {
        bytes.withUnsafeBytes { machine.clientRead($0, nowNanos: now) }
        return drain()
    }

    mutating func broker(_ bytes: [UInt8]) -> [Recorded] {
        bytes.withUnsafeBytes { machine.brokerRead($0, nowNanos: now) }
        return drain()
    }

    mutating func timer() -> [Recorded] {
        machine.timerFired(nowNanos: now)
        return drain()
    }
}

extension Array where Element == Recorded {
    var toBroker: [UInt8] { flatMap { if case .toBroker(let b) = $0 { return b } else { return [] } } }
    var toClient: [UInt8] { flatMap { if case .toClient(let b) = $0 { return b } else { return [] } } }
    var closeReason: CloseReason? {
        for r in self { if case .close(let reason) = r { return reason }; if case .closeWhenFlushed(let reason) = r { return reason } }
        return nil
    }
    func has(_ r: Recorded) -> Bool { contains(r) }
}

enum Frames {
    static func apiVersions(_ correlationId: Int32) -> [UInt8] {
        StreamFixtures.request(.apiVersions, 3, correlationId: correlationId,
                               body: [0x05] + Array("swift".utf8) + [0x04] + Array("1.0".utf8) + [0])
    }

    static func produce(_ correlationId: Int32, acks: Int16 = 1) -> [UInt8] {
        StreamFixtures.produce(version: 9, correlationId: correlationId, acks: acks)
    }

    static func fetch(_ correlationId: Int32) -> [UInt8] {
        StreamFixtures.request(.fetch, 4, correlationId: correlationId, body: Array(repeating: 0x11, count: 40))
    }

    static func response(_ correlationId: Int32, bodyBytes: Int = 20) -> [UInt8] {
        StreamFixtures.opaqueResponse(correlationId: correlationId, bodyBytes: bodyBytes)
    }

    static func saslHandshake(_ correlationId: Int32) -> [UInt8] {
        StreamFixtures.request(.saslHandshake, 1, correlationId: correlationId, body: [0, 5] + Array("PLAIN".utf8))
    }

    /// A Produce v9 whose one batch belongs to `producerId` (idempotent: sequence set).
    static func idempotentProduce(_ correlationId: Int32, producerId: Int64, sequence: Int32) -> [UInt8] {
        let batch = RecordBatchBuilder(baseTimestamp: 1_700_000_000_000).build([Record(key: nil, value: Array("v".utf8))])
        let frame = KafkaFrame.request(
            header: RequestHeader(apiKey: ApiKey.produce.rawValue, apiVersion: 9, correlationId: correlationId, clientId: "p"),
            body: ProduceRequest(topic: "t", partition: 0, records: batch, acks: -1).encoded(version: 9))
        var payload = Array(frame[4...])
        let header = try! payload.withUnsafeBytes { try RequestHeader.peek($0) }!
        let located = try! ProduceRequestBatches.locate(payload: payload, headerLength: header.headerLength, version: 9)[0]
        ProduceRequestBatches.patch(&payload, batch: located, producerId: producerId, producerEpoch: 0, baseSequence: sequence)
        return Array(frame[..<4]) + payload
    }

    static func initProducerIdResponse(_ correlationId: Int32, producerId: Int64, epoch: Int16) -> [UInt8] {
        var w = ByteWriter()
        w.writeInt32(0)          // throttle
        w.writeInt16(0)          // error
        w.writeInt64(producerId)
        w.writeInt16(epoch)
        return KafkaFrame.response(apiKey: ApiKey.initProducerId.rawValue, apiVersion: 0, correlationId: correlationId, body: w.bytes)
    }
}
