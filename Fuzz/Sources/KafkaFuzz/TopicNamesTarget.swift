import KafkaProtocol

extension FuzzTargets {
    /// The mapped APIs by key; versions up to max+1 are fuzzed (one above must be refused).
    static let topicNameApis: [(key: Int16, versions: ClosedRange<Int16>)] =
        TopicNameMapping.mappedVersions.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }

    /// "or" makes the seeds' topic "orders" a prefixed upstream name.
    static let topicPrefixes = [TopicPrefix("dc1."), TopicPrefix("or"), TopicPrefix("primary.")]

    static func mapTopicNames(_ key: Int16, _ version: Int16, response: Bool, _ body: UnsafeRawBufferPointer,
                              _ prefix: TopicPrefix) -> Result<MappedBody?, KafkaProtocolError> {
        var context = TopicMappingContext()
        return Result { () throws(KafkaProtocolError) in
            response
                ? try TopicNameMapping.response(apiKey: key, apiVersion: version, body: body, prefix: prefix, context: &context)
                : try TopicNameMapping.request(apiKey: key, apiVersion: version, body: body, prefix: prefix, context: &context)
        }
    }

    // MARK: topic-name mapping (TopicNameMapping)

    /// Input: [api selector, version selector, flags (bit 0: response; above: prefix), body...].
    /// A mapped body's pieces add up, its ranges lie in the input in order, and it is a
    /// well-formed message of the same API again (mapping it once more succeeds).
    static func topicNames(_ data: [UInt8]) {
        var c = Control(data)
        let api = topicNameApis[Int(c.byte()) % topicNameApis.count]
        let version = Int16(c.byte() % UInt8(api.versions.upperBound + 2))
        let flags = c.byte()
        let response = flags & 1 != 0
        let prefix = topicPrefixes[Int(flags >> 1) % topicPrefixes.count]
        let body = c.rest
        body.withUnsafeBytes { raw in
            let result = mapTopicNames(api.key, version, response: response, raw, prefix)
            if !api.versions.contains(version) {
                guard case .failure(let e) = result, e.code == .unsupportedVersion else {
                    check(false, "api \(api.key) v\(version) outside its versions not refused: \(result)")
                    return
                }
                return
            }
            guard case .success(let mapped?) = result else { return }
            var total = 0
            var end = 0
            for piece in mapped.pieces {
                switch piece {
                case .bytes(let b):
                    total += b.count
                case .original(let r):
                    check(r.lowerBound >= end && r.upperBound <= raw.count, "range \(r) after \(end) in \(raw.count) bytes")
                    end = r.upperBound
                    total += r.count
                }
            }
            check(total == mapped.count, "pieces hold \(total) bytes, count says \(mapped.count)")
            let out = mapped.joined(original: raw)
            out.withUnsafeBytes { again in
                if case .failure(let e) = mapTopicNames(api.key, version, response: response, again, prefix) {
                    // A name prefixed twice may outgrow an int16 length; nothing else may fail.
                    check(e.code == .invalidValue && !response, "api \(api.key) v\(version) output does not map again: \(e)")
                }
            }
        }
    }
}
