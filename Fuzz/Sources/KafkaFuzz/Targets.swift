#if canImport(Glibc)
import Glibc
#endif
import KafkaProtocol
import ProxyCore

/// Every target checks two things: no trap (bounds, overflow, force unwrap) on any input, and a
/// property that must hold for the inputs the code accepts (same result however the stream is
/// cut into reads, a rewritten response decodes again and rewriting it again changes nothing,
/// decode(encode(x)) == x, patched batches keep their size and get a valid CRC).
enum FuzzTargets {
    /// The responses the proxy decodes or rewrites, with the highest version it decodes. Versions
    /// up to max+1 are fuzzed (one above must be refused, not misread).
    static let responseApis: [(key: Int16, max: Int16)] = [
        (ApiKey.produce.rawValue, ProduceResponseWalker.maxVersion),
        (ApiKey.fetch.rawValue, FetchResponseWalker.maxVersion),
        (ApiKey.metadata.rawValue, MetadataResponse.maxVersion),
        (ApiKey.findCoordinator.rawValue, FindCoordinatorResponse.maxVersion),
        (ApiKey.describeCluster.rawValue, DescribeClusterResponse.maxVersion),
        (ApiKey.apiVersions.rawValue, 4),
        (ApiKey.initProducerId.rawValue, 5),
        (ApiKey.listOffsets.rawValue, 9),   // never decoded: streamed through
    ]

    static func pickApi(_ c: inout Control) -> (key: Int16, version: Int16) {
        let api = responseApis[Int(c.byte()) % responseApis.count]
        return (api.key, Int16(c.byte() % UInt8(api.max + 2)))
    }

    static func fixedEndpoint(_ e: inout BrokerEndpoint) {
        e.host = "proxy.local"
        e.port = 20_000 + (e.nodeId & 0x3ff)
    }

    static func localPort(_ e: BrokerEndpoint) throws(ProxyStreamError) -> UInt16 {
        if e.nodeId == 0x7fff_fff0 { throw ProxyStreamError(.undecodableResponse, "no port left") }
        return UInt16(20_000 + Int(e.nodeId & 0x3ff))
    }

    static let rewriter = ResponseRewriter(advertisedHost: "proxy.local")
    nonisolated(unsafe) static var debugRelay = getenv("KAFKA_FUZZ_DEBUG") != nil

    // MARK: request framing (ProxyCore RequestObserver)

    /// Input: [max frame selector, chunking seed, client byte stream...]. The stream is observed
    /// whole and cut into random reads; both must see the same requests and fail the same way.
    static func requestFraming(_ data: [UInt8]) {
        var c = Control(data)
        let maxFrame = [64, 4096, 100 << 20][Int(c.byte()) % 3]
        var chunker = Chunker(seed: c.byte())
        let stream = c.rest

        func observe(_ chunks: [[UInt8]]) -> (seen: [ObservedRequest], error: ProxyStreamError?, boundary: Bool) {
            var observer = RequestObserver(maxFrameBytes: maxFrame)
            var seen: [ObservedRequest] = []
            for chunk in chunks {
                let result = chunk.withUnsafeBytes { raw in
                    Result { () throws(ProxyStreamError) in try observer.observe(raw) { seen.append($0) } }
                }
                if case .failure(let error) = result { return (seen, error, false) }
            }
            return (seen, nil, observer.isAtFrameBoundary)
        }

        let whole = observe(stream.isEmpty ? [] : [stream])
        let cut = observe(chunker.split(stream, maxChunk: 1 + Int(stream.count % 23)))
        check(whole.seen == cut.seen, "requests differ: whole \(whole.seen) vs cut \(cut.seen)")
        check(whole.error?.reason == cut.error?.reason,
              "errors differ: whole \(String(describing: whole.error)) vs cut \(String(describing: cut.error))")
        for r in whole.seen {
            check(r.frameBytes >= 12 && r.frameBytes <= 4 + maxFrame, "frame of \(r.frameBytes) bytes, limit \(maxFrame)")
        }
        if whole.error == nil {
            check(whole.boundary == cut.boundary, "frame boundary differs")
            let framed = whole.seen.reduce(0) { $0 + $1.frameBytes }
            if whole.boundary {
                check(framed == stream.count, "at a boundary after \(framed) of \(stream.count) bytes")
            } else {
                check(framed <= stream.count || !whole.seen.isEmpty, "framed past the stream")
            }
        }
    }

    // MARK: request headers (RequestHeader.peek/parse, ProduceRequest.peekAcks)

    /// Input: a request payload (after the size prefix), possibly incomplete.
    static func requestHeader(_ data: [UInt8]) {
        data.withUnsafeBytes { raw in
            let info: RequestHeaderInfo?
            do { info = try RequestHeader.peek(raw) } catch { info = nil }
            let bounded = try? RequestHeader.peek(raw, frameLength: raw.count)
            if let info {
                check(info.headerLength <= raw.count, "header of \(info.headerLength) bytes in \(raw.count)")
                check(info.headerLength >= 8, "header shorter than its fixed fields")
                if let r = info.clientIdRange {
                    check(r.lowerBound >= 10 && r.upperBound <= info.headerLength, "client id range \(r)")
                }
                check(bounded == info, "peek with frameLength disagrees: \(String(describing: bounded)) vs \(info)")
                // The header alone gives the same answer; every shorter prefix asks for more bytes.
                let exact = UnsafeRawBufferPointer(rebasing: raw[..<info.headerLength])
                check((try? RequestHeader.peek(exact)) == info, "header alone reads differently")
                if info.headerLength > 8 {
                    let short = UnsafeRawBufferPointer(rebasing: raw[..<(info.headerLength - 1)])
                    check((try? RequestHeader.peek(short)) ?? nil == nil, "a header one byte short was accepted")
                }
                if let parsed = try? RequestHeader.parse(raw) {
                    check(parsed.length == info.headerLength, "parse length \(parsed.length) vs peek \(info.headerLength)")
                    check(parsed.header.apiKey == info.apiKey && parsed.header.apiVersion == info.apiVersion
                          && parsed.header.correlationId == info.correlationId, "parse disagrees with peek")
                    var w = ByteWriter()
                    parsed.header.encode(into: &w)
                    let again = try? RequestHeader.parse(w.bytes)
                    check(again?.header == parsed.header, "header does not survive encode/parse")
                }
                let body = UnsafeRawBufferPointer(rebasing: raw[info.headerLength...])
                _ = try? ProduceRequest.peekAcks(body, version: info.apiVersion)
            } else if let bounded {
                check(false, "peek(frameLength:) accepted what peek rejected: \(bounded)")
            }
            for version in Int16(0)...14 {
                _ = try? ProduceRequest.peekAcks(raw, version: version)
            }
        }
    }

    // MARK: responses (EndpointRewriting, ResponseRewriter, codecs)

    /// Input: [api selector, version selector, flags, response payload (header + body)...].
    static func responseRewrite(_ data: [UInt8]) {
        var c = Control(data)
        let (key, version) = pickApi(&c)
        let clear = c.byte() & 1 != 0
        let payload = c.rest

        if let once = try? EndpointRewriting.rewriteResponse(apiKey: key, apiVersion: version, payload: payload,
                                                              clearLeaderEpochs: clear, rewrite: fixedEndpoint) {
            if !EndpointRewriting.carriesEndpoints(apiKey: key, apiVersion: version) {
                check(once == payload, "api \(key) v\(version) changed although it carries no endpoints")
            }
            do {
                let twice = try EndpointRewriting.rewriteResponse(apiKey: key, apiVersion: version, payload: once,
                                                                  clearLeaderEpochs: clear, rewrite: fixedEndpoint)
                check(twice == once, "api \(key) v\(version): rewriting twice differs from once")
            } catch {
                check(false, "api \(key) v\(version): the rewritten response does not decode: \(error)")
            }
        }
        _ = try? EndpointRewriting.nodeEndpoints(apiKey: key, apiVersion: version, payload: payload)

        let request = InflightRequest(correlationId: 0, apiKey: key, apiVersion: version, startNanos: 0)
        if let once = try? rewriter.rewrite(request: request, payload: payload, clearLeaderEpochs: clear, localPort: localPort) {
            do {
                let twice = try rewriter.rewrite(request: request, payload: once, clearLeaderEpochs: clear, localPort: localPort)
                check(twice == once, "ResponseRewriter api \(key) v\(version): rewriting twice differs from once")
            } catch {
                check(false, "ResponseRewriter api \(key) v\(version): its output does not decode: \(error)")
            }
        }
        roundTrip(key: key, version: version, payload: payload)
    }

    /// decode(encode(decode(body))) == decode(body) for every message the codec decodes.
    static func roundTrip(key: Int16, version: Int16, payload: [UInt8]) {
        var r = ByteReader(payload)
        let headerVersion = ApiCatalog.responseHeaderVersion(apiKey: key, apiVersion: version)
        guard (try? ResponseHeader.decode(from: &r, headerVersion: headerVersion)) != nil else { return }
        let body = Array(payload[r.index...])
        switch key {
        case ApiKey.metadata.rawValue:
            guard let m = try? MetadataResponse.decode(body, version: version) else { return }
            let again = Result { try MetadataResponse.decode(m.encoded(version: version), version: version) }
            check((try? again.get()) == m, "Metadata v\(version) round trip: \(again)")
        case ApiKey.findCoordinator.rawValue:
            guard let m = try? FindCoordinatorResponse.decode(body, version: version) else { return }
            let again = Result { try FindCoordinatorResponse.decode(m.encoded(version: version), version: version) }
            check((try? again.get()) == m, "FindCoordinator v\(version) round trip: \(again)")
        case ApiKey.describeCluster.rawValue:
            guard let m = try? DescribeClusterResponse.decode(body, version: version) else { return }
            let again = Result { try DescribeClusterResponse.decode(m.encoded(version: version), version: version) }
            check((try? again.get()) == m, "DescribeCluster v\(version) round trip: \(again)")
        case ApiKey.apiVersions.rawValue:
            guard payload.count >= 4, let m = try? ApiVersionsResponse.decode(Array(payload[4...]), version: version),
                  !m.isV0Fallback else { return }
            let again = Result { try ApiVersionsResponse.decode(m.encoded(version: version), version: version) }
            check((try? again.get()) == m, "ApiVersions v\(version) round trip: \(again)")
        case ApiKey.initProducerId.rawValue:
            guard let m = try? InitProducerIdResponse.decode(payload: payload, version: version) else { return }
            var w = ByteWriter()
            w.writeRawBytes(payload[..<r.index])
            m.encode(into: &w, version: version)
            let again = Result { try InitProducerIdResponse.decode(payload: w.bytes, version: version) }
            check((try? again.get()) == m, "InitProducerId v\(version) round trip: \(again)")
        default:
            break
        }
    }

    // MARK: response stream (ResponseRelay + ResponseRewriter)

    /// Input: [request count, (api, version) per request, max frame selector, chunking seed,
    /// broker byte stream...]. Requests get correlation ids 1, 2, ... The stream is relayed whole
    /// and cut into random reads: same bytes to the client, same error.
    static func responseRelay(_ data: [UInt8]) {
        var c = Control(data)
        let n = 1 + Int(c.byte() % 8)
        var requests: [InflightRequest] = []
        for i in 0..<n {
            let (key, version) = pickApi(&c)
            requests.append(InflightRequest(correlationId: Int32(i + 1), apiKey: key, apiVersion: version, startNanos: 0))
        }
        let maxFrame = [16, 512, 1 << 20][Int(c.byte()) % 3]
        var chunker = Chunker(seed: c.byte())
        let stream = c.rest

        func run(_ chunks: [[UInt8]]) -> (out: [UInt8], error: ProxyStreamError?, responses: Int, boundary: Bool) {
            var relay = ResponseRelay(maxFrameBytes: maxFrame)
            var inflight = InflightQueue(capacity: 2)
            for r in requests { inflight.append(r) }
            var out: [UInt8] = []
            var responses = 0
            for chunk in chunks {
                let result = chunk.withUnsafeBytes { raw in
                    Result { () throws(ProxyStreamError) in
                        try relay.relay(
                            raw, inflight: &inflight,
                            needsRewrite: { ResponseRewriter.needsRewrite(apiKey: $0.apiKey, apiVersion: $0.apiVersion) },
                            rewrite: { request, payload throws(ProxyStreamError) in
                                try rewriter.rewrite(request: request, payload: payload, localPort: localPort)
                            },
                            onResponse: { _, _, _ in responses += 1 },
                            emit: { output in
                                switch output {
                                case .borrowed(let bytes): out.append(contentsOf: bytes)
                                case .owned(let bytes): out.append(contentsOf: bytes)
                                }
                            })
                    }
                }
                if debugRelay { eprint("chunk \(chunk.count) -> \(result), out \(out.count), inflight \(inflight.count), boundary \(relay.isAtFrameBoundary)") }
                if case .failure(let error) = result { return (out, error, responses, false) }
            }
            return (out, nil, responses, relay.isAtFrameBoundary)
        }

        let whole = run(stream.isEmpty ? [] : [stream])
        let cut = run(chunker.split(stream, maxChunk: 1 + Int(stream.count % 29)))
        check(whole.error?.reason == cut.error?.reason,
              "errors differ: whole \(String(describing: whole.error)) vs cut \(String(describing: cut.error))")
        guard whole.error == nil else { return }
        check(whole.out == cut.out, "client bytes differ: whole \(whole.out.count) vs cut \(cut.out.count)")
        check(whole.responses == cut.responses && whole.boundary == cut.boundary, "responses/boundary differ")
        if !requests.contains(where: { ResponseRewriter.needsRewrite(apiKey: $0.apiKey, apiVersion: $0.apiVersion) }) {
            // A frame's first 8 bytes (size, correlation id) are held back until checked, so a
            // stream that ends inside them has up to 8 bytes not relayed yet.
            let relayedAll = whole.boundary ? whole.out == stream
                : stream.starts(with: whole.out) && stream.count - whole.out.count <= 8
            check(relayedAll, "pass-through responses were altered: in \(stream.count) bytes, out \(whole.out.count), boundary \(whole.boundary)")
        }
        // Every frame sent to the client is well formed: sizes chain exactly to the end.
        var i = 0
        var frames = 0
        while whole.boundary && i + 4 <= whole.out.count {
            let size = Int(Int32(bitPattern: UInt32(whole.out[i]) << 24 | UInt32(whole.out[i + 1]) << 16
                | UInt32(whole.out[i + 2]) << 8 | UInt32(whole.out[i + 3])))
            check(size >= 4, "frame size \(size) sent to the client")
            i += 4 + size
            frames += 1
        }
        if whole.boundary { check(i == whole.out.count && frames == whole.responses, "client frames do not chain") }
        // (Not at a boundary, the last frame's size may not be checked yet: the relay streams a
        // pass-through frame's first bytes before it has seen all 8 it validates.)
    }

    // MARK: Produce batches (ProduceRequestBatches.locate/patch, ProducerIdTranslator)

    /// Input: [version, produce request payload (header + body)...]. The header is peeked as the
    /// proxy does; every batch found must lie inside the request, and after translation the
    /// request keeps its size, its batches stay where they were and their CRCs are valid.
    static func produceBatches(_ data: [UInt8]) {
        guard let info = try? data.withUnsafeBytes({ try RequestHeader.peek($0, frameLength: data.count) }) else { return }
        // The proxy only translates Produce, but locate must hold on any bytes it is handed.
        let version = info.apiKey == ApiKey.produce.rawValue ? info.apiVersion : Int16(data[1] % 15)
        guard let batches = try? ProduceRequestBatches.locate(payload: data, headerLength: info.headerLength, version: version) else { return }
        for b in batches {
            check(b.offset >= info.headerLength && b.length >= 61 && b.offset + b.length <= data.count,
                  "batch at \(b.offset) of \(b.length) bytes in \(data.count)")
        }
        var payload = data
        var translator = ProducerIdTranslator()
        var outcome: ProducerIdTranslator.Outcome = .unchanged
        for round in 0...batches.count {
            do {
                outcome = try translator.translate(&payload, headerLength: info.headerLength, version: version) { $0 % 3 != 1 }
            } catch {
                check(false, "translate threw on a request locate accepted: \(error)")
            }
            guard case .needsProducerId(let client) = outcome else { break }
            check(payload == data, "payload changed before every producer id was known")
            translator.issued(for: client, producerId: 4_000_000 + Int64(round), epoch: 7)
        }
        check(payload.count == data.count, "translation changed the request size")
        if case .rewritten = outcome {
            let after = try? ProduceRequestBatches.locate(payload: payload, headerLength: info.headerLength, version: version)
            check(after?.map(\.offset) == batches.map(\.offset), "batches moved after translation")
            // Every batch the translator touched carries a valid CRC32C afterwards.
            for b in after ?? [] where payload[b.offset..<(b.offset + b.length)] != data[b.offset..<(b.offset + b.length)] {
                check(ProduceRequestBatches.crcIsValid(payload, batch: b),
                      "patched batch at \(b.offset) (\(b.length) bytes, producer \(b.producerId)) has a bad CRC; batches \(batches)")
            }
        }
    }

    /// Group requests the proxy reads: first byte the api, second the version, then a request body.
    /// Properties: no trap; what decodes re-encodes to bytes that decode to the same value; a commit's
    /// refusal reads back with every partition of the request, each with the error.
    static func groupRequests(_ data: [UInt8]) {
        var control = Control(data)
        let api = control.byte() % 6
        let body = control.rest
        switch api {
        case 0:
            let version = Int16(control.byte() % UInt8(OffsetCommitRequest.maxVersion + 1))
            guard let request = try? OffsetCommitRequest.decode(body: Array(body.dropFirst()), version: version) else { return }
            let again = try? OffsetCommitRequest.decode(body: request.encoded(version: version), version: version)
            check(again?.encoded(version: version) == request.encoded(version: version), "OffsetCommit v\(version) round trip")
            let answer = CommitRefusal.offsetCommitResponse(request.committed, errorCode: 25, version: version)
            let back = try? CommitRefusal.decodeResponse(answer, throttle: version >= 3, flexible: version >= 8)
            check(back?.map { "\($0.0)/\($0.1)/\($0.2)" } == request.committed.flatMap { t in t.partitions.map { "\(t.name)/\($0)/25" } },
                  "OffsetCommit v\(version) refusal does not echo the partitions")
        case 1:
            let version = Int16(control.byte() % UInt8(TxnOffsetCommitRequest.maxVersion + 1))
            guard let request = try? TxnOffsetCommitRequest.decode(body: Array(body.dropFirst()), version: version) else { return }
            let again = try? TxnOffsetCommitRequest.decode(body: request.encoded(version: version), version: version)
            check(again == request, "TxnOffsetCommit v\(version) round trip")
            let answer = CommitRefusal.txnOffsetCommitResponse(request.committed, errorCode: 25, version: version)
            let back = try? CommitRefusal.decodeResponse(answer, throttle: true, flexible: version >= 3)
            check(back?.count == request.committed.reduce(0) { $0 + $1.partitions.count }, "TxnOffsetCommit refusal")
        case 2:
            let version = Int16(control.byte() % UInt8(LeaveGroupMembers.maxVersion + 1))
            guard let leave = try? LeaveGroupMembers.decode(body: Array(body.dropFirst()), version: version) else { return }
            if version >= 3 || leave.memberIds.count == 1 {
                check((try? LeaveGroupMembers.decode(body: leave.encoded(version: version), version: version)) == leave,
                      "LeaveGroup v\(version) round trip")
            }
        case 3:
            let version = Int16(control.byte() % UInt8(HeartbeatMember.maxVersion + 1))
            guard let beat = try? HeartbeatMember.decode(body: Array(body.dropFirst()), version: version) else { return }
            check((try? HeartbeatMember.decode(body: beat.encoded(version: version), version: version)) == beat,
                  "Heartbeat v\(version) round trip")
        case 4:
            let version = Int16(control.byte() % UInt8(SyncGroupMember.maxVersion + 1))
            _ = try? SyncGroupMember.decode(body: Array(body.dropFirst()), version: version)
        default:
            // A Fetch whose epochs the proxy clears: same length, a second pass finds nothing to clear.
            let version = Int16(control.byte() % 18)
            let frame = Array(body.dropFirst())
            guard let cleared = frame.withUnsafeBytes({ FetchLeaderEpochs.cleared(frame: $0, bodyStart: 0, version: version) })
            else { return }
            check(cleared.count == frame.count, "Fetch v\(version) epochs cleared changed the length")
            check(cleared.withUnsafeBytes { FetchLeaderEpochs.cleared(frame: $0, bodyStart: 0, version: version) } == nil,
                  "Fetch v\(version) epochs left after clearing")
        }
    }
}
