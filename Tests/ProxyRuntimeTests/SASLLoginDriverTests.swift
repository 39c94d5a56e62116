import Dispatch
import Foundation
import KafkaProtocol
@testable import ProxyRuntime
import ProxySASL
import XCTest
import SASLSettings

/// A mechanism whose first message waits for `gate` (a KDC that does not answer, a slow volume).
private final class BlockingSession: SASLMechanismSession, @unchecked Sendable {
    let mechanism = SASLMechanism.plain
    let gate = DispatchSemaphore(value: 0)
    let entered = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var _ranOn: [String] = []
    var ranOn: [String] { lock.withLock { _ranOn } }
    private(set) var isComplete = false

    func start() throws(SASLError) -> [UInt8] {
        let onLoop = DispatchQueue.getSpecific(key: loopKey) != nil
        lock.withLock { _ranOn.append(onLoop ? "loop" : "off-loop") }
        entered.signal()
        gate.wait()
        isComplete = true
        return Array("\0app\0secret".utf8)
    }

    func step(_ challenge: [UInt8]) throws(SASLError) -> [UInt8]? { nil }
}

private let loopKey = DispatchSpecificKey<Bool>()

/// Collects what a driver delivers, checking it arrives on `queue`.
private final class Deliveries: @unchecked Sendable {
    private let lock = NSLock()
    private var steps: [SaslAuthenticator.Step] = []
    private let arrived = DispatchSemaphore(value: 0)
    let queue: DispatchQueue

    init(queue: DispatchQueue) { self.queue = queue }

    func record(_ step: SaslAuthenticator.Step) {
        dispatchPrecondition(condition: .onQueue(queue))
        lock.withLock { steps.append(step) }
        arrived.signal()
    }

    func next(timeout: Double = 5) -> SaslAuthenticator.Step? {
        guard arrived.wait(timeout: .now() + timeout) == .success else { return nil }
        return lock.withLock { steps.last }
    }

    var count: Int { lock.withLock { steps.count } }
}

private func versions() -> ApiVersionsResponse {
    ApiVersionsResponse(apiKeys: [.init(apiKey: ApiKey.saslHandshake.rawValue, minVersion: 0, maxVersion: 1),
                                  .init(apiKey: ApiKey.saslAuthenticate.rawValue, minVersion: 0, maxVersion: 2)])
}

private func handshakeAnswer(_ correlationId: Int32) -> [UInt8] {
    let body = SaslHandshakeResponse(mechanisms: ["PLAIN"]).encoded(version: 1)
    return Array(KafkaFrame.response(apiKey: ApiKey.saslHandshake.rawValue, apiVersion: 1,
                                     correlationId: correlationId, body: body)[4...])
}

final class SASLLoginDriverTests: XCTestCase {
    private func makeLoop() -> DispatchQueue {
        let loop = DispatchQueue(label: "test.loop")
        loop.setSpecific(key: loopKey, value: true)
        return loop
    }

    private func driver(_ session: BlockingSession, queue: DispatchQueue, executor: BlockingExecutor,
                        timeout: Duration? = nil, made: (@Sendable () -> Void)? = nil,
                        into deliveries: Deliveries) -> LoginDriver {
        let v = versions()
        let session = session
        return LoginDriver(mechanism: .plain, brokerVersions: v, queue: queue, executor: executor, timeout: timeout,
                           makeAuthenticator: {
                               made?()
                               return SaslAuthenticator(mechanism: .plain, brokerVersions: v) { session }
                           },
                           onStep: { deliveries.record($0) })
    }

    /// Drives the login to the point where the mechanism's first message is being made.
    private func startToMechanism(_ login: LoginDriver, _ loop: DispatchQueue, _ deliveries: Deliveries) throws {
        loop.async { login.start() }
        guard case .send(let handshake)? = deliveries.next() else { return XCTFail("no handshake request") }
        XCTAssertEqual(handshake.apiKey, ApiKey.saslHandshake.rawValue)
        loop.sync { XCTAssertEqual(login.awaitingCorrelationId, handshake.correlationId) }
        loop.async { login.receive(handshakeAnswer(handshake.correlationId)) }
    }

    func testABlockingStepRunsOffTheLoopAndItsResultComesBackOnIt() throws {
        let loop = makeLoop()
        let session = BlockingSession()
        let deliveries = Deliveries(queue: loop)
        let login = driver(session, queue: loop, executor: BlockingExecutor(label: "t", width: 2), into: deliveries)
        try startToMechanism(login, loop, deliveries)
        XCTAssertEqual(session.entered.wait(timeout: .now() + 5), .success)
        // The mechanism is blocked; the loop still runs other work at once.
        let ran = DispatchSemaphore(value: 0)
        loop.async { ran.signal() }
        XCTAssertEqual(ran.wait(timeout: .now() + 1), .success, "the loop is blocked by the login step")
        loop.sync {
            XCTAssertNil(login.awaitingCorrelationId)
            XCTAssertTrue(login.waitingDescription.contains("for the PLAIN mechanism"), login.waitingDescription)
        }
        XCTAssertEqual(session.ranOn.last, "off-loop")
        session.gate.signal()
        guard case .send(let authenticate)? = deliveries.next() else { return XCTFail("no SaslAuthenticate") }
        XCTAssertEqual(authenticate.apiKey, ApiKey.saslAuthenticate.rawValue)
        loop.sync { XCTAssertEqual(login.awaitingCorrelationId, authenticate.correlationId) }
    }

    func testCancelDropsThePendingResultAndSkipsAQueuedStep() throws {
        let loop = makeLoop()
        let executor = BlockingExecutor(label: "t", width: 1)
        let first = BlockingSession()
        let firstDeliveries = Deliveries(queue: loop)
        let firstLogin = driver(first, queue: loop, executor: executor, into: firstDeliveries)
        try startToMechanism(firstLogin, loop, firstDeliveries)
        XCTAssertEqual(first.entered.wait(timeout: .now() + 5), .success)

        // The only thread is busy: the second login's first step waits, then its connection goes.
        let made = ManagedAtomicFlag()
        let second = BlockingSession()
        let secondDeliveries = Deliveries(queue: loop)
        let secondLogin = driver(second, queue: loop, executor: executor, made: { made.set() }, into: secondDeliveries)
        loop.sync {
            secondLogin.start()
            XCTAssertTrue(secondLogin.waitingDescription.contains("login threads, all busy"), secondLogin.waitingDescription)
        }
        XCTAssertEqual(executor.queuedCount, 1)
        loop.sync { secondLogin.cancel() }
        // The first connection goes too, while its step runs.
        loop.sync { firstLogin.cancel() }
        first.gate.signal()

        // Both jobs have left the executor: a probe job behind them runs.
        let drained = DispatchSemaphore(value: 0)
        executor.submit { drained.signal() }
        XCTAssertEqual(drained.wait(timeout: .now() + 5), .success)
        loop.sync {}
        XCTAssertFalse(made.isSet, "a cancelled login's queued step ran")
        XCTAssertEqual(firstDeliveries.count, 1, "a cancelled login's result was delivered")
        XCTAssertEqual(secondDeliveries.count, 0)
    }

    func testTimeoutFailsTheLoginSayingWhatItWaitedFor() throws {
        let loop = makeLoop()
        let session = BlockingSession()
        let deliveries = Deliveries(queue: loop)
        let login = driver(session, queue: loop, executor: BlockingExecutor(label: "t", width: 1),
                           timeout: .milliseconds(300), into: deliveries)
        try startToMechanism(login, loop, deliveries)
        guard case .failed(let error)? = deliveries.next() else { return XCTFail("no timeout") }
        XCTAssertEqual(error.kind, .timeout)
        XCTAssertEqual(error.reason, "timeout")
        XCTAssertTrue(error.detail.contains("for the PLAIN mechanism"), error.detail)
        loop.sync { XCTAssertTrue(login.isFinished) }
        // The step finishing later delivers nothing more.
        session.gate.signal()
        Thread.sleep(forTimeInterval: 0.2)
        loop.sync {}
        XCTAssertEqual(deliveries.count, 2)
    }

    func testAResponseWhileAStepRunsFailsTheLogin() throws {
        let loop = makeLoop()
        let session = BlockingSession()
        let deliveries = Deliveries(queue: loop)
        let login = driver(session, queue: loop, executor: BlockingExecutor(label: "t", width: 1), into: deliveries)
        try startToMechanism(login, loop, deliveries)
        XCTAssertEqual(session.entered.wait(timeout: .now() + 5), .success)
        loop.async { login.receive([0, 0, 0, 0]) }
        guard case .failed(let error)? = deliveries.next() else { return XCTFail("no failure") }
        XCTAssertEqual(error.kind, .protocolViolation)
        session.gate.signal()
    }

    func testExecutorRunsAtMostWidthJobsAtOnce() {
        let executor = BlockingExecutor(label: "t", width: 3)
        let lock = NSLock()
        nonisolated(unsafe) var running = 0
        nonisolated(unsafe) var peak = 0
        let done = DispatchGroup()
        for _ in 0..<12 {
            done.enter()
            executor.submit {
                lock.withLock { running += 1; peak = max(peak, running) }
                Thread.sleep(forTimeInterval: 0.02)
                lock.withLock { running -= 1 }
                done.leave()
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(lock.withLock { peak }, 3)
    }
}

private final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
