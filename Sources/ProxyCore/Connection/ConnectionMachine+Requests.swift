import KafkaProtocol

/// The client -> broker direction: framing, holds, requests the proxy answers or adds itself.
extension ConnectionMachine {
    /// Bytes the client sent. Pass-through bytes come back as `.sendToBroker(.borrowed)` ranges of `chunk`.
    public mutating func clientRead(_ chunk: UnsafeRawBufferPointer, nowNanos: UInt64) {
        guard case .relaying(let hold) = state, !closingAfterRefusal else {
            if isMoving, !isClosed { keepWhileHeld(chunk) }
            return
        }
        if clientId == nil, chunk.count > 4, requests.isAtFrameBoundary {
            // The first read starts at a frame boundary; one parse per connection.
            let header = (try? RequestHeader.parse(UnsafeRawBufferPointer(rebasing: chunk[4...])))??.header
            clientId = header?.clientId ?? ""
            // A connection that opens with a group request (no ApiVersions first) is read whole from it.
            if let header, Self.framesGroupTraffic(header.apiKey) { requests.mode = .framing }
        }
        if hold != .none {
            keepWhileHeld(chunk)
            return
        }
        relayRequests(chunk, nowNanos: nowNanos)
    }

    /// Frames `chunk` (after anything held) until it is consumed or a frame must wait.
    mutating func relayRequests(_ chunk: UnsafeRawBufferPointer, nowNanos: UInt64) {
        var index = 0
        do throws(ProxyStreamError) {
            while let event = try requests.next(chunk, &index) {
                switch event {
                case .request(let request):
                    // Group traffic is read whole from the next request on: its members and commits matter.
                    if Self.framesGroupTraffic(request.apiKey) { requests.mode = .framing }
                    requestSeen(request, nowNanos: nowNanos)
                case .forward(let bytes):
                    actions.append(.sendToBroker(.borrowed(bytes)))
                case .frame(let request, let bytes):
                    guard relayFrame(request, bytes, chunk: chunk, index: &index, nowNanos: nowNanos) else {
                        pauseIfBufferFull()
                        return
                    }
                }
            }
        } catch {
            if let sniff = settings.sniffsTLSClientHello, sniff(chunk) {
                close(.tlsClientHelloOnPlainListener)
            } else {
                close(.badRequest(error))
            }
            return
        }
        pauseIfBufferFull()
    }

    /// Bytes that arrive while a frame waits are kept behind it, in order.
    private mutating func keepWhileHeld(_ chunk: UnsafeRawBufferPointer) {
        var index = 0
        do throws(ProxyStreamError) {
            if case .frame? = try requests.next(chunk, &index) { requests.holdLastFrame(chunk, &index) }
        } catch {
            close(.badRequest(error))
            return
        }
        pauseIfBufferFull()
    }

    private mutating func pauseIfBufferFull() {
        if requests.bufferedBytes > settings.maxRequestBytes { actions.append(.pauseClient) }
    }

    /// One whole request (framing mode). Returns false when it waits: it and everything after it
    /// stay in the relay until the hold ends.
    private mutating func relayFrame(_ request: ObservedRequest, _ frame: UnsafeRawBufferPointer,
                                     chunk: UnsafeRawBufferPointer, index: inout Int, nowNanos: UInt64) -> Bool {
        if reauthenticationDue, !loginInProgress {
            // KIP-368: at a request boundary, nothing of the client's in between.
            reauthenticationDue = false
            hold(.reauthenticating, chunk: chunk, index: &index)
            startLogin(reauthentication: true)
            return false
        }
        let apiKey = request.apiKey
        if settings.loginMechanism != nil,
           apiKey == ApiKey.saslHandshake.rawValue || apiKey == ApiKey.saslAuthenticate.rawValue {
            // Answered by the proxy, in order: once every response before it has gone out.
            guard inflight.isEmpty, responses.isAtFrameBoundary else {
                hold(.clientSASL, chunk: chunk, index: &index)
                return false
            }
            actions.append(.refuseClientSASL(apiKey: apiKey, apiVersion: request.apiVersion,
                                             correlationId: request.correlationId))
            guard apiKey == ApiKey.saslAuthenticate.rawValue else { return true }
            closingAfterRefusal = true
            actions.append(.pauseClient)
            actions.append(.closeWhenFlushed(.refusedClientSASL))
            return false
        }
        if Self.framesGroupTraffic(apiKey) || apiKey == ApiKey.fetch.rawValue,
           answersGroupRequest(request, frame, nowNanos: nowNanos) {
            return true
        }
        if settings.clearsLeaderEpochs, apiKey == ApiKey.fetch.rawValue,
           let cleared = FetchLeaderEpochs.cleared(frame: frame, bodyStart: 4 + request.headerLength,
                                                   version: request.apiVersion) {
            requestSeen(request, nowNanos: nowNanos)
            if mapsTopicNames(apiKey: apiKey) { return sendMappedRequest(request, owned: cleared) }
            actions.append(.sendToBroker(.owned(cleared)))
            return true
        }
        if settings.translatesProducers, TransactionGuard.inspects(apiKey: apiKey) {
            // One copy for both: the guard and the translator patch the same payload.
            var payload = Array(UnsafeRawBufferPointer(rebasing: frame[4...]))
            if keepTransactionsOut(request, &payload, frame, nowNanos: nowNanos) { return true }
            if apiKey == ApiKey.produce.rawValue {
                let policy = self.policy
                // A malformed request goes on as it is: the broker answers it with its own error.
                let outcome = try? translator.translate(&payload, headerLength: request.headerLength,
                                                        version: request.apiVersion) { policy.needsTranslation(producerId: $0) }
                switch outcome {
                case .needsProducerId(let producer):
                    hold(.producerId(producer), chunk: chunk, index: &index)
                    requestProducerId(for: producer, nowNanos: nowNanos)
                    return false
                case .rewritten:
                    requestSeen(request, nowNanos: nowNanos)
                    if mapsTopicNames(apiKey: apiKey) { return sendMappedRequest(request, owned: Array(frame[..<4]) + payload) }
                    actions.append(.sendToBroker(.owned(Array(frame[..<4]) + payload)))
                    return true
                case .unchanged, nil:
                    break
                }
            }
        }
        requestSeen(request, nowNanos: nowNanos)
        if mapsTopicNames(apiKey: apiKey) { return sendMappedRequest(request, frame, chunk: chunk) }
        sendFrameToBroker(frame, from: chunk)
        return true
    }

    /// TransactionGuard's verdict carried out; false when the request goes on as it is.
    private mutating func keepTransactionsOut(_ request: ObservedRequest, _ payload: inout [UInt8],
                                              _ frame: UnsafeRawBufferPointer, nowNanos: UInt64) -> Bool {
        let policy = self.policy
        switch TransactionGuard.inspect(apiKey: request.apiKey, apiVersion: request.apiVersion,
                                        headerLength: request.headerLength, payload: &payload,
                                        issuedElsewhere: { policy.issuedElsewhere(producerId: $0) }) {
        case .pass:
            return false
        case .clearedProducerId(let producerId, let epoch):
            clearedProducers[request.correlationId] = ProducerIdTranslator.ClientProducer(producerId: producerId, epoch: epoch)
            actions.append(.log(.info, "InitProducerId for producer \(producerId), which another cluster issued: asking \(settings.cluster) for a new producer id"))
            requestSeen(request, nowNanos: nowNanos)
            actions.append(.sendToBroker(.owned(Array(frame[..<4]) + payload)))
            return true
        case .refuse(let body, let producerId, let errorCode):
            actions.append(.transactionRefused(apiKey: request.apiKey))
            actions.append(.log(.info, "\(ApiKey(request.apiKey)) of producer \(producerId), which another cluster issued: answered by the proxy (error \(errorCode)) so the client aborts its transaction and gets a producer id from \(settings.cluster)"))
            // In its place among the responses: after every one before it.
            answerLocally(request, frame: KafkaFrame.response(apiKey: request.apiKey, apiVersion: request.apiVersion,
                                                              correlationId: request.correlationId, body: body),
                          dueNanos: nowNanos, nowNanos: nowNanos)
            return true
        }
    }

    /// A frame borrowed from the relay's own buffer is copied: the relay may reuse that buffer
    /// before the executor sends it. Frames that lie in the chunk go out without a copy, joined
    /// with the frame before them: one write per read, not one per request.
    mutating func sendFrameToBroker(_ frame: UnsafeRawBufferPointer, from chunk: UnsafeRawBufferPointer) {
        if Self.lies(frame, in: chunk) {
            actions.appendJoiningBorrowed(frame, toBroker: true)
        } else {
            actions.appendJoiningOwned(Array(frame), toBroker: true)
        }
    }

    static func lies(_ frame: UnsafeRawBufferPointer, in chunk: UnsafeRawBufferPointer) -> Bool {
        guard let base = frame.baseAddress, let start = chunk.baseAddress else { return false }
        return base >= start && base + frame.count <= start + chunk.count
    }

    private mutating func hold(_ hold: Hold, chunk: UnsafeRawBufferPointer, index: inout Int) {
        requests.holdLastFrame(chunk, &index)
        state = .relaying(hold)
        actions.append(.pauseClient)
    }

    mutating func requestSeen(_ request: ObservedRequest, nowNanos: UInt64) {
        lastActivity = nowNanos
        actions.append(.requestSeen(request))
        if request.expectsResponse {
            inflight.append(InflightRequest(correlationId: request.correlationId, apiKey: request.apiKey,
                                            apiVersion: request.apiVersion, startNanos: nowNanos))
        } else {
            strays.record(request.correlationId)
        }
    }

    /// The hold is over: held frames go out in order, then the client is read again.
    mutating func release(nowNanos: UInt64) {
        guard case .relaying(let hold) = state, hold != .none else { return }
        state = .relaying(.none)
        relayRequests(UnsafeRawBufferPointer(start: nil, count: 0), nowNanos: nowNanos)
        if case .relaying(.none) = state, !closingAfterRefusal, requests.bufferedBytes <= settings.maxRequestBytes {
            actions.append(.resumeClient)
        }
    }

    // MARK: requests of the proxy's own

    mutating func startLogin(reauthentication: Bool) {
        loginInProgress = true
        reauthenticating = reauthentication
        actions.append(.startLogin(reauthentication: reauthentication, firstCorrelationId: nextProxyCorrelationId))
    }

    /// A KIP-368 session is about to expire: re-authenticate at the next request boundary.
    public mutating func reauthenticationTimerFired(nowNanos: UInt64) {
        guard settings.loginMechanism != nil, !loginInProgress else { return }
        switch state {
        case .relaying(.none):
            // Between frames on the wire: framing mode sends whole frames only.
            state = .relaying(.reauthenticating)
            actions.append(.pauseClient)
            startLogin(reauthentication: true)
        case .relaying:
            reauthenticationDue = true
        default:
            break
        }
    }

    /// The login driver's next request.
    public mutating func loginRequest(_ frame: [UInt8], correlationId: Int32, apiKey: Int16, apiVersion: Int16,
                                      nowNanos: UInt64) {
        guard loginInProgress, !isClosed else { return }
        nextProxyCorrelationId = correlationId &+ 1
        inflight.append(InflightRequest(correlationId: correlationId, apiKey: apiKey, apiVersion: apiVersion,
                                        startNanos: nowNanos, fromProxy: true))
        actions.append(.sendToBroker(.owned(frame)))
    }

    public mutating func loginSucceeded(sessionLifetimeMs: Int64, nowNanos: UInt64) {
        guard loginInProgress, !isClosed else { return }
        loginInProgress = false
        actions.append(.loginSucceeded(reauthentication: reauthenticating, sessionLifetimeMs: sessionLifetimeMs))
        if case .authenticating = state {
            startRelaying(nowNanos: nowNanos)
        } else {
            release(nowNanos: nowNanos)
        }
    }

    /// `reason`: the metric label of the failure; `detail`: the log text.
    public mutating func loginFailed(reason: String, detail: String) {
        guard loginInProgress, !isClosed else { return }
        loginInProgress = false
        actions.append(.loginFailed(reason: reason))
        close(.loginFailed(reauthentication: reauthenticating, mechanism: settings.loginMechanism ?? "",
                           cluster: settings.cluster, upstream: upstreamName, failure: reason, detail: detail))
    }

    private mutating func requestProducerId(for producer: ProducerIdTranslator.ClientProducer, nowNanos: UInt64) {
        let correlationId = nextProxyCorrelationId
        nextProxyCorrelationId &+= 1
        let version = initProducerIdVersion
        let header = RequestHeader(apiKey: ApiKey.initProducerId.rawValue, apiVersion: version,
                                   correlationId: correlationId, clientId: "kafka-proxy")
        let frame = KafkaFrame.request(header: header, body: InitProducerIdRequest().encoded(version: version))
        inflight.append(InflightRequest(correlationId: correlationId, apiKey: ApiKey.initProducerId.rawValue,
                                        apiVersion: version, startNanos: nowNanos, fromProxy: true))
        actions.append(.producerMoved(producer.producerId))
        actions.append(.log(.info, "producer \(producer.producerId) (epoch \(producer.epoch)) was issued by another cluster: getting a producer id from \(settings.cluster) for it"))
        actions.append(.sendToBroker(.owned(frame)))
    }
}
