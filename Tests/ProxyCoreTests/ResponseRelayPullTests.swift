import KafkaProtocol
@testable import ProxyCore
import XCTest

/// `ResponseRelay.next`, the event API the connection state machine uses.
final class ResponseRelayPullTests: XCTestCase {
    private static func needsRewrite(_ request: InflightRequest) -> Bool {
        ResponseRewriter.needsRewrite(apiKey: request.apiKey, apiVersion: request.apiVersion)
    }

    private func inflight(_ requests: [(ApiKey, Int16, Int32)], fromProxy: Set<Int32> = [],
                          local: Set<Int32> = []) -> InflightQueue {
        var queue = InflightQueue(capacity: 2)
        for (api, version, id) in requests {
            queue.append(InflightRequest(correlationId: id, apiKey: api.rawValue, apiVersion: version, startNanos: 0,
                                         fromProxy: fromProxy.contains(id), isLocal: local.contains(id)))
        }
        return queue
    }

    /// One event, with borrowed bytes copied (they are only valid until the next call).
    private enum Event: Equatable {
        case forward([UInt8])
        case forwardPrefix([UInt8])
        case response(Int32, Int)
        case rewrite(Int32, [UInt8])
        case proxyResponse(Int32, [UInt8])
        case local(Int32)
    }

    private struct Run {
        var events: [[Event]] = []     // per chunk
        var error: ProxyStreamError?
        var queue: InflightQueue
        var boundary = false

        /// What the client receives: pass-through bytes and the rewritten frames (unchanged here).
        var clientBytes: [UInt8] {
            events.joined().flatMap { event -> [UInt8] in
                switch event {
                case .forward(let b), .forwardPrefix(let b): b
                case .rewrite(_, let payload): KafkaFrame.framed(payload)
                case .response, .proxyResponse, .local: []
                }
            }
        }
        var responses: [Int32] {
            events.joined().compactMap { if case .response(let id, _) = $0 { id } else { nil } }
        }
    }

    private func run(_ chunks: [[UInt8]], queue: InflightQueue, strays: StrayResponses = StrayResponses(),
                     max: Int = 1 << 20) -> Run {
        var relay = ResponseRelay(maxFrameBytes: max)
        var result = Run(queue: queue)
        for chunk in chunks {
            var events: [Event] = []
            let outcome = chunk.withUnsafeBytes { raw in
                Result { () throws(ProxyStreamError) in
                    var index = 0
                    while let event = try relay.next(raw, &index, inflight: &result.queue,
                                                     rewrites: Self.needsRewrite, strays: strays) {
                        switch event {
                        case .forward(let bytes): events.append(.forward(Array(bytes)))
                        case .forwardPrefix(let prefix): events.append(.forwardPrefix(withUnsafeBytes(of: prefix.bigEndian) { Array($0) }))
                        case .response(let request, let frameBytes, let collected):
                            XCTAssertEqual(collected, Self.needsRewrite(request), "\(request.correlationId)")
                            events.append(.response(request.correlationId, frameBytes))
                        case .rewrite(let request, let payload): events.append(.rewrite(request.correlationId, payload))
                        case .proxyResponse(let request, let payload): events.append(.proxyResponse(request.correlationId, payload))
                        case .localAnswer(let request):
                            // As the machine does with an answer that is due: sent, popped.
                            events.append(.local(request.correlationId))
                            result.queue.popFirst()
                        }
                    }
                    XCTAssertEqual(index, raw.count)
                }
            }
            result.events.append(events)
            if case .failure(let error) = outcome {
                result.error = error
                // A failed relay stays failed.
                let again = [UInt8]().withUnsafeBytes { raw in
                    Result { () throws(ProxyStreamError) in
                        var index = 0
                        return try relay.next(raw, &index, inflight: &result.queue, rewrites: Self.needsRewrite, strays: strays)
                    }
                }
                XCTAssertThrowsError(try again.get())
                return result
            }
        }
        result.boundary = relay.isAtFrameBoundary
        return result
    }

    private let apiVersions = StreamFixtures.apiVersionsResponse(correlationId: 1)
    private let produce = StreamFixtures.opaqueResponse(correlationId: 2, bodyBytes: 57)
    private let fetch = StreamFixtures.opaqueResponse(correlationId: 3, bodyBytes: 3000)
    private let metadata = StreamFixtures.metadataResponse(version: 1, correlationId: 4)
    private var requests: [(ApiKey, Int16, Int32)] { [(.apiVersions, 3, 1), (.produce, 8, 2), (.fetch, 4, 3), (.metadata, 1, 4)] }

    func testEventsOfOneRead() {
        let stream = apiVersions + produce + fetch + metadata
        let out = run([stream], queue: inflight(requests))
        XCTAssertNil(out.error)
        XCTAssertEqual(out.events.count, 1)
        let events = out.events[0]
        XCTAssertEqual(events.count, 7, "\(events)")
        // Rewritten frames are reported, then handed over whole; the pass-through frames between
        // them go out as one range, after their .response events.
        XCTAssertEqual(events[0], .response(1, apiVersions.count))
        guard case .rewrite(1, let versionsPayload) = events[1] else { return XCTFail("\(events[1])") }
        XCTAssertEqual(versionsPayload, Array(apiVersions[4...]))
        XCTAssertEqual(events[2], .response(2, produce.count))
        XCTAssertEqual(events[3], .response(3, fetch.count))
        XCTAssertEqual(events[4], .forward(produce + fetch))
        XCTAssertEqual(events[5], .response(4, metadata.count))
        XCTAssertEqual(events[6], .rewrite(4, Array(metadata[4...])))
        XCTAssertTrue(out.queue.isEmpty)
        XCTAssertTrue(out.boundary)
    }

    func testALocalAnswerStopsTheRelayWithoutConsumingAndThePendingBytesGoFirst() {
        let stream = produce + fetch
        let out = run([stream], queue: inflight([(.produce, 8, 2), (.fetch, 4, 9), (.fetch, 4, 3)], local: [9]))
        XCTAssertNil(out.error)
        XCTAssertEqual(out.events[0], [.response(2, produce.count), .forward(produce), .local(9),
                                       .response(3, fetch.count), .forward(fetch)])
        XCTAssertTrue(out.queue.isEmpty)
    }

    func testAFrameStartedInAnEarlierReadGetsItsPrefixBack() {
        // The read ends 5 bytes into the produce response: those stay back until checked.
        let stream = produce + fetch
        let cut = produce.count + 5
        let out = run([Array(stream[..<cut]), Array(stream[cut...])], queue: inflight([(.produce, 8, 2), (.fetch, 4, 3)]))
        XCTAssertNil(out.error)
        XCTAssertEqual(out.events[0], [.response(2, produce.count), .forward(produce)])
        XCTAssertEqual(out.events[1], [.response(3, fetch.count), .forwardPrefix(Array(fetch[..<8])), .forward(Array(fetch[8...]))])
    }

    func testEverySplitGivesTheClosureAPIsBytes() throws {
        let stream = apiVersions + produce + fetch + metadata
        var closureRelay = ResponseRelay(maxFrameBytes: 1 << 20)
        var closureQueue = inflight(requests)
        var expected: [UInt8] = []
        try stream.withUnsafeBytes { raw in
            try Result { () throws(ProxyStreamError) in
                try closureRelay.relay(raw, inflight: &closureQueue, needsRewrite: Self.needsRewrite,
                                       rewrite: { _, payload in payload }, onResponse: { _, _, _ in },
                                       emit: { out in
                                           switch out {
                                           case .borrowed(let b): expected += b
                                           case .owned(let b): expected += b
                                           }
                                       })
            }.get()
        }
        XCTAssertEqual(expected, stream, "a rewrite that changes nothing gives the stream back")
        var cuts = (0...stream.count).map { [Array(stream[..<$0]), Array(stream[$0...])] }
        cuts.append(stream.map { [$0] })
        for chunks in cuts {
            let out = run(chunks, queue: inflight(requests))
            XCTAssertNil(out.error)
            XCTAssertEqual(out.clientBytes, expected, "cut \(chunks.map(\.count).prefix(2))")
            XCTAssertEqual(out.responses, [1, 2, 3, 4])
            XCTAssertTrue(out.boundary)
            XCTAssertTrue(out.queue.isEmpty)
            for events in out.events {
                XCTAssertLessThanOrEqual(events.filter { if case .forward = $0 { true } else { false } }.count, 2,
                                         "pass-through bytes of one read are coalesced (split only around a collected frame)")
            }
        }
    }

    func testAnswerToARequestOfTheProxyGoesToTheProxy() {
        let answer = StreamFixtures.opaqueResponse(correlationId: -7, bodyBytes: 12)
        let stream = produce + answer + fetch
        let out = run([stream], queue: inflight([(.produce, 8, 2), (.initProducerId, 4, -7), (.fetch, 4, 3)], fromProxy: [-7]))
        XCTAssertNil(out.error)
        XCTAssertEqual(out.events[0], [.response(2, produce.count), .forward(produce),
                                       .proxyResponse(-7, Array(answer[4...])),
                                       .response(3, fetch.count), .forward(fetch)])
        XCTAssertEqual(out.clientBytes, produce + fetch)
    }

    func testStrayAnswersAreDroppedByValue() {
        var strays = StrayResponses()
        strays.record(41)
        let stray = StreamFixtures.opaqueResponse(correlationId: 41, bodyBytes: 20)
        let stream = produce + stray + metadata + stray + fetch
        let queue = inflight([(.produce, 8, 2), (.metadata, 1, 4), (.fetch, 4, 3)])
        for split in 0...stream.count {
            let out = run([Array(stream[..<split]), Array(stream[split...])], queue: queue, strays: strays)
            XCTAssertNil(out.error, "split at \(split)")
            XCTAssertEqual(out.clientBytes, produce + metadata + fetch, "split at \(split)")
            XCTAssertEqual(out.responses, [2, 4, 3])
        }
        XCTAssertEqual(run([stream], queue: queue).error?.reason, .correlationMismatch)
    }

    func testStrayResponsesRememberTheNewest64() {
        var strays = StrayResponses()
        XCTAssertFalse(strays.contains(0))
        for id in Int32(0)..<100 { strays.record(id) }
        XCTAssertFalse(strays.contains(35))
        XCTAssertTrue(strays.contains(36))
        XCTAssertTrue(strays.contains(99))
        XCTAssertFalse(strays.contains(100))
    }

    func testResponsesBeforeABadFrameGoOutThenItFails() {
        let bad = StreamFixtures.opaqueResponse(correlationId: 99, bodyBytes: 5)
        for (what, stream, reason): (String, [UInt8], ProxyStreamError.Reason) in [
            ("mismatch", produce + fetch + bad, .correlationMismatch),
            ("tiny size", produce + fetch + [0, 0, 0, 3, 0, 0, 0, 0], .invalidFrameSize),
            ("no request", produce + fetch + StreamFixtures.opaqueResponse(correlationId: 4, bodyBytes: 1), .unexpectedResponse),
        ] {
            let out = run([stream], queue: inflight([(.produce, 8, 2), (.fetch, 4, 3)] + (what == "no request" ? [] : [(.produce, 8, 5)])))
            XCTAssertEqual(out.error?.reason, reason, what)
            XCTAssertEqual(out.clientBytes, produce + fetch, what)
        }
        let tooLarge = run([produce + [0, 0, 1, 0, 0, 0, 0, 3]], queue: inflight([(.produce, 8, 2), (.fetch, 4, 3)]), max: 200)
        XCTAssertEqual(tooLarge.error?.reason, .frameTooLarge)
        XCTAssertEqual(tooLarge.clientBytes, produce)
        // Collected frames: nothing of them reaches the client.
        for (frame, reason): ([UInt8], ProxyStreamError.Reason) in [
            (KafkaFrame.framed([0, 0]), .invalidFrameSize),
            (StreamFixtures.metadataResponse(version: 1, correlationId: 5), .correlationMismatch),
        ] {
            let out = run([produce + frame], queue: inflight([(.produce, 8, 2), (.metadata, 1, 4)]))
            XCTAssertEqual(out.error?.reason, reason)
            XCTAssertEqual(out.clientBytes, produce)
        }
    }
}
