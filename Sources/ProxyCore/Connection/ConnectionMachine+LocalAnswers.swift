import KafkaProtocol

/// A response the proxy gives itself instead of the broker, in its request's place in the queue.
struct LocalAnswer: Sendable {
    var correlationId: Int32
    /// The whole frame, size prefix included.
    var frame: [UInt8]
    /// Not sent before this monotonic time: a long-poll answer must not come back at once, or the
    /// client asks again at once.
    var dueNanos: UInt64
    /// Due earlier, as soon as no member with this client id has to rejoin any more.
    var untilRejoinOf: String?
}

/// Requests the proxy answers itself, in order with the broker's answers.
///
/// Kafka answers a connection's requests in order and strict clients check the correlation ids, so
/// a local answer goes to the client exactly when every response before it has gone out. While a
/// local answer that is not due yet heads the in-flight queue the broker is not read (the responses
/// after it wait in the kernel; what one read had already taken is kept here); requests the client
/// sends meanwhile still go to the broker.
extension ConnectionMachine {
    /// Answers `request` with `frame` (a whole response, size prefix included) once every response
    /// before it has gone to the client, and not before `dueNanos`.
    mutating func answerLocally(_ request: ObservedRequest, frame: [UInt8], dueNanos: UInt64,
                                untilRejoinOf clientId: String? = nil, nowNanos: UInt64) {
        lastActivity = nowNanos
        inflight.append(InflightRequest(correlationId: request.correlationId, apiKey: request.apiKey,
                                        apiVersion: request.apiVersion, startNanos: nowNanos, isLocal: true))
        localAnswers.append(LocalAnswer(correlationId: request.correlationId, frame: frame, dueNanos: dueNanos,
                                        untilRejoinOf: clientId))
        guard !brokerParked else { return }
        if sendDueLocalAnswers(nowNanos: nowNanos) == .waiting { park() }
    }

    enum LocalAnswerProgress { case none, waiting }

    /// Sends the local answers at the head of the queue that are due. `.waiting`: one that is not
    /// due yet heads the queue (the timer is set for it).
    mutating func sendDueLocalAnswers(nowNanos: UInt64) -> LocalAnswerProgress {
        while let head = inflight.first, head.isLocal, responses.isAtFrameBoundary, let answer = localAnswers.first {
            let rejoined = answer.untilRejoinOf.map { !policy.mustHoldFetch(clientId: $0) } ?? false
            guard answer.dueNanos <= nowNanos || rejoined else {
                let poll = answer.untilRejoinOf == nil ? UInt64.max : nowNanos &+ Self.rejoinPollNanos
                actions.append(.schedule(deadlineNanos: min(answer.dueNanos, poll)))
                return .waiting
            }
            inflight.popFirst()
            localAnswers.removeFirst()
            lastActivity = nowNanos
            actions.append(.sendToClient(.owned(answer.frame)))
        }
        return .none
    }

    private mutating func park() {
        brokerParked = true
        actions.append(.pauseBroker)
    }

    /// Broker bytes that came while parked (a read already under way) wait with the rest.
    mutating func parkResponses(_ bytes: UnsafeRawBufferPointer) {
        parkedResponses.append(contentsOf: bytes)
        if !brokerParked { park() } else { actions.append(.pauseBroker) }
    }

    /// The timer: sends what is due and, once no waiting local answer heads the queue, relays the
    /// broker bytes kept meanwhile and reads the broker again.
    mutating func localAnswersTimerFired(nowNanos: UInt64) {
        guard brokerParked else { return }
        guard sendDueLocalAnswers(nowNanos: nowNanos) == .none else { return }
        brokerParked = false
        let parked = parkedResponses
        parkedResponses = []
        if !parked.isEmpty {
            // Kept bytes outlive no event: what goes to the client from them is copied.
            parked.withUnsafeBytes { relayResponses($0, copying: true, nowNanos: nowNanos) }
            if isClosed { return }
        }
        if !brokerParked { actions.append(.resumeBroker) }
        afterResponses(nowNanos: nowNanos)
    }

    /// The earliest of `deadline` and the due time of a local answer waiting: the executor keeps one deadline.
    /// Only while parked: an answer behind broker responses goes out when they are in, not on a timer.
    func timerDeadline(_ deadline: UInt64, nowNanos: UInt64) -> UInt64 {
        guard brokerParked, let answer = localAnswers.first else { return deadline }
        var due = answer.dueNanos
        // The rejoin is polled: the answer goes out soon after it, not at the end of the long poll.
        if answer.untilRejoinOf != nil { due = min(due, nowNanos &+ Self.rejoinPollNanos) }
        return min(deadline, due)
    }
}
