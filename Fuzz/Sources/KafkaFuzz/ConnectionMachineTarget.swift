import KafkaProtocol
import ProxyCore

/// Facts for the fuzzed connection: every client holds its fetches (and its members, whose ids
/// start with "o", belong to another cluster), producer ids from 1000 up are foreign.
private struct FuzzPolicy: ConnectionPolicy {
    let holdsFetches: Bool
    func mustHoldFetch(clientId: String) -> Bool { holdsFetches }
    func needsTranslation(producerId: Int64) -> Bool { producerId >= 1000 }
    func isMemberOfAnotherCluster(groupId: String, memberId: String) -> Bool { holdsFetches && memberId.hasPrefix("o") }
    func mustRefuseCommit(groupId: String, memberId: String, clientId: String) -> Bool {
        memberId.isEmpty ? holdsFetches : isMemberOfAnotherCluster(groupId: groupId, memberId: memberId)
    }
    func issuedElsewhere(producerId: Int64) -> Bool { producerId >= 1000 }
}

extension FuzzTargets {
    /// Random events against one connection: client and broker bytes in random chunks, timers,
    /// drains, EOFs, backpressure, login steps. Properties: no trap; borrowed bytes always lie in
    /// the chunk of their event; a plain streaming connection forwards exactly a prefix of what
    /// the client sent; after a close nothing more happens.
    static func connectionMachine(_ input: [UInt8]) {
        var control = Control(input)
        let flags = control.byte()
        let login = flags & 1 != 0
        let translates = flags & 2 != 0
        let clearsEpochs = flags & 8 != 0
        let plain = !login && !translates && !clearsEpochs
        var machine = ConnectionMachine(
            settings: .init(route: "bootstrap", cluster: "c", connectTimeoutSeconds: 10, idleTimeoutSeconds: 2,
                            maxRequestBytes: 1 << 16, maxResponseBytes: 1 << 16,
                            loginMechanism: login ? "PLAIN" : nil, translatesProducers: translates,
                            clearsLeaderEpochs: clearsEpochs),
            // A plain connection answers nothing itself: what it forwards is a prefix of what it got.
            policy: FuzzPolicy(holdsFetches: flags & 4 != 0 && !plain))
        var now: UInt64 = 1_000_000_000
        var clientSent: [UInt8] = []
        var brokerGot: [UInt8] = []
        var closed = false
        var chunker = Chunker(seed: control.byte())
        let data = control.rest
        var cursor = 0

        func drain(_ chunk: UnsafeRawBufferPointer?) {
            while let action = machine.nextAction() {
                check(!closed, "an action after close: \(action)")
                func inChunk(_ bytes: UnsafeRawBufferPointer) -> Bool {
                    guard bytes.count > 0 else { return true }
                    guard let chunk, let start = chunk.baseAddress, let base = bytes.baseAddress else { return false }
                    return base >= start && base + bytes.count <= start + chunk.count
                }
                switch action {
                case .sendToBroker(.borrowed(let bytes)):
                    check(inChunk(bytes), "borrowed request bytes outside their chunk")
                    brokerGot += bytes
                case .sendToBroker(.owned(let bytes)):
                    brokerGot += bytes
                case .sendToClient(.borrowed(let bytes)):
                    check(inChunk(bytes), "borrowed response bytes outside their chunk")
                case .close:
                    closed = true
                default:
                    break
                }
            }
        }

        machine.start(nowNanos: now)
        drain(nil)
        machine.resolved(["a:1", "b:2"], lastError: "")
        drain(nil)
        while cursor < data.count, !closed {
            let op = data[cursor] % 12
            cursor += 1
            let n = min(chunker.next(max: 200), data.count - cursor)
            let chunk = Array(data[cursor..<(cursor + n)])
            switch op {
            case 0, 1, 2:
                cursor += n
                if case .relaying = machine.state { clientSent += chunk }
                chunk.withUnsafeBytes { raw in
                    machine.clientRead(raw, nowNanos: now)
                    drain(raw)
                }
            case 3, 4:
                cursor += n
                chunk.withUnsafeBytes { raw in
                    machine.brokerRead(raw, nowNanos: now)
                    drain(raw)
                }
            case 5:
                now += UInt64(chunk.first ?? 1) * 50_000_000
                machine.timerFired(nowNanos: now)
            case 6:
                machine.connected(nowNanos: now)
            case 7:
                machine.connectFailed("refused")
            case 8:
                switch chunk.first ?? 0 {
                case 0..<64: machine.brokerBlocked()
                case 64..<128: machine.brokerDrained()
                case 128..<192: machine.clientBlocked()
                default: machine.clientDrained(nowNanos: now)
                }
            case 9:
                if let frame = chunk.first, frame < 128 {
                    machine.loginRequest([0, 0, 0, 8, 0, 18, 0, 3, 0x80, 0, 0, 0], correlationId: Int32.min,
                                         apiKey: ApiKey.apiVersions.rawValue, apiVersion: 3, nowNanos: now)
                } else if let frame = chunk.first, frame < 200 {
                    machine.loginSucceeded(sessionLifetimeMs: 1000, nowNanos: now)
                } else {
                    machine.reauthenticationTimerFired(nowNanos: now)
                }
            case 10:
                machine.drainRequested(timeoutSeconds: 1, nowNanos: now)
            default:
                if chunk.first.map({ $0 & 1 == 0 }) ?? true {
                    machine.clientEOF(brokerHasPendingOutput: chunk.count > 1, nowNanos: now)
                } else {
                    machine.brokerEOF(nowNanos: now)
                }
            }
            drain(nil)
        }
        if plain {
            check(brokerGot.count <= clientSent.count && Array(clientSent.prefix(brokerGot.count)) == brokerGot,
                  "a plain connection forwarded bytes the client did not send, or out of order")
        }
    }
}
