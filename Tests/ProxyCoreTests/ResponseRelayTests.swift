import KafkaProtocol
@testable import ProxyCore
import XCTest

final class ResponseRelayTests: XCTestCase {
    private let rewriter = ResponseRewriter(advertisedHost: "proxy.local")
    /// What the last `relay` reported per response: correlation id, frame bytes, payload bytes if given.
    private var reported: [(Int32, Int, Int?)] = []

    private func inflight(_ requests: [(ApiKey, Int16, Int32)]) -> InflightQueue {
        var queue = InflightQueue(capacity: 2)
        for (api, version, id) in requests {
            queue.append(InflightRequest(correlationId: id, apiKey: api.rawValue, apiVersion: version, startNanos: 0))
        }
        return queue
    }

    private var requests: [(ApiKey, Int16, Int32)] {
        [(.apiVersions, 3, 1), (.metadata, 12, 2), (.produce, 8, 3), (.fetch, 4, 4), (.metadata, 1, 5)]
    }

    private var responses: [UInt8] {
        StreamFixtures.apiVersionsResponse(correlationId: 1)
            + StreamFixtures.metadataResponse(version: 12, correlationId: 2)
            + StreamFixtures.opaqueResponse(correlationId: 3, bodyBytes: 57)
            + StreamFixtures.opaqueResponse(correlationId: 4, bodyBytes: 3000)
            + StreamFixtures.metadataResponse(version: 1, correlationId: 5)
    }

    private func relay(_ chunks: [[UInt8]], queue: InflightQueue? = nil,
                       stray: Set<Int32> = []) throws(ProxyStreamError) -> (output: [UInt8], responses: [Int32]) {
        var relay = ResponseRelay(maxFrameBytes: 1 << 20)
        var queue = queue ?? inflight(requests)
        var output: [UInt8] = []
        var answered: [Int32] = []
        var reported: [(Int32, Int, Int?)] = []
        defer { self.reported = reported }
        for chunk in chunks {
            try chunk.withUnsafeBytes { raw in
                Result { () throws(ProxyStreamError) in
                    try relay.relay(
                        raw, inflight: &queue,
                        needsRewrite: { ResponseRewriter.needsRewrite(apiKey: $0.apiKey, apiVersion: $0.apiVersion) },
                        rewrite: { request, payload throws(ProxyStreamError) in
                            try rewriter.rewrite(request: request, payload: payload) { UInt16(9100 + $0.nodeId) }
                        },
                        isStray: { stray.contains($0) },
                        onResponse: { request, bytes, payload in
                            answered.append(request.correlationId)
                            reported.append((request.correlationId, bytes, payload?.count))
                        },
                        emit: { out in
                            switch out {
                            case .borrowed(let bytes): output += bytes
                            case .owned(let bytes): output += bytes
                            }
                        })
                }
            }.get()
        }
        XCTAssertTrue(relay.isAtFrameBoundary)
        XCTAssertTrue(queue.isEmpty)
        return (output, answered)
    }

    /// Splits a relayed stream back into frames.
    private func frames(_ bytes: [UInt8]) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var index = 0
        while index + 4 <= bytes.count {
            let size = Int(UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16
                | UInt32(bytes[index + 2]) << 8 | UInt32(bytes[index + 3]))
            result.append(Array(bytes[(index + 4)..<(index + 4 + size)]))
            index += 4 + size
        }
        XCTAssertEqual(index, bytes.count)
        return result
    }

    func testResponsesReportTheirSizeAndThePayloadWhenHeldWhole() throws {
        let sizes = frames(responses).map { $0.count + 4 }
        _ = try relay([responses])
        XCTAssertEqual(reported.map(\.0), [1, 2, 3, 4, 5])
        XCTAssertEqual(reported.map(\.1), sizes, "the frame's bytes, size prefix included")
        // ApiVersions and Metadata are rewritten, so held whole; Produce and Fetch pass through.
        XCTAssertEqual(reported.map(\.2), [sizes[0] - 4, sizes[1] - 4, nil, nil, sizes[4] - 4])
    }

    func testRewritesEndpointsAndPassesEverythingElseUntouched() throws {
        let (output, answered) = try relay([responses])
        XCTAssertEqual(answered, [1, 2, 3, 4, 5])
        let out = frames(output)
        let original = frames(responses)
        XCTAssertEqual(out.count, 5)
        XCTAssertEqual(out[2], original[2], "pass-through frames are byte for byte")
        XCTAssertEqual(out[3], original[3])

        for (frame, version) in [(out[1], Int16(12)), (out[4], Int16(1))] {
            var reader = ByteReader(frame)
            _ = try ResponseHeader.decode(from: &reader, headerVersion: ApiCatalog.responseHeaderVersion(apiKey: 3, apiVersion: version))
            let metadata = try MetadataResponse.decode(from: &reader, version: version)
            XCTAssertEqual(metadata.brokers.map(\.host), ["proxy.local", "proxy.local"])
            XCTAssertEqual(metadata.brokers.map(\.port), [9101, 9102])
            XCTAssertEqual(metadata.brokers.map(\.nodeId), [1, 2])
        }

        let versions = try ApiVersionsResponse.decode(Array(out[0][4...]), version: 3)
        let caps = Dictionary(uniqueKeysWithValues: versions.apiKeys.map { ($0.apiKey, $0.maxVersion) })
        XCTAssertEqual(caps[ApiKey.metadata.rawValue], EndpointRewriting.maxDecodedVersion[ApiKey.metadata.rawValue])
        XCTAssertEqual(caps[ApiKey.produce.rawValue], EndpointRewriting.maxDecodedVersion[ApiKey.produce.rawValue])
        XCTAssertEqual(caps[ApiKey.listOffsets.rawValue], 42, "pass-through APIs keep the broker's range")
        XCTAssertNil(caps[999], "APIs the proxy does not know are withheld")
    }

    func testEverySplitOffsetGivesTheSameBytes() throws {
        let stream = responses
        let expected = try relay([stream]).output
        for split in 0...stream.count {
            XCTAssertEqual(try relay([Array(stream[..<split]), Array(stream[split...])]).output, expected, "split at \(split)")
        }
        XCTAssertEqual(try relay(stream.map { [$0] }).output, expected, "one byte at a time")
    }

    func testApiVersionsErrorAnswerRelaysUnchanged() throws {
        // The librdkafka mock cluster's answer to ApiVersions v3: error 35 in its own encoding.
        let frame: [UInt8] = [0, 0, 0, 0x11, 0, 0, 0, 7, 0, 0x23, 1, 0, 0x12, 0, 0, 0, 2, 0, 0, 0, 0]
        let (output, _) = try relay([frame], queue: inflight([(.apiVersions, 3, 7)]))
        XCTAssertEqual(output, frame)
    }

    func testAnAnswerToAnAcksZeroRequestIsDroppedAtEverySplit() throws {
        // Produce acks=0 (correlation 41) expects no answer; a broker that sends one anyway must
        // not disturb the responses around it, whichever mode they pass in.
        let stray = StreamFixtures.opaqueResponse(correlationId: 41, bodyBytes: 20)
        let stream = StreamFixtures.opaqueResponse(correlationId: 40, bodyBytes: 30) + stray
            + StreamFixtures.metadataResponse(version: 12, correlationId: 42) + stray
            + StreamFixtures.opaqueResponse(correlationId: 43, bodyBytes: 9)
        let queue = inflight([(.produce, 8, 40), (.metadata, 12, 42), (.fetch, 4, 43)])
        let expected = try relay([stream.filter { _ in true }], queue: queue, stray: [41])
        XCTAssertEqual(expected.responses, [40, 42, 43])
        XCTAssertEqual(frames(expected.output).count, 3)
        XCTAssertEqual(Array(expected.output.prefix(38)), Array(stream.prefix(38)))
        for split in 0...stream.count {
            let out = try relay([Array(stream[..<split]), Array(stream[split...])], queue: queue, stray: [41])
            XCTAssertEqual(out.output, expected.output, "split at \(split)")
        }
        XCTAssertEqual(try relay(stream.map { [$0] }, queue: queue, stray: [41]).output, expected.output)
        XCTAssertThrowsError(try relay([stream], queue: queue)) { error in
            XCTAssertEqual((error as? ProxyStreamError)?.reason, .correlationMismatch)
        }
    }

    /// Emits of one chunk, in order, and whether the chunk failed.
    private func emits(_ chunk: [UInt8], queue: InflightQueue) -> (emits: [[UInt8]], failed: Bool) {
        var relay = ResponseRelay(maxFrameBytes: 1 << 20)
        var queue = queue
        var emits: [[UInt8]] = []
        let result = chunk.withUnsafeBytes { raw in
            Result { () throws(ProxyStreamError) in
                try relay.relay(raw, inflight: &queue, needsRewrite: { _ in false }, rewrite: { _, payload in payload },
                                onResponse: { _, _, _ in },
                                emit: { out in
                                    switch out {
                                    case .borrowed(let bytes): emits.append(Array(bytes))
                                    case .owned(let bytes): emits.append(bytes)
                                    }
                                })
            }
        }
        if case .failure = result { return (emits, true) }
        return (emits, false)
    }

    func testPassThroughResponsesOfOneReadGoOutAsOneWrite() {
        // One write per read, not per response: at 1 KiB the writes were the proxy's main cost.
        let stream = (10..<14).flatMap { StreamFixtures.opaqueResponse(correlationId: $0, bodyBytes: 40) }
        let (out, failed) = emits(stream, queue: inflight((10..<14).map { (.produce, 8, $0) }))
        XCTAssertFalse(failed)
        XCTAssertEqual(out, [stream])
    }

    func testResponsesBeforeABadFrameStillGoOut() {
        let good = StreamFixtures.opaqueResponse(correlationId: 1, bodyBytes: 12)
            + StreamFixtures.opaqueResponse(correlationId: 2, bodyBytes: 5)
        let bad = StreamFixtures.opaqueResponse(correlationId: 99, bodyBytes: 5)
        let (out, failed) = emits(good + bad, queue: inflight([(.produce, 8, 1), (.produce, 8, 2), (.produce, 8, 3)]))
        XCTAssertTrue(failed)
        XCTAssertEqual(out.flatMap { $0 }, good)
    }

    func testCorrelationMismatchIsAnError() {
        let queue = inflight([(.produce, 8, 7)])
        XCTAssertThrowsError(try relay([StreamFixtures.opaqueResponse(correlationId: 8, bodyBytes: 4)], queue: queue)) { error in
            XCTAssertEqual((error as? ProxyStreamError)?.reason, .correlationMismatch)
        }
    }

    func testResponseWithoutRequestIsAnError() {
        XCTAssertThrowsError(try relay([StreamFixtures.opaqueResponse(correlationId: 1, bodyBytes: 4)], queue: InflightQueue())) { error in
            XCTAssertEqual((error as? ProxyStreamError)?.reason, .unexpectedResponse)
        }
    }

    func testGarbledRewrittenResponseIsAnError() {
        let queue = inflight([(.metadata, 12, 9)])
        let garbage = KafkaFrame.framed([0, 0, 0, 9, 0, 0, 0, 0, 0x05, 0xff, 0xff])
        XCTAssertThrowsError(try relay([garbage], queue: queue)) { error in
            XCTAssertEqual((error as? ProxyStreamError)?.reason, .undecodableResponse)
        }
    }
}
