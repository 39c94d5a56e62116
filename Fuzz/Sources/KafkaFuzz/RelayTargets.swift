import KafkaProtocol
import ProxyCore

/// Small pseudo-random decisions (xorshift) seeded from the input, for the pull-API targets.
struct Dice {
    private var state: UInt64
    init(seed: UInt8) { state = 0x2545_F491_4F6C_DD1D ^ (UInt64(seed) &* 0x9E37_79B9_7F4A_7C15) | 1 }

    mutating func roll(_ sides: Int) -> Int {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Int(state % UInt64(sides))
    }
}

extension FuzzTargets {
    // MARK: request relay (ProxyCore RequestRelay, pull API)

    /// Input: [max frame selector, chunking seed, decision seed, client byte stream...]. The
    /// stream goes through a streaming relay whole (the reference) and through a relay cut into
    /// random reads that switches mode and holds frames at random. The second must report the
    /// same requests, fail the same way, and send exactly the input: every byte once, in order,
    /// framed output being exactly the input's frames.
    static func requestRelay(_ data: [UInt8]) {
        var c = Control(data)
        let maxFrame = [64, 4096, 100 << 20][Int(c.byte()) % 3]
        var chunker = Chunker(seed: c.byte())
        var dice = Dice(seed: c.byte())
        let stream = c.rest

        var reference = RequestRelay(maxFrameBytes: maxFrame)
        var expected: [ObservedRequest] = []
        var expectedError: ProxyStreamError?
        stream.withUnsafeBytes { raw in
            var index = 0
            do throws(ProxyStreamError) {
                while let event = try reference.next(raw, &index) {
                    if case .request(let request) = event { expected.append(request) }
                }
            } catch {
                expectedError = error
            }
        }

        var relay = RequestRelay(maxFrameBytes: maxFrame, mode: dice.roll(2) == 0 ? .streaming : .framing)
        var seen: [ObservedRequest] = []
        var sent: [UInt8] = []
        var error: ProxyStreamError?
        var holds = 0
        // Two empty reads at the end drain held frames; nothing is held during the last one.
        let chunks = chunker.split(stream, maxChunk: 1 + Int(stream.count % 37)) + [[], []]
        reads: for (k, chunk) in chunks.enumerated() {
            let mayHold = k < chunks.count - 1
            chunk.withUnsafeBytes { raw in
                var index = 0
                do throws(ProxyStreamError) {
                    while let event = try relay.next(raw, &index) {
                        switch event {
                        case .request(let request):
                            seen.append(request)
                        case .forward(let bytes):
                            check(bytes.count > 0, "empty forward")
                            sent.append(contentsOf: bytes)
                        case .frame(let request, let bytes):
                            check(bytes.count == request.frameBytes, "frame of \(bytes.count) bytes, request says \(request.frameBytes)")
                            if mayHold && holds < 200 && dice.roll(4) == 0 {
                                holds += 1
                                if dice.roll(2) == 0 { relay.mode = relay.mode == .framing ? .streaming : .framing }
                                relay.holdLastFrame(raw, &index)
                                check(index == raw.count, "hold left the read unfinished")
                                continue
                            }
                            seen.append(request)
                            sent.append(contentsOf: bytes)
                        }
                        if dice.roll(8) == 0 { relay.mode = relay.mode == .framing ? .streaming : .framing }
                    }
                    check(index == raw.count, "read not consumed: \(index) of \(raw.count)")
                } catch let e {
                    error = e
                }
            }
            if error != nil { break reads }
        }
        check(error?.reason == expectedError?.reason,
              "errors differ: reference \(String(describing: expectedError)) vs relay \(String(describing: error))")
        check(stream.starts(with: sent), "sent bytes are not the input: \(sent.count) of \(stream.count)")
        guard error == nil else { return }
        // A frame the stream ends inside is reported by streaming (its header is there), but
        // never by framing (it is not whole).
        check(seen == expected || (!relay.isAtFrameBoundary && seen == expected.dropLast()),
              "requests differ: reference \(expected.count), relay \(seen.count)")
        check(relay.isAtFrameBoundary == reference.isAtFrameBoundary, "frame boundary differs")
        if relay.isAtFrameBoundary {
            check(sent == stream, "at a boundary after \(sent.count) of \(stream.count) bytes")
            check(relay.bufferedBytes == 0 && relay.bytesIntoFrame == 0, "kept bytes at a boundary")
        } else {
            // What is not sent yet is kept, never dropped (or it all went out, and a straddling
            // header's copy is kept to parse it).
            check(sent.count == stream.count || sent.count + relay.bufferedBytes == stream.count,
                  "bytes lost: sent \(sent.count) + kept \(relay.bufferedBytes) of \(stream.count)")
        }
        for r in seen {
            check(r.headerLength >= 8 && 4 + r.headerLength <= r.frameBytes, "header of \(r.headerLength) bytes in a \(r.frameBytes)-byte frame")
        }
    }

    // MARK: response relay (ProxyCore ResponseRelay, pull API)

    /// Input: [request count, (api, version) per request, proxy/stray selector, max frame
    /// selector, chunking seed, broker byte stream...]. Requests get correlation ids 1, 2, ...;
    /// the selector makes some of them the proxy's own and records ids 20... as acks=0 strays.
    /// The pull API over random reads must give the client the same bytes, the proxy the same
    /// answers and fail the same way as the closure API over the whole stream, and every
    /// `.response` must be a request it popped from the in-flight queue.
    static func responseRelayPull(_ data: [UInt8]) {
        var c = Control(data)
        let n = 1 + Int(c.byte() % 8)
        var requests: [InflightRequest] = []
        for i in 0..<n {
            let (key, version) = pickApi(&c)
            requests.append(InflightRequest(correlationId: Int32(i + 1), apiKey: key, apiVersion: version, startNanos: 0))
        }
        let selector = c.byte()
        for i in requests.indices where selector & (1 << UInt8(i % 4)) != 0 && i % 3 == 2 { requests[i].fromProxy = true }
        var strays = StrayResponses()
        for id in Int32(20)..<(20 + Int32(selector >> 4)) { strays.record(id) }
        let maxFrame = [16, 512, 1 << 20][Int(c.byte()) % 3]
        var chunker = Chunker(seed: c.byte())
        let stream = c.rest
        let needsRewrite: (InflightRequest) -> Bool = { ResponseRewriter.needsRewrite(apiKey: $0.apiKey, apiVersion: $0.apiVersion) }

        // Reference: the closure API, whole stream.
        var reference = ResponseRelay(maxFrameBytes: maxFrame)
        var referenceQueue = InflightQueue(capacity: 2)
        for r in requests { referenceQueue.append(r) }
        var expectedOut: [UInt8] = []
        var expectedResponses: [Int32] = []
        var expectedProxy: [[UInt8]] = []
        var expectedError: ProxyStreamError?
        stream.withUnsafeBytes { raw in
            do throws(ProxyStreamError) {
                try reference.relay(
                    raw, inflight: &referenceQueue, needsRewrite: needsRewrite,
                    rewrite: { request, payload throws(ProxyStreamError) in
                        try rewriter.rewrite(request: request, payload: payload, localPort: localPort)
                    },
                    isStray: { strays.contains($0) },
                    onResponse: { request, _, _ in expectedResponses.append(request.correlationId) },
                    onProxyResponse: { _, payload in expectedProxy.append(payload) },
                    emit: { output in
                        switch output {
                        case .borrowed(let bytes): expectedOut.append(contentsOf: bytes)
                        case .owned(let bytes): expectedOut.append(contentsOf: bytes)
                        }
                    })
            } catch {
                expectedError = error
            }
        }

        var relay = ResponseRelay(maxFrameBytes: maxFrame)
        var queue = InflightQueue(capacity: 2)
        for r in requests { queue.append(r) }
        var out: [UInt8] = []
        var responses: [Int32] = []
        var proxy: [[UInt8]] = []
        var error: ProxyStreamError?
        var awaitingRewrite: Int32?
        for chunk in chunker.split(stream, maxChunk: 1 + Int(stream.count % 29)) {
            chunk.withUnsafeBytes { raw in
                var index = 0
                do throws(ProxyStreamError) {
                    while true {
                        let head = queue.first
                        let before = queue.count
                        guard let event = try relay.next(raw, &index, inflight: &queue, rewrites: needsRewrite, strays: strays) else { break }
                        switch event {
                        case .forward(let bytes):
                            check(bytes.count > 0, "empty forward")
                            if let base = raw.baseAddress, let start = bytes.baseAddress {
                                check(start >= base && start + bytes.count <= base + raw.count, "forward outside the read")
                            } else {
                                check(false, "forward without bytes")
                            }
                            out.append(contentsOf: bytes)
                        case .forwardPrefix(let prefix):
                            withUnsafeBytes(of: prefix.bigEndian) { out.append(contentsOf: $0) }
                        case .response(let request, let frameBytes, let collected):
                            check(request == head && queue.count == before - 1, "response \(request.correlationId) was not the popped head")
                            check(frameBytes >= 8 && frameBytes <= 4 + maxFrame, "response of \(frameBytes) bytes")
                            check(collected == needsRewrite(request), "response \(request.correlationId) collected: \(collected)")
                            if collected { awaitingRewrite = request.correlationId }
                            responses.append(request.correlationId)
                        case .rewrite(let request, let payload):
                            check(awaitingRewrite == request.correlationId, "rewrite without its response event")
                            awaitingRewrite = nil
                            let rewritten = try rewriter.rewrite(request: request, payload: payload, localPort: localPort)
                            out.append(contentsOf: KafkaFrame.framed(rewritten))
                        case .proxyResponse(let request, let payload):
                            check(request.fromProxy && request == head && queue.count == before - 1, "proxy response for \(request)")
                            proxy.append(payload)
                        case .localAnswer(let request):
                            check(false, "a local answer (\(request.correlationId)) with no local entry queued")
                        }
                    }
                    check(index == raw.count, "read not consumed: \(index) of \(raw.count)")
                } catch let e {
                    error = e
                }
            }
            if error != nil { break }
        }
        check(error?.reason == expectedError?.reason,
              "errors differ: closure \(String(describing: expectedError)) vs pull \(String(describing: error))")
        guard error == nil else {
            // The responses before the bad frame went out, however the stream was cut.
            check(out == expectedOut, "bytes sent before the error differ: closure \(expectedOut.count) vs pull \(out.count)")
            return
        }
        check(out == expectedOut, "client bytes differ: closure \(expectedOut.count) vs pull \(out.count)")
        check(responses == expectedResponses, "responses differ")
        check(proxy == expectedProxy, "proxy answers differ")
        check(awaitingRewrite == nil, "a rewrite never came")
        check(queue.count == referenceQueue.count && relay.isAtFrameBoundary == reference.isAtFrameBoundary,
              "in-flight or boundary state differs")
    }
}
