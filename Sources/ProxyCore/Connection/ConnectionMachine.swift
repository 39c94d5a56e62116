import KafkaProtocol

/// One proxied connection — a client socket and the broker socket it is relayed to — as a state
/// machine: events in (bytes read, connected, EOF, timer, drain, login steps), actions out (dial,
/// send to either side, pause or resume a side, schedule a deadline, close with a reason).
///
/// It owns both framers and the in-flight queue, so every rule of a connection is decided here
/// and tested without sockets; the executor (`ProxySession`) only carries actions out. Time is
/// passed in with each event. After each event the executor drains `nextAction()` before it
/// hands the machine anything else: borrowed byte ranges in actions point into the chunk of that
/// event.
///
/// Not thread-safe: owned by one connection and used on its queue.
public struct ConnectionMachine {
    public struct Settings: Sendable {
        /// For log lines: "bootstrap" or "broker port N".
        public var route: String
        public var cluster: String
        public var connectTimeoutSeconds: Int
        public var idleTimeoutSeconds: Int
        public var maxRequestBytes: Int
        public var maxResponseBytes: Int
        /// The SASL mechanism when the cluster has `sasl:`: the proxy logs in before relaying and
        /// answers a client's own SASL requests itself.
        public var loginMechanism: String?
        /// Producers of another cluster may arrive (after a switch): Produce batches are translated.
        public var translatesProducers: Bool
        /// Metadata hides leader epochs (more than one cluster): Fetch requests carry none either.
        public var clearsLeaderEpochs: Bool
        /// How long a client that closed waits for its requests to reach the broker.
        public var flushSeconds: Int
        /// The cluster's `topicPrefix`: requests and responses that carry topic names are mapped.
        public var topicPrefix: String?
        /// On a plain listener: whether undecodable first bytes are a TLS ClientHello (said so in the log).
        public var sniffsTLSClientHello: (@Sendable (UnsafeRawBufferPointer) -> Bool)?

        public init(route: String, cluster: String, connectTimeoutSeconds: Int, idleTimeoutSeconds: Int,
                    maxRequestBytes: Int, maxResponseBytes: Int, loginMechanism: String? = nil,
                    translatesProducers: Bool = false, clearsLeaderEpochs: Bool = false, flushSeconds: Int = 5,
                    topicPrefix: String? = nil, sniffsTLSClientHello: (@Sendable (UnsafeRawBufferPointer) -> Bool)? = nil) {
            self.route = route
            self.cluster = cluster
            self.connectTimeoutSeconds = connectTimeoutSeconds
            self.idleTimeoutSeconds = idleTimeoutSeconds
            self.maxRequestBytes = maxRequestBytes
            self.maxResponseBytes = maxResponseBytes
            self.loginMechanism = loginMechanism
            self.translatesProducers = translatesProducers
            self.clearsLeaderEpochs = clearsLeaderEpochs
            self.flushSeconds = flushSeconds
            self.topicPrefix = topicPrefix
            self.sniffsTLSClientHello = sniffsTLSClientHello
        }
    }

    /// Why client requests wait while the connection relays.
    public enum Hold: Sendable, Equatable {
        case none
        /// A KIP-368 re-authentication runs: no client request may go between its requests.
        case reauthenticating
        /// A producer id from this cluster is being obtained for a producer another cluster issued.
        case producerId(ProducerIdTranslator.ClientProducer)
        /// A client's own SaslHandshake/SaslAuthenticate waits for the responses before it.
        case clientSASL
    }

    public enum DrainReason: Sendable, Equatable {
        /// A switch, a changed cluster or shutdown: deliver what is in flight, then close.
        case requested
        /// The client closed: what it sent is still being written to the broker.
        case clientClosed
        /// A switch keeps the client connection: once the responses in flight are in, the same
        /// route is connected on the new cluster underneath it.
        case moving
    }

    public enum State: Sendable, Equatable {
        case idle
        case resolving
        case connecting
        /// The first SASL login, before any client byte is relayed.
        case authenticating
        case relaying(Hold)
        case draining(deadlineNanos: UInt64, why: DrainReason)
        // Boxed: the reason is large and every connection carries its state while it lives.
        indirect case closed(CloseReason)
    }

    public private(set) var settings: Settings
    var policy: any ConnectionPolicy
    public internal(set) var state: State = .idle

    @usableFromInline var actions = ActionQueue()
    var requests: RequestRelay
    var responses: ResponseRelay
    /// Small at first: most connections keep a few requests in flight; the ring grows when one needs more.
    public internal(set) var inflight = InflightQueue(capacity: 4)
    var strays = StrayResponses()
    var translator = ProducerIdTranslator()
    var topicNames: TopicNames
    /// InitProducerId requests sent on with another cluster's producer id cleared, by correlation
    /// id: the id and epoch the client had (TransactionGuard.refuseUnchangedProducer).
    var clearedProducers: [Int32: ProducerIdTranslator.ClientProducer] = [:]

    /// Names of the resolved targets, in dialling order, and the one dialled now.
    var targets: [String] = []
    var target = -1
    var lastConnectError = ""
    public var upstreamName: String { target >= 0 && target < targets.count ? targets[target] : "" }

    var connectDeadline: UInt64 = 0
    /// Last whole request or response read: a byte now and then is not activity (slow loris).
    var lastActivity: UInt64 = 0
    var idleNanos: UInt64 { UInt64(settings.idleTimeoutSeconds) * 1_000_000_000 }

    /// The client's client.id, from its first request.
    public internal(set) var clientId: String?
    var nextProxyCorrelationId = Int32.min
    var reauthenticationDue = false
    var loginInProgress = false
    var reauthenticating = false
    /// Highest InitProducerId version the broker offers; v0-4 are the layouts this proxy encodes.
    var initProducerIdVersion: Int16 = 0
    /// Client closed after refusing its SaslAuthenticate; nothing more is read.
    var closingAfterRefusal = false
    /// Between a move's start and relaying on the new cluster: client bytes are kept, not dropped.
    var isMoving = false
    /// Answers the proxy gives itself, in the order of their entries in `inflight`.
    var localAnswers: [LocalAnswer] = []
    /// A local answer that is not due yet heads the queue: the broker is not read meanwhile.
    var brokerParked = false
    /// Broker bytes read before the broker was paused, kept until the local answer has gone out.
    var parkedResponses: [UInt8] = []
    /// SyncGroup requests in flight: which member each answer is for.
    var syncsInFlight: [(correlationId: Int32, member: SyncGroupMember)] = []
    /// One log line per connection for the fetches answered while its member rejoins.
    var loggedFetchAnswer = false

    public init(settings: Settings, policy: any ConnectionPolicy) {
        self.settings = settings
        self.policy = policy
        topicNames = TopicNames(prefix: settings.topicPrefix)
        let framing = settings.loginMechanism != nil || settings.translatesProducers || settings.clearsLeaderEpochs
            || settings.topicPrefix != nil
        requests = RequestRelay(maxFrameBytes: settings.maxRequestBytes, mode: framing ? .framing : .streaming)
        responses = ResponseRelay(maxFrameBytes: settings.maxResponseBytes)
    }

    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// The next thing to do, in order; nil when everything decided so far is done.
    @inlinable public mutating func nextAction() -> ConnectionAction? { actions.popFirst() }

    // MARK: connecting

    public mutating func start(nowNanos: UInt64) {
        guard case .idle = state else { return }
        state = .resolving
        connectDeadline = nowNanos + UInt64(settings.connectTimeoutSeconds) * 1_000_000_000
        actions.append(.schedule(deadlineNanos: connectDeadline))
        actions.append(.resolve)
    }

    /// `names`: one per resolved address, in the order to try them.
    public mutating func resolved(_ names: [String], lastError: String) {
        guard case .resolving = state else { return }
        lastConnectError = lastError
        targets = names
        target = -1
        guard !names.isEmpty else {
            close(.upstreamUnreachable(route: settings.route, detail: lastError, dialled: false))
            return
        }
        state = .connecting
        dialNext()
    }

    private mutating func dialNext() {
        target += 1
        guard target < targets.count else {
            target = targets.count - 1
            close(.upstreamUnreachable(route: settings.route, detail: lastConnectError, dialled: true))
            return
        }
        actions.append(.dial(target: target))
    }

    /// The target could not be opened (socket, connect, TLS start): the next one is tried.
    public mutating func connectFailed(_ detail: String) {
        guard case .connecting = state else { return }
        lastConnectError = detail
        dialNext()
    }

    /// The broker connection is ready (TCP, and TLS when configured).
    public mutating func connected(nowNanos: UInt64) {
        guard case .connecting = state else { return }
        if settings.loginMechanism != nil {
            state = .authenticating
            startLogin(reauthentication: false)
            actions.append(.resumeBroker)
            return
        }
        startRelaying(nowNanos: nowNanos)
    }

    mutating func startRelaying(nowNanos: UInt64) {
        state = .relaying(.none)
        lastActivity = nowNanos
        actions.append(.schedule(deadlineNanos: nowNanos + idleNanos))
        if isMoving {
            // What the client sent during the move goes out first, in order.
            isMoving = false
            relayRequests(UnsafeRawBufferPointer(start: nil, count: 0), nowNanos: nowNanos)
            guard case .relaying(.none) = state else {
                actions.append(.resumeBroker)
                return
            }
        }
        actions.append(.resumeClient)
        actions.append(.resumeBroker)
    }

    // MARK: draining and closing

    /// Stop reading requests, deliver the responses in flight, then close, within `timeoutSeconds`.
    public mutating func drainRequested(timeoutSeconds: Int, nowNanos: UInt64) {
        switch state {
        case .idle, .resolving, .connecting, .authenticating:
            close(.drainedWhileConnecting)
        case .relaying:
            let deadline = nowNanos + UInt64(timeoutSeconds) * 1_000_000_000
            state = .draining(deadlineNanos: deadline, why: .requested)
            actions.append(.pauseClient)
            actions.append(.schedule(deadlineNanos: timerDeadline(deadline, nowNanos: nowNanos)))
            closeIfDrained(nowNanos: nowNanos)
        case .draining(_, .moving):
            // Shutdown while moving: the responses in flight still go out, then the connection closes.
            let deadline = nowNanos + UInt64(timeoutSeconds) * 1_000_000_000
            state = .draining(deadlineNanos: deadline, why: .requested)
            actions.append(.schedule(deadlineNanos: timerDeadline(deadline, nowNanos: nowNanos)))
            closeIfDrained(nowNanos: nowNanos)
        case .draining, .closed:
            break
        }
    }

    /// A switch that keeps the client connection: stop taking requests, let the responses in flight
    /// arrive (within `timeoutSeconds`), then dial the same route on the cluster `settings` names.
    /// Connections still being set up just close: their clients reconnect at once.
    /// `awaitsResponses` false (the old cluster stopped answering): a connection with responses
    /// outstanding closes at once rather than wait for answers that will not come.
    public mutating func moveRequested(settings: Settings, policy: any ConnectionPolicy, timeoutSeconds: Int,
                                       awaitsResponses: Bool = true, nowNanos: UInt64) {
        switch state {
        case .relaying, .draining(_, .moving):
            if !awaitsResponses, !inflight.isEmpty || !responses.isAtFrameBoundary {
                close(.clusterUnhealthy(cluster: self.settings.cluster, outstanding: inflight.count))
                return
            }
            self.settings = settings
            self.policy = policy
            // Producers of the old cluster must be translated from the first Produce on, onto ids
            // of the new one: stand-ins of another cluster mean nothing there.
            self.settings.translatesProducers = true
            translator = ProducerIdTranslator()
            requests.mode = .framing
            isMoving = true
            let deadline = nowNanos + UInt64(timeoutSeconds) * 1_000_000_000
            state = .draining(deadlineNanos: deadline, why: .moving)
            actions.append(.pauseClient)
            actions.append(.schedule(deadlineNanos: timerDeadline(deadline, nowNanos: nowNanos)))
            closeIfDrained(nowNanos: nowNanos)
        case .idle, .resolving, .connecting, .authenticating:
            close(.drainedWhileConnecting)
        case .draining, .closed:
            break
        }
    }

    mutating func closeIfDrained(nowNanos: UInt64) {
        guard case .draining(_, let why) = state, why != .clientClosed, inflight.isEmpty,
              responses.isAtFrameBoundary else { return }
        if why == .moving {
            redial(nowNanos: nowNanos)
        } else {
            actions.append(.closeWhenFlushed(.drained))
        }
    }

    /// The old broker connection goes; the route is resolved and dialled on the new cluster.
    private mutating func redial(nowNanos: UInt64) {
        state = .resolving
        connectDeadline = nowNanos + UInt64(settings.connectTimeoutSeconds) * 1_000_000_000
        actions.append(.schedule(deadlineNanos: connectDeadline))
        loginInProgress = false
        reauthenticationDue = false
        responses = ResponseRelay(maxFrameBytes: settings.maxResponseBytes)
        // Nothing of the old cluster is in flight: names follow the new cluster's prefix from here.
        topicNames.prefix = settings.topicPrefix.map(TopicPrefix.init)
        brokerParked = false
        parkedResponses = []
        actions.append(.closeBroker)
        actions.append(.log(.info, "moving to cluster \(settings.cluster): the responses in flight are in; connecting \(settings.route) there"))
        actions.append(.resolve)
    }

    /// A broker-port connection made before the port's broker was known must not outlive that guess.
    public mutating func brokerLearned(port: UInt16) {
        close(.brokerLearned(cluster: settings.cluster, port: port))
    }

    /// Closes now; the executor closes both sockets and cancels the timer.
    public mutating func close(_ reason: CloseReason) {
        if case .closed = state { return }
        state = .closed(reason)
        actions.append(.close(reason))
    }

    // MARK: the sockets

    /// The client closed its side. `brokerHasPendingOutput`: requests the proxy accepted are still queued.
    public mutating func clientEOF(brokerHasPendingOutput: Bool, nowNanos: UInt64) {
        if !requests.isAtFrameBoundary {
            close(.truncatedRequest(bytesReceived: requests.bytesIntoFrame))
            return
        }
        if loginInProgress && !reauthenticating {
            close(.clientLeftDuringLogin)
            return
        }
        var accepting = false
        switch state {
        case .relaying, .draining(_, .requested): accepting = true
        default: break
        }
        if accepting && brokerHasPendingOutput {
            let deadline = nowNanos + UInt64(settings.flushSeconds) * 1_000_000_000
            state = .draining(deadlineNanos: deadline, why: .clientClosed)
            actions.append(.pauseClient)
            actions.append(.pauseBroker)
            actions.append(.schedule(deadlineNanos: deadline))
        } else {
            close(.clientClosed)
        }
    }

    public mutating func brokerEOF(nowNanos: UInt64) {
        if case .draining(_, .moving) = state, inflight.isEmpty, responses.isAtFrameBoundary {
            redial(nowNanos: nowNanos)
            return
        }
        let outstanding = inflight.count
        close(outstanding > 0 ? .brokerClosed(upstream: upstreamName, outstanding: outstanding)
                              : .brokerClosedIdle(upstream: upstreamName))
    }

    /// A socket error. `isDisconnect`: a reset or broken pipe, the peer's way of leaving.
    public mutating func channelFailed(_ side: ConnectionSide, detail: String, isDisconnect: Bool, isTLS: Bool) {
        if side == .broker, case .connecting = state {
            connectFailed("\(upstreamName): \(detail)")
            return
        }
        if isTLS {
            close(side == .client ? .tlsFailed(.client, message: detail) : .ioError(.broker, detail: detail))
        } else if isDisconnect, side == .broker, !inflight.isEmpty {
            close(.brokerReset(upstream: upstreamName, outstanding: inflight.count, detail: detail))
        } else if isDisconnect {
            close(.disconnected(side, detail: detail))
        } else {
            close(.ioError(side, detail: detail))
        }
    }

    /// The broker socket took all queued requests.
    public mutating func brokerDrained() {
        switch state {
        case .draining(_, .clientClosed): close(.requestsFlushed)
        case .relaying(.none): actions.append(.resumeClient)
        default: break
        }
    }

    /// The broker socket has more than its high watermark queued.
    public mutating func brokerBlocked() {
        actions.append(.pauseClient)
    }

    /// The client socket took all queued responses.
    public mutating func clientDrained(nowNanos: UInt64) {
        switch state {
        case .relaying, .authenticating: if !brokerParked { actions.append(.resumeBroker) }
        case .draining(_, .requested):
            if !brokerParked { actions.append(.resumeBroker) }
            closeIfDrained(nowNanos: nowNanos)
        default: break
        }
    }

    public mutating func clientBlocked() {
        actions.append(.pauseBroker)
    }

    // MARK: time

    /// `stallHint`: what the executor knows about a connect or login that hangs (a TLS handshake
    /// with no answer, what the login waits for).
    public mutating func timerFired(nowNanos: UInt64, stallHint: String = "") {
        // A local answer due now may end a drain or a move: the state is read after it.
        if brokerParked { localAnswersTimerFired(nowNanos: nowNanos) }
        switch state {
        case .idle, .closed:
            break
        case .resolving, .connecting:
            guard nowNanos >= connectDeadline else {
                actions.append(.schedule(deadlineNanos: connectDeadline))
                return
            }
            close(.connectTimeout(route: settings.route, upstream: upstreamName,
                                  seconds: settings.connectTimeoutSeconds, hint: stallHint))
        case .authenticating:
            actions.append(.loginFailed(reason: "timeout"))
            close(.loginTimeout(mechanism: settings.loginMechanism ?? "", cluster: settings.cluster,
                                upstream: upstreamName, seconds: settings.connectTimeoutSeconds, waiting: stallHint))
        case .relaying:
            let idleSince = lastActivity + idleNanos
            if nowNanos >= idleSince, let oldest = inflight.first {
                close(.brokerTimeout(upstream: upstreamName, seconds: settings.idleTimeoutSeconds,
                                     outstanding: inflight.count, oldest: oldest))
            } else if nowNanos >= idleSince {
                close(.idle(seconds: settings.idleTimeoutSeconds))
            } else {
                actions.append(.schedule(deadlineNanos: timerDeadline(idleSince, nowNanos: nowNanos)))
            }
        case .draining(let deadline, _):
            guard nowNanos >= deadline else {
                actions.append(.schedule(deadlineNanos: timerDeadline(deadline, nowNanos: nowNanos)))
                return
            }
            close(.drainTimeout(outstanding: inflight.count))
        }
    }

    /// How often a Fetch answered for a member that has not rejoined checks whether it has.
    static let rejoinPollNanos: UInt64 = 50_000_000
}
