import KafkaProtocol
@testable import ProxyCore
import XCTest

final class RequestRelayTests: XCTestCase {
    /// A request frame of the pipeline below and what the relay must report for it.
    private struct Fixture {
        var bytes: [UInt8]
        var request: ObservedRequest
    }

    private static func fixture(_ bytes: [UInt8], _ api: ApiKey, _ version: Int16, _ correlationId: Int32,
                                headerLength: Int, expectsResponse: Bool = true) -> Fixture {
        Fixture(bytes: bytes, request: ObservedRequest(apiKey: api.rawValue, apiVersion: version, correlationId: correlationId,
                                                       frameBytes: bytes.count, headerLength: headerLength,
                                                       expectsResponse: expectsResponse))
    }

    /// Header lengths counted by hand: 8 fixed bytes, int16 client id length + "test-client"
    /// (11), +1 empty tag buffer for flexible (header v2) versions.
    private static let fixtures: [Fixture] = [
        // SaslHandshake v1, written out byte by byte: client id "c1", mechanism "PLAIN".
        fixture([0, 0, 0, 19, 0, 17, 0, 1, 0, 0, 0, 9, 0, 2, 0x63, 0x31, 0, 5, 0x50, 0x4c, 0x41, 0x49, 0x4e],
                .saslHandshake, 1, 9, headerLength: 12),
        fixture(StreamFixtures.request(.apiVersions, 3, correlationId: 1,
                                       body: [0x06] + Array("swift".utf8) + [0x04] + Array("1.0".utf8) + [0]),
                .apiVersions, 3, 1, headerLength: 22),
        fixture(StreamFixtures.produce(version: 3, correlationId: 2, acks: 1, transactionalId: "tx-1"),
                .produce, 3, 2, headerLength: 21),
        fixture(StreamFixtures.produce(version: 9, correlationId: 3, acks: 0), .produce, 9, 3, headerLength: 22,
                expectsResponse: false),
        fixture(StreamFixtures.request(.metadata, 12, correlationId: 4, body: [0x01, 0x01, 0x00, 0x00]),
                .metadata, 12, 4, headerLength: 22),
        fixture(StreamFixtures.request(.saslHandshake, 1, correlationId: 5, body: [0, 5] + Array("PLAIN".utf8)),
                .saslHandshake, 1, 5, headerLength: 21),
        fixture(StreamFixtures.produce(version: 9, correlationId: 6, acks: 1), .produce, 9, 6, headerLength: 22),
        fixture(StreamFixtures.produce(version: 3, correlationId: 7, acks: 0), .produce, 3, 7, headerLength: 21,
                expectsResponse: false),
        // ApiVersions v0 with a null client id (header v1, length -1), no body.
        fixture([0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 8, 0xff, 0xff], .apiVersions, 0, 8, headerLength: 10),
    ]

    private static let stream = fixtures.flatMap(\.bytes)
    private static let requests = fixtures.map(\.request)
    private static let frames = fixtures.map(\.bytes)

    private struct Output {
        /// `.request` and `.frame` events, in order.
        var requests: [ObservedRequest] = []
        /// Every byte of `.forward` events, in order.
        var streamed: [UInt8] = []
        var frames: [[UInt8]] = []
        /// Frames lent from the chunk itself (not copied into the relay).
        var borrowedFrames = 0
        /// `.forward` events per chunk.
        var forwardsPerChunk: [Int] = []
        /// Bytes as they went out, whichever the event: the stream the broker would see.
        var sent: [UInt8] = []
    }

    private enum Action { case proceed, hold }

    /// Feeds `chunks` and then one empty chunk (to drain held frames), letting `react` switch
    /// the mode or hold a frame after each event.
    private func run(_ chunks: [[UInt8]], mode: RequestRelay.Mode, max: Int = 1 << 20,
                     react: (inout RequestRelay, RequestEvent) -> Action = { _, _ in .proceed })
        throws(ProxyStreamError) -> (Output, RequestRelay) {
        var relay = RequestRelay(maxFrameBytes: max, mode: mode)
        var out = Output()
        for chunk in chunks + [[]] {
            try chunk.withUnsafeBytes { raw in
                Result { () throws(ProxyStreamError) in
                    var index = 0
                    var forwards = 0
                    while let event = try relay.next(raw, &index) {
                        if react(&relay, event) == .hold {
                            relay.holdLastFrame(raw, &index)
                            XCTAssertEqual(index, raw.count)
                            continue
                        }
                        switch event {
                        case .request(let request):
                            out.requests.append(request)
                        case .forward(let bytes):
                            forwards += 1
                            out.streamed += bytes
                            out.sent += bytes
                        case .frame(let request, let bytes):
                            out.requests.append(request)
                            out.frames.append(Array(bytes))
                            out.sent += bytes
                            if let base = raw.baseAddress, let start = bytes.baseAddress,
                               start >= base, start + bytes.count <= base + raw.count {
                                out.borrowedFrames += 1
                            }
                        }
                    }
                    XCTAssertEqual(index, raw.count)
                    out.forwardsPerChunk.append(forwards)
                }
            }.get()
        }
        return (out, relay)
    }

    private func splits(_ stream: [UInt8]) -> [(String, [[UInt8]])] {
        (0...stream.count).map { ("split at \($0)", [Array(stream[..<$0]), Array(stream[$0...])]) }
            + [("one byte at a time", stream.map { [$0] })]
    }

    // MARK: streaming

    func testStreamingForwardsEachReadAsOneRangeAfterItsRequests() throws {
        let (out, relay) = try run([Self.stream], mode: .streaming)
        XCTAssertEqual(out.requests, Self.requests)
        XCTAssertEqual(out.streamed, Self.stream)
        XCTAssertEqual(out.forwardsPerChunk, [1, 0])
        XCTAssertTrue(out.frames.isEmpty)
        XCTAssertTrue(relay.isAtFrameBoundary)
        XCTAssertEqual(relay.bufferedBytes, 0)
    }

    func testStreamingEventOrder() throws {
        // Every .request of a read comes before the read's one .forward.
        var relay = RequestRelay(maxFrameBytes: 1 << 20)
        var kinds: [String] = []
        try Self.stream.withUnsafeBytes { raw in
            try Result { () throws(ProxyStreamError) in
                var index = 0
                while let event = try relay.next(raw, &index) {
                    switch event {
                    case .request(let r): kinds.append("r\(r.correlationId)")
                    case .forward(let b): kinds.append("f\(b.count)")
                    case .frame: kinds.append("frame")
                    }
                }
            }.get()
        }
        XCTAssertEqual(kinds, Self.requests.map { "r\($0.correlationId)" } + ["f\(Self.stream.count)"])
    }

    func testStreamingAtEverySplit() throws {
        for (name, chunks) in splits(Self.stream) {
            let (out, relay) = try run(chunks, mode: .streaming)
            XCTAssertEqual(out.requests, Self.requests, name)
            XCTAssertEqual(out.streamed, Self.stream, name)
            XCTAssertEqual(out.forwardsPerChunk, chunks.map { $0.isEmpty ? 0 : 1 } + [0], name)
            XCTAssertTrue(relay.isAtFrameBoundary, name)
        }
    }

    // MARK: framing

    func testFramingLendsFramesThatLieWholeInARead() throws {
        let (out, relay) = try run([Self.stream], mode: .framing)
        XCTAssertEqual(out.requests, Self.requests)
        XCTAssertEqual(out.frames, Self.frames)
        XCTAssertEqual(out.borrowedFrames, Self.frames.count, "no frame was copied")
        XCTAssertTrue(out.streamed.isEmpty)
        XCTAssertTrue(relay.isAtFrameBoundary)
    }

    func testFramingAtEverySplit() throws {
        for (name, chunks) in splits(Self.stream) {
            let (out, relay) = try run(chunks, mode: .framing)
            XCTAssertEqual(out.requests, Self.requests, name)
            XCTAssertEqual(out.frames, Self.frames, name)
            XCTAssertTrue(out.streamed.isEmpty, name)
            XCTAssertTrue(relay.isAtFrameBoundary, name)
            XCTAssertEqual(relay.bufferedBytes, 0, name)
        }
        // Split at 5: only the first frame straddles; every other one is lent from the second read.
        let (out, _) = try run([Array(Self.stream[..<5]), Array(Self.stream[5...])], mode: .framing)
        XCTAssertEqual(out.borrowedFrames, Self.frames.count - 1)
    }

    // MARK: mode switches

    func testModeSwitchTakesEffectAtTheNextFrameBoundary() throws {
        for (from, to) in [(RequestRelay.Mode.streaming, RequestRelay.Mode.framing), (.framing, .streaming)] {
            let cuts = splits(Self.stream)
            for switchAfter in Self.fixtures.indices {
                let framed = from == .framing ? Array(Self.frames[...switchAfter]) : Array(Self.frames[(switchAfter + 1)...])
                for (name, chunks) in cuts {
                    var events = 0
                    let (out, relay) = try run(chunks, mode: from) { relay, event in
                        switch event {
                        case .request, .frame:
                            if events == switchAfter { relay.mode = to }
                            events += 1
                        case .forward: break
                        }
                        return .proceed
                    }
                    let label = "\(from) -> \(to) after frame \(switchAfter), \(name)"
                    XCTAssertEqual(out.requests, Self.requests, label)
                    XCTAssertEqual(out.sent, Self.stream, label)
                    XCTAssertEqual(out.frames, framed, label)
                    XCTAssertTrue(relay.isAtFrameBoundary, label)
                }
            }
        }
    }

    // MARK: holding

    func testHeldFramesComeBackInOrderWithNothingLostOrDuplicated() throws {
        for (name, chunks) in splits(Self.stream) {
            var held = Set<Int32>()
            let (out, relay) = try run(chunks, mode: .framing) { _, event in
                guard case .frame(let request, _) = event, !held.contains(request.correlationId) else { return .proceed }
                held.insert(request.correlationId)
                return .hold
            }
            XCTAssertEqual(held.count, Self.frames.count, name)
            XCTAssertEqual(out.frames, Self.frames, name)
            XCTAssertEqual(out.requests, Self.requests, name)
            XCTAssertTrue(relay.isAtFrameBoundary, name)
        }
    }

    func testHeldBytesStreamAfterASwitchToStreaming() throws {
        // Hold frame k, switch to streaming: the held frame and everything after it (whole
        // frames, a partial body, a partial header) stream out in order.
        let cuts = splits(Self.stream)
        for holdAt in Self.fixtures.indices {
            let framed = Array(Self.frames[..<holdAt])
            let streamed = Array(Self.frames[holdAt...].joined())
            for (name, chunks) in cuts {
                var seen = 0
                var holding = true
                let (out, relay) = try run(chunks, mode: .framing) { relay, event in
                    guard case .frame = event else { return .proceed }
                    if seen == holdAt && holding {
                        holding = false
                        relay.mode = .streaming
                        return .hold
                    }
                    seen += 1
                    return .proceed
                }
                let label = "hold at \(holdAt), \(name)"
                XCTAssertEqual(out.requests, Self.requests, label)
                XCTAssertEqual(out.frames, framed, label)
                XCTAssertEqual(out.streamed, streamed, label)
                XCTAssertTrue(relay.isAtFrameBoundary, label)
            }
        }
    }

    func testHoldKeepsTheFrameAndTheRestOfTheRead() throws {
        var relay = RequestRelay(maxFrameBytes: 1 << 20, mode: .framing)
        let first = Self.frames[0].count
        try Self.stream.withUnsafeBytes { raw in
            try Result { () throws(ProxyStreamError) in
                var index = 0
                guard case .frame(let request, _) = try relay.next(raw, &index) else { return XCTFail("no frame") }
                XCTAssertEqual(request.correlationId, 9)
                XCTAssertEqual(index, first)
                relay.holdLastFrame(raw, &index)
                XCTAssertEqual(index, raw.count)
                XCTAssertEqual(relay.bufferedBytes, raw.count)
                XCTAssertEqual(relay.bytesIntoFrame, 0)
                XCTAssertFalse(relay.isAtFrameBoundary)
            }.get()
        }
        // Resumed with an empty read: the same frames, now from the relay's buffer.
        var frames: [[UInt8]] = []
        try [UInt8]().withUnsafeBytes { raw in
            try Result { () throws(ProxyStreamError) in
                var index = 0
                while let event = try relay.next(raw, &index) {
                    guard case .frame(_, let bytes) = event else { return XCTFail("\(event)") }
                    frames.append(Array(bytes))
                    XCTAssertEqual(relay.bufferedBytes, Self.stream.count - frames.joined().count)
                }
            }.get()
        }
        XCTAssertEqual(frames, Self.frames)
        XCTAssertTrue(relay.isAtFrameBoundary)
    }

    func testManyHeldFramesDrainWithoutLosingAny() throws {
        // Large enough for the buffer to compact while it drains.
        let frames = (0..<2000).map { StreamFixtures.request(.metadata, 12, correlationId: Int32($0), body: [1, 1, 0, 0]) }
        let stream = Array(frames.joined())
        var out: [[UInt8]] = []
        var holdNext = true
        var relay = RequestRelay(maxFrameBytes: 1 << 20, mode: .framing)
        for chunk in [stream, [], [], []] {
            try chunk.withUnsafeBytes { raw in
                try Result { () throws(ProxyStreamError) in
                    var index = 0
                    while let event = try relay.next(raw, &index) {
                        guard case .frame(_, let bytes) = event else { return XCTFail("\(event)") }
                        // Hold every 500th frame once: the drain restarts from the buffer.
                        if holdNext && out.count % 500 == 0 && out.count > 0 {
                            holdNext = false
                            relay.holdLastFrame(raw, &index)
                            return
                        }
                        holdNext = true
                        out.append(Array(bytes))
                    }
                }.get()
            }
        }
        var index = 0
        try [UInt8]().withUnsafeBytes { raw in
            try Result { () throws(ProxyStreamError) in
                while let event = try relay.next(raw, &index) {
                    guard case .frame(_, let bytes) = event else { return XCTFail("\(event)") }
                    out.append(Array(bytes))
                }
            }.get()
        }
        XCTAssertEqual(out, frames)
        XCTAssertTrue(relay.isAtFrameBoundary)
    }

    // MARK: counters

    func testBufferedBytesAndBytesIntoFrame() throws {
        let frame = Self.fixtures[2].bytes   // Produce v3, transactional: header 21 bytes + acks
        /// The events of one read; frames copied, as they are only valid until the next call.
        func feed(_ relay: inout RequestRelay, _ bytes: ArraySlice<UInt8>) throws -> [(ObservedRequest?, [UInt8])] {
            try Array(bytes).withUnsafeBytes { raw in
                try Result { () throws(ProxyStreamError) in
                    var index = 0
                    var events: [(ObservedRequest?, [UInt8])] = []
                    while let event = try relay.next(raw, &index) {
                        switch event {
                        case .request(let request): events.append((request, []))
                        case .forward(let bytes): events.append((nil, Array(bytes)))
                        case .frame(let request, let bytes): events.append((request, Array(bytes)))
                        }
                    }
                    return events
                }.get()
            }
        }
        // Streaming, a header straddling reads: the copy of its start is all that is kept.
        var streaming = RequestRelay(maxFrameBytes: 1 << 20)
        XCTAssertTrue(try feed(&streaming, frame[..<6]).count == 1)
        XCTAssertEqual(streaming.bytesIntoFrame, 6)
        XCTAssertEqual(streaming.bufferedBytes, 6)
        XCTAssertFalse(streaming.isAtFrameBoundary)
        // Header complete (acks is 4 + 21 + 2 + 4 bytes in), the body streams: nothing kept.
        XCTAssertEqual(try feed(&streaming, frame[6..<40]).count, 2)
        XCTAssertEqual(streaming.bytesIntoFrame, 40)
        XCTAssertEqual(streaming.bufferedBytes, 0)
        _ = try feed(&streaming, frame[40...])
        XCTAssertEqual(streaming.bytesIntoFrame, 0)
        XCTAssertTrue(streaming.isAtFrameBoundary)

        // Framing: the whole partial frame is kept.
        var framing = RequestRelay(maxFrameBytes: 1 << 20, mode: .framing)
        XCTAssertTrue(try feed(&framing, frame[..<3]).isEmpty)
        XCTAssertEqual(framing.bytesIntoFrame, 3)
        XCTAssertTrue(try feed(&framing, frame[3..<100]).isEmpty)
        XCTAssertEqual(framing.bytesIntoFrame, 100)
        XCTAssertEqual(framing.bufferedBytes, 100)
        let events = try feed(&framing, frame[100...] + Self.frames[3][..<10])
        XCTAssertEqual(events.count, 1)
        XCTAssertEqual(events.first?.0, Self.requests[2])
        XCTAssertEqual(events.first?.1, frame)
        XCTAssertEqual(framing.bytesIntoFrame, 10)
        XCTAssertEqual(framing.bufferedBytes, 10)
    }

    func testHeaderLengthReachesTheBody() throws {
        let (out, _) = try run([Self.stream], mode: .framing)
        for (request, frame) in zip(out.requests, out.frames) where request.apiKey == ApiKey.produce.rawValue {
            let body = Array(frame[(4 + request.headerLength)...])
            XCTAssertEqual(try ProduceRequest.peekAcks(body, version: request.apiVersion).map { $0 != 0 },
                           request.expectsResponse)
        }
        XCTAssertEqual(Array(out.frames[0][(4 + out.requests[0].headerLength)...]), [0, 5] + Array("PLAIN".utf8))
    }

    // MARK: errors

    /// The reason (and a piece of the detail) each bad stream fails with, in both modes and
    /// however it is cut; the good frame in front of it changes nothing.
    func testEveryErrorReasonInBothModesAtEverySplit() {
        let good = Self.frames[1]
        let cases: [(String, [UInt8], ProxyStreamError.Reason, String, Int)] = [
            ("negative size", [0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 0], .invalidFrameSize, "smaller than a request header", 1 << 20),
            ("size below a header", [0, 0, 0, 7] + Array(repeating: 0, count: 7), .invalidFrameSize, "request size 7", 1 << 20),
            ("over the limit", [0, 0, 4, 1, 0, 18], .frameTooLarge, "exceeds limits.maxRequestBytes (1024)", 1024),
            ("unknown api key", KafkaFrame.framed([0x27, 0x0f, 0, 0, 0, 0, 0, 1, 0, 0]), .unknownApiKey, "request api key 9999", 1 << 20),
            ("too new to rewrite", StreamFixtures.request(.metadata, 99, correlationId: 1), .unsupportedVersion,
             "newer than this proxy decodes", 1 << 20),
            ("header longer than its frame", KafkaFrame.framed([0, 3, 0, 1, 0, 0, 0, 9, 0, 200, 0x61, 0x62]),
             .malformedRequest, "request header", 1 << 20),
            ("negative client id length", KafkaFrame.framed([0, 3, 0, 1, 0, 0, 0, 9, 0xff, 0xf0, 0x61, 0x62]),
             .malformedRequest, "client_id length", 1 << 20),
            ("produce ends before acks", KafkaFrame.framed([0, 0, 0, 3, 0, 0, 0, 9, 0xff, 0xff, 0, 0]),
             .malformedRequest, "produce request ends before acks", 1 << 20),
        ]
        for (what, bad, reason, detail, max) in cases {
            let stream = (max >= good.count ? good : []) + bad
            for mode in [RequestRelay.Mode.streaming, .framing] {
                for (name, chunks) in splits(stream) {
                    XCTAssertThrowsError(try run(chunks, mode: mode, max: max), "\(what), \(mode), \(name)") { error in
                        let error = error as? ProxyStreamError
                        XCTAssertEqual(error?.reason, reason, "\(what), \(mode), \(name): \(String(describing: error))")
                        XCTAssertTrue(error?.detail.contains(detail) ?? false, "\(what): \(String(describing: error))")
                    }
                }
            }
        }
    }

    func testAStraddlingHeaderPastTheHeaderLimitIsRefused() {
        // Metadata v12 (flexible header) whose tagged fields never end within the limit: a
        // streaming relay keeps at most `headerLimit` bytes of a straddling header.
        let size = RequestRelay.headerLimit + 1000
        var frame: [UInt8] = withUnsafeBytes(of: Int32(size).bigEndian) { Array($0) }
        frame += [0, 3, 0, 12, 0, 0, 0, 1, 0, 0]   // empty client id
        frame += [0x01, 0x00, 0x80, 0x80, 0x05]     // one tag of 81920 bytes (varint)
        frame += Array(repeating: 0x11, count: size + 4 - frame.count)
        XCTAssertThrowsError(try run([Array(frame[..<10]), Array(frame[10...])], mode: .streaming)) { error in
            XCTAssertEqual((error as? ProxyStreamError)?.reason, .malformedRequest)
            XCTAssertEqual((error as? ProxyStreamError)?.detail, "request header does not fit in its \(size + 4)-byte frame")
        }
    }
}
