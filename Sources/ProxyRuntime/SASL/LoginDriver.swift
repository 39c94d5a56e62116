import Dispatch
import KafkaProtocol
import ProxySASL
import Synchronization
import SASLSettings

/// Runs one upstream SASL login off the event loops.
///
/// `SaslAuthenticator`'s steps may block: the mechanism session reads secret files, and for
/// GSSAPI libsasl2 calls into Kerberos, which asks the KDC for tickets synchronously (seconds
/// per attempt when the KDC does not answer). On a loop queue that would freeze every
/// connection of the loop. The driver runs each step on a `BlockingExecutor` and hands the
/// result back on `queue` (the caller's serial queue), always asynchronously, so a step result
/// never arrives in the middle of the caller's own work.
///
///     let login = LoginDriver(credentials: creds, serverHost: "broker-1", brokerVersions: nil,
///                             lane: "primary", queue: connectionQueue) { step in
///         switch step {
///         case .send(let request): write(request.frame)          // then, for its response:
///         case .authenticated: ...                                 //   login.receive(payload)
///         case .failed(let error): ...
///         }
///     }
///     login.start()
///
/// Confined to `queue`: call every method there. The authenticator itself lives in a box that
/// only the step running on the executor touches, and at most one step runs at a time (a new
/// one is only submitted once the previous result is back on `queue`), so it is never used by
/// two threads at once. `cancel()` (the connection went away) drops a pending result, and a
/// step that has not started yet is skipped without touching the authenticator, so hundreds of
/// abandoned logins queued behind a hanging KDC cost nothing.
final class LoginDriver: @unchecked Sendable {
    typealias Step = SaslAuthenticator.Step

    /// What the login waits for, for error messages.
    enum Waiting: Equatable {
        /// Not started, or finished.
        case nothing
        /// A step runs (or waits for a thread) on the executor: the mechanism, secret files, Kerberos.
        case mechanism(sinceNanos: UInt64)
        /// The broker's response to the request with this correlation id.
        case broker(apiKey: Int16, correlationId: Int32, sinceNanos: UInt64)
    }

    let mechanism: SASLMechanism
    private let queue: DispatchQueue
    private let executor: BlockingExecutor
    private let timeout: Duration?
    private var onStep: ((Step) -> Void)?
    private let box: AuthenticatorBox
    private var timer: (any DispatchSourceTimer)?

    // Confined to `queue`.
    private(set) var waiting = Waiting.nothing
    private(set) var isFinished = false
    private var started = false
    private var cancelled = false
    /// The broker's ApiVersions as the authenticator knows them after the newest step (what a
    /// re-authentication starts from).
    private(set) var brokerVersions: ApiVersionsResponse?

    /// `timeout` (optional) bounds the whole login: when it passes first, the step result still
    /// pending is dropped and `onStep` gets `.failed` with kind `.timeout`. `makeAuthenticator`
    /// runs on the executor, with the first step.
    init(mechanism: SASLMechanism, brokerVersions: ApiVersionsResponse?, queue: DispatchQueue,
         executor: BlockingExecutor, timeout: Duration? = nil,
         makeAuthenticator: @escaping @Sendable () -> SaslAuthenticator,
         onStep: @escaping (Step) -> Void) {
        self.mechanism = mechanism
        self.brokerVersions = brokerVersions
        self.queue = queue
        self.executor = executor
        self.timeout = timeout
        self.onStep = onStep
        box = AuthenticatorBox(make: makeAuthenticator)
    }

    deinit {
        timer?.cancel()
    }

    /// The usual form: the login of one upstream connection to a cluster (`lane`: the cluster's
    /// name, so each cluster has its own threads).
    convenience init(credentials: SASLCredentials, serverHost: String, brokerVersions: ApiVersionsResponse?,
                     clientId: String? = "kafka-proxy",
                     firstCorrelationId: Int32 = SaslAuthenticator.defaultFirstCorrelationId,
                     lane: String, queue: DispatchQueue, timeout: Duration? = nil,
                     onStep: @escaping (Step) -> Void) {
        self.init(mechanism: credentials.mechanism, brokerVersions: brokerVersions, queue: queue,
                  executor: .logins(lane: lane), timeout: timeout,
                  makeAuthenticator: {
                      SaslAuthenticator(credentials: credentials, serverHost: serverHost, brokerVersions: brokerVersions,
                                        clientId: clientId, firstCorrelationId: firstCorrelationId)
                  },
                  onStep: onStep)
    }

    /// The correlation id of the broker response the login waits for (nil while a step runs).
    var awaitingCorrelationId: Int32? {
        if case .broker(_, let c, _) = waiting { return c }
        return nil
    }

    /// Runs the authenticator's first step. Call once.
    func start() {
        guard !started, !cancelled else { return }
        started = true
        if let timeout {
            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.setEventHandler { [weak self] in self?.timedOut() }
            timer.schedule(deadline: .now() + timeout.dispatchInterval, leeway: .milliseconds(50))
            timer.activate()
            self.timer = timer
        }
        run { auth in auth.start() }
    }

    /// The broker's response to the request of the last `.send` step (the frame after its size).
    func receive(_ payload: [UInt8]) {
        guard !isFinished, !cancelled else { return }
        guard awaitingCorrelationId != nil else {
            // The step still running must not be followed by another; the failure is delivered
            // like every result, after the caller's current work.
            box.cancelled.store(true, ordering: .releasing)
            let error = SASLError(.protocolViolation, mechanism: mechanism,
                                  detail: "a response arrived while the login was not waiting for one")
            queue.async { [self] in
                guard !cancelled, !isFinished else { return }
                finish(.failed(error))
            }
            return
        }
        run { auth in auth.receive(payload) }
    }

    /// The connection is gone: nothing more is delivered; a step not yet started never runs.
    func cancel() {
        guard !cancelled else { return }
        cancelled = true
        box.cancelled.store(true, ordering: .releasing)
        stopTimer()
        onStep = nil
        waiting = .nothing
    }

    /// "waiting 9.8 s for the GSSAPI mechanism (Kerberos: the KDC; secret files)" and the like.
    var waitingDescription: String {
        let now = DispatchTime.now().uptimeNanoseconds
        func seconds(_ since: UInt64) -> String {
            let tenths = (now &- since) / 100_000_000
            return "\(tenths / 10).\(tenths % 10) s"
        }
        switch waiting {
        case .nothing:
            return isFinished ? "finished" : "not started"
        case .mechanism(let since):
            let running = box.stepStartedNanos.load(ordering: .relaxed)
            guard running != 0 else {
                return "waiting \(seconds(since)) for one of the \(executor.width) login threads, all busy with other logins"
            }
            let what = mechanism == .gssapi ? "Kerberos, which asks the KDC for tickets" : "secret files"
            let queued = running > since + 100_000_000 ? ", \(seconds(since)) since it was queued" : ""
            return "waiting \(seconds(running)) for the \(mechanism.rawValue) mechanism (\(what))\(queued)"
        case .broker(let apiKey, let c, let since):
            return "waiting \(seconds(since)) for the broker's \(ApiKey(apiKey)) response (correlation id \(c))"
        }
    }

    // MARK: steps

    private func run(_ work: @escaping @Sendable (inout SaslAuthenticator) -> Step) {
        waiting = .mechanism(sinceNanos: DispatchTime.now().uptimeNanoseconds)
        let box = self.box
        box.stepStartedNanos.store(0, ordering: .relaxed)
        let queue = self.queue
        // The job keeps the driver until its result is back (a cancelled driver drops it there).
        executor.submit { [self] in
            // Skipped, not run, when the connection gave up while the job waited for a thread.
            guard !box.cancelled.load(ordering: .acquiring) else { return }
            box.stepStartedNanos.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
            let (step, versions) = box.step(work)
            queue.async { [self] in deliver(step, brokerVersions: versions) }
        }
    }

    private func deliver(_ step: Step, brokerVersions: ApiVersionsResponse?) {
        guard !cancelled, !isFinished else { return }
        self.brokerVersions = brokerVersions
        switch step {
        case .send(let request):
            waiting = .broker(apiKey: request.apiKey, correlationId: request.correlationId,
                              sinceNanos: DispatchTime.now().uptimeNanoseconds)
            onStep?(step)
        case .authenticated, .failed:
            finish(step)
        }
    }

    private func timedOut() {
        guard !cancelled, !isFinished, let timeout else { return }
        let detail = "the login did not finish within \(timeout.components.seconds) s (\(waitingDescription))"
        // A step still running holds the authenticator; it must not start another one later.
        box.cancelled.store(true, ordering: .releasing)
        finish(.failed(SASLError(.timeout, mechanism: mechanism, detail: detail)))
    }

    private func finish(_ step: Step) {
        isFinished = true
        waiting = .nothing
        stopTimer()
        let handler = onStep
        onStep = nil
        handler?(step)
    }

    private func stopTimer() {
        timer?.cancel()
        timer?.setEventHandler(handler: nil)
        timer = nil
    }
}

/// The authenticator, touched only by the one step running on the executor.
private final class AuthenticatorBox: @unchecked Sendable {
    let cancelled = Atomic<Bool>(false)
    /// When the current step began to run on a thread (0: still queued), for error messages.
    let stepStartedNanos = Atomic<UInt64>(0)
    private let make: @Sendable () -> SaslAuthenticator
    private var authenticator: SaslAuthenticator?

    init(make: @escaping @Sendable () -> SaslAuthenticator) {
        self.make = make
    }

    func step(_ work: (inout SaslAuthenticator) -> SaslAuthenticator.Step) -> (SaslAuthenticator.Step, ApiVersionsResponse?) {
        var auth = authenticator ?? make()
        authenticator = nil
        let step = work(&auth)
        let versions = auth.brokerVersions
        // A finished login lets go of its mechanism session (libsasl2 connection) right here.
        if !auth.isFinished { authenticator = auth }
        return (step, versions)
    }
}

extension Duration {
    var dispatchInterval: DispatchTimeInterval {
        let (seconds, attoseconds) = components
        guard seconds < Int64(Int.max / 1_000_000_000) else { return .never }
        return .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
    }
}
