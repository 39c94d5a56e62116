import KafkaProtocol

/// Topic names on a cluster with `topicPrefix`: requests that carry names are re-framed with the
/// upstream names, their responses collected and given the client's names back. The cluster of
/// the broker connection decides (`topicNames.prefix`), not `settings`: during a move the
/// responses still in flight come from the old cluster, while `settings` already names the new one.
extension ConnectionMachine {
    /// What the connection needs for mapping; one value so the machine grows by one stored property.
    struct TopicNames {
        /// The prefix of the cluster the broker connection is on; nil: names pass unchanged.
        var prefix: TopicPrefix?
        var context = TopicMappingContext()

        init(prefix: String?) {
            self.prefix = prefix.map(TopicPrefix.init)
        }
    }

    /// Collected on a prefixed cluster: everything that carries topic names, besides what the
    /// plain path collects.
    static func collectsMappedResponse(_ request: InflightRequest) -> Bool {
        TopicNameMapping.carriesTopicNames.contains(request.apiKey) || collectsResponse(request)
    }

    /// Whether this request goes through `sendMappedRequest` instead of out as it is.
    func mapsTopicNames(apiKey: Int16) -> Bool {
        topicNames.prefix != nil && TopicNameMapping.carriesTopicNames.contains(apiKey)
    }

    /// A request of an API that carries topic names, on a prefixed cluster: size prefix + the
    /// original header + the mapped body. Ranges of the original body go out borrowed when the
    /// frame lies in `chunk` (a Produce's record batches are not copied). Returns false when the
    /// request cannot be mapped: the connection closed.
    mutating func sendMappedRequest(_ request: ObservedRequest, _ frame: UnsafeRawBufferPointer,
                                    chunk: UnsafeRawBufferPointer) -> Bool {
        guard let prefix = topicNames.prefix else { return false }
        guard let versions = TopicNameMapping.mappedVersions[request.apiKey], versions.contains(request.apiVersion) else {
            close(.badRequest(ProxyStreamError(.unsupportedVersion,
                "\(ApiKey(request.apiKey)) v\(request.apiVersion) carries topic names the proxy cannot map for cluster \(settings.cluster) (topicPrefix '\(prefix.value)'); it was not offered in ApiVersions")))
            return false
        }
        let bodyStart = 4 + request.headerLength
        let body = UnsafeRawBufferPointer(rebasing: frame[bodyStart...])
        let mapped: MappedBody?
        do throws(KafkaProtocolError) {
            mapped = try TopicNameMapping.request(apiKey: request.apiKey, apiVersion: request.apiVersion, body: body,
                                                  prefix: prefix, context: &topicNames.context)
        } catch {
            close(.badRequest(ProxyStreamError(.malformedRequest,
                "\(ApiKey(request.apiKey)) v\(request.apiVersion) request: its topic names cannot be mapped: \(error)")))
            return false
        }
        guard let mapped else {
            sendFrameToBroker(frame, from: chunk)
            return true
        }
        let borrows = Self.lies(frame, in: chunk)
        var head = [UInt8]()
        head.reserveCapacity(bodyStart + min(mapped.count, Self.copiedPieceLimit))
        Self.appendInt32(Int32(truncatingIfNeeded: request.headerLength + mapped.count), to: &head)
        head.append(contentsOf: UnsafeRawBufferPointer(rebasing: frame[4..<bodyStart]))
        for piece in mapped.pieces {
            switch piece {
            case .bytes(let bytes):
                head.append(contentsOf: bytes)
            case .original(let range):
                let slice = UnsafeRawBufferPointer(rebasing: body[range])
                if borrows, range.count >= Self.copiedPieceLimit {
                    if !head.isEmpty { actions.appendJoiningOwned(head, toBroker: true) }
                    head = []
                    actions.append(.sendToBroker(.borrowed(slice)))
                } else {
                    head.append(contentsOf: slice)
                }
            }
        }
        if !head.isEmpty { actions.appendJoiningOwned(head, toBroker: true) }
        return true
    }

    /// An owned frame (a Produce whose batches were translated): mapped as a whole, copied.
    mutating func sendMappedRequest(_ request: ObservedRequest, owned frame: [UInt8]) -> Bool {
        frame.withUnsafeBytes { bytes in
            // An empty chunk: nothing is borrowed from a buffer that goes away with this call.
            sendMappedRequest(request, bytes, chunk: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// A collected response (payload without the size prefix) with the client's topic names.
    mutating func mappedResponse(_ request: InflightRequest, _ payload: [UInt8]) throws(ProxyStreamError) -> [UInt8] {
        guard let prefix = topicNames.prefix, TopicNameMapping.carriesTopicNames.contains(request.apiKey) else {
            return payload
        }
        let what = "\(ApiKey(request.apiKey)) v\(request.apiVersion) response"
        var reader = ByteReader(payload)
        let headerVersion = ApiCatalog.responseHeaderVersion(apiKey: request.apiKey, apiVersion: request.apiVersion)
        do {
            _ = try ResponseHeader.decode(from: &reader, headerVersion: headerVersion)
        } catch {
            throw ProxyStreamError(.undecodableResponse, "\(what): header: \(error)")
        }
        let bodyStart = reader.index
        var context = topicNames.context
        let outcome = payload.withUnsafeBytes { bytes -> Result<MappedBody?, KafkaProtocolError> in
            Result { () throws(KafkaProtocolError) in
                try TopicNameMapping.response(apiKey: request.apiKey, apiVersion: request.apiVersion,
                                              body: UnsafeRawBufferPointer(rebasing: bytes[bodyStart...]),
                                              prefix: prefix, context: &context)
            }
        }
        topicNames.context = context
        let mapped: MappedBody?
        switch outcome {
        case .success(let body): mapped = body
        case .failure(let error):
            throw ProxyStreamError(.undecodableResponse, "\(what): its topic names cannot be mapped: \(error)")
        }
        guard let mapped else { return payload }
        var result = [UInt8]()
        result.reserveCapacity(bodyStart + mapped.count)
        result.append(contentsOf: payload[..<bodyStart])
        for piece in mapped.pieces {
            switch piece {
            case .bytes(let bytes): result.append(contentsOf: bytes)
            case .original(let range): result.append(contentsOf: payload[(bodyStart + range.lowerBound)..<(bodyStart + range.upperBound)])
            }
        }
        return result
    }

    /// Smaller original pieces are copied next to the new bytes: one write instead of three (a
    /// write costs more than copying a few KiB); larger ones, record batches, go out borrowed.
    static let copiedPieceLimit = 16 * 1024

    private static func appendInt32(_ value: Int32, to bytes: inout [UInt8]) {
        let v = UInt32(bitPattern: value)
        bytes.append(UInt8(truncatingIfNeeded: v >> 24))
        bytes.append(UInt8(truncatingIfNeeded: v >> 16))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }
}
