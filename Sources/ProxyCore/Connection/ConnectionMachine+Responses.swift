import KafkaProtocol

/// The broker -> client direction: streaming, rewriting, answers to the proxy's own requests.
extension ConnectionMachine {
    /// Bytes the broker sent. Pass-through bytes come back as `.sendToClient(.borrowed)` ranges of `chunk`.
    public mutating func brokerRead(_ chunk: UnsafeRawBufferPointer, nowNanos: UInt64) {
        switch state {
        case .authenticating, .relaying, .draining: break
        default: return
        }
        lastActivity = nowNanos
        if brokerParked {
            parkResponses(chunk)
            return
        }
        relayResponses(chunk, copying: false, nowNanos: nowNanos)
        if isClosed { return }
        afterResponses(nowNanos: nowNanos)
    }

    /// Relays the responses in `chunk`; stops at a local answer that is not due yet and keeps the
    /// rest. `copying`: the chunk does not live until the next event, so pass-through bytes are copied.
    mutating func relayResponses(_ chunk: UnsafeRawBufferPointer, copying: Bool, nowNanos: UInt64) {
        var index = 0
        // A collected response is reported with its payload, which comes with the next event.
        var collected: (InflightRequest, Int)?
        do throws(ProxyStreamError) {
            let collects = topicNames.prefix == nil ? Self.collectsResponse : Self.collectsMappedResponse
            while let event = try responses.next(chunk, &index, inflight: &inflight, rewrites: collects, strays: strays) {
                switch event {
                case .forward(let bytes):
                    actions.append(.sendToClient(copying ? .owned(Array(bytes)) : .borrowed(bytes)))
                case .forwardPrefix(let prefix):
                    actions.append(.sendToClient(.prefix(prefix)))
                case .response(let request, let frameBytes, let isCollected):
                    if isCollected {
                        collected = (request, frameBytes)
                    } else {
                        actions.append(.responseSeen(request, frameBytes: frameBytes,
                                                     latencyNanos: nowNanos &- request.startNanos, payload: nil))
                    }
                case .rewrite(let request, let payload):
                    if let (seen, frameBytes) = collected {
                        actions.append(.responseSeen(seen, frameBytes: frameBytes,
                                                     latencyNanos: nowNanos &- seen.startNanos, payload: payload))
                    }
                    collected = nil
                    try rewriteResponse(request, payload)
                case .proxyResponse(let request, let payload):
                    try proxyResponse(request, payload, nowNanos: nowNanos)
                case .localAnswer:
                    if sendDueLocalAnswers(nowNanos: nowNanos) == .waiting {
                        parkResponses(UnsafeRawBufferPointer(rebasing: chunk[index...]))
                        return
                    }
                }
                if isClosed { return }
            }
        } catch {
            close(.badResponse(upstream: upstreamName, error))
            return
        }
        // The chunk may end just before a local answer: it is due now or parks the broker.
        if !brokerParked, sendDueLocalAnswers(nowNanos: nowNanos) == .waiting {
            parkResponses(UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// What follows a batch of responses: holds that waited for them end, a drain may be complete.
    mutating func afterResponses(nowNanos: UInt64) {
        if case .relaying(.clientSASL) = state, inflight.isEmpty, responses.isAtFrameBoundary {
            release(nowNanos: nowNanos)
        }
        closeIfDrained(nowNanos: nowNanos)
    }

    /// Responses collected whole: those the rewriter changes, and those whose content the proxy learns from.
    static func collectsResponse(_ request: InflightRequest) -> Bool {
        request.apiKey == ApiKey.initProducerId.rawValue || request.apiKey == ApiKey.syncGroup.rawValue
            || ResponseRewriter.needsRewrite(apiKey: request.apiKey, apiVersion: request.apiVersion)
    }

    private mutating func rewriteResponse(_ request: InflightRequest, _ payload: [UInt8]) throws(ProxyStreamError) {
        let payload = try mappedResponse(request, payload)
        switch request.apiKey {
        case ApiKey.syncGroup.rawValue:
            if let at = syncsInFlight.firstIndex(where: { $0.correlationId == request.correlationId }) {
                let member = syncsInFlight.remove(at: at).member
                if Self.syncGroupSucceeded(payload, version: request.apiVersion) {
                    actions.append(.memberSynced(groupId: member.groupId, memberId: member.memberId,
                                                 generation: member.generationId, clientId: clientId ?? ""))
                }
            }
            actions.append(.sendToClient(.owned(KafkaFrame.framed(payload))))
        case ApiKey.initProducerId.rawValue:
            var payload = payload
            if let had = clearedProducers.removeValue(forKey: request.correlationId),
               TransactionGuard.refuseUnchangedProducer(&payload, version: request.apiVersion,
                                                        clientHad: had.producerId, epoch: had.epoch) {
                actions.append(.log(.info, "\(settings.cluster) issued producer \(had.producerId) epoch \(had.epoch), the very id the client had from another cluster: answered CONCURRENT_TRANSACTIONS so it asks again and gets a new epoch"))
                actions.append(.sendToClient(.owned(KafkaFrame.framed(payload))))
                return
            }
            // Remember which cluster issued the id, then relay the answer untouched.
            if let response = try? InitProducerIdResponse.decode(payload: payload, version: request.apiVersion),
               response.errorCode == 0, response.producerId >= 0 {
                actions.append(.producerIdIssued(response.producerId))
            }
            actions.append(.sendToClient(.owned(KafkaFrame.framed(payload))))
        default:
            // Learned on every connection: one that is moved to another cluster later may need it there.
            if request.apiKey == ApiKey.apiVersions.rawValue, payload.count > 4,
               let offered = try? ApiVersionsResponse.decode(Array(payload[4...]), version: request.apiVersion),
               let entry = offered.apiKeys.first(where: { $0.apiKey == ApiKey.initProducerId.rawValue }) {
                initProducerIdVersion = min(entry.maxVersion, 4)
            }
            if ResponseRewriter.needsRewrite(apiKey: request.apiKey, apiVersion: request.apiVersion) {
                actions.append(.rewriteToClient(request, payload: payload))
            } else {
                actions.appendJoiningOwned(KafkaFrame.framed(payload), toBroker: false)
            }
        }
    }

    private mutating func proxyResponse(_ request: InflightRequest, _ payload: [UInt8],
                                        nowNanos: UInt64) throws(ProxyStreamError) {
        if loginInProgress,
           request.apiKey == ApiKey.apiVersions.rawValue || request.apiKey == ApiKey.saslHandshake.rawValue
            || request.apiKey == ApiKey.saslAuthenticate.rawValue {
            actions.append(.loginResponse(payload))
            return
        }
        guard request.apiKey == ApiKey.initProducerId.rawValue, case .relaying(.producerId(let producer)) = state else {
            return
        }
        guard let response = try? InitProducerIdResponse.decode(payload: payload, version: request.apiVersion) else {
            throw ProxyStreamError(.undecodableResponse, "InitProducerId response cannot be decoded")
        }
        guard response.errorCode == 0 else {
            throw ProxyStreamError(.undecodableResponse,
                "cluster \(settings.cluster) refused a producer id for producer \(producer.producerId): error \(response.errorCode)")
        }
        translator.issued(for: producer, producerId: response.producerId, epoch: response.producerEpoch)
        actions.append(.log(.info, "producer \(producer.producerId) continues on \(settings.cluster) as producer \(response.producerId)"))
        release(nowNanos: nowNanos)
    }

    /// SyncGroup answers: header, throttle_time_ms (v1+), error_code.
    static func syncGroupSucceeded(_ payload: [UInt8], version: Int16) -> Bool {
        var reader = ByteReader(payload)
        let headerVersion = ApiCatalog.responseHeaderVersion(apiKey: ApiKey.syncGroup.rawValue, apiVersion: version)
        guard (try? ResponseHeader.decode(from: &reader, headerVersion: headerVersion)) != nil else { return false }
        if version >= 1 { guard (try? reader.readInt32()) != nil else { return false } }
        return (try? reader.readInt16()) == 0
    }
}
