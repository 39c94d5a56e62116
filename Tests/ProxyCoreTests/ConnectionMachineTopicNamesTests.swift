import KafkaProtocol
@testable import ProxyCore
import XCTest

/// A cluster with `topicPrefix`: requests that carry topic names are re-framed with the upstream
/// names, their responses mapped back; a cluster without one is not touched.
final class ConnectionMachineTopicNamesTests: XCTestCase {
    private static let prefix = "primary."

    private func prefixed(translates: Bool = false) -> MachineDriver {
        var d = MachineDriver()
        d.machine = ConnectionMachine(settings: MachineDriver.settings(cluster: "dr", translates: translates,
                                                                       topicPrefix: Self.prefix),
                                      policy: FakePolicy())
        d.relaying()
        return d
    }

    private static func batch(_ bytes: Int) -> [UInt8] {
        RecordBatchBuilder(baseTimestamp: 1_700_000_000_000).build([Record(key: nil, value: Array(repeating: 0x61, count: bytes))])
    }

    private static let smallBatch = batch(2_000)
    private static let largeBatch = batch(40_000)

    private static func produce(_ correlationId: Int32, topic: String, version: Int16 = 9, large: Bool = false) -> [UInt8] {
        KafkaFrame.request(
            header: RequestHeader(apiKey: ApiKey.produce.rawValue, apiVersion: version, correlationId: correlationId,
                                  clientId: "app"),
            body: ProduceRequest(topic: topic, partition: 0, records: large ? largeBatch : smallBatch, acks: -1)
                .encoded(version: version))
    }

    private static func metadataRequest(_ correlationId: Int32, topics: [String]?, version: Int16 = 12) -> [UInt8] {
        KafkaFrame.request(
            header: RequestHeader(apiKey: ApiKey.metadata.rawValue, apiVersion: version, correlationId: correlationId,
                                  clientId: "app"),
            body: MetadataRequest(topicNames: topics).encoded(version: version))
    }

    private static func metadataResponse(_ correlationId: Int32, topics: [String], version: Int16 = 12) -> [UInt8] {
        let response = MetadataResponse(
            brokers: [.init(nodeId: 1, host: "dr-0", port: 9092)], controllerId: 1,
            topics: topics.map { .init(name: $0, partitions: [.init(partitionIndex: 0, leaderId: 1)]) })
        return KafkaFrame.response(apiKey: ApiKey.metadata.rawValue, apiVersion: version, correlationId: correlationId,
                                   body: response.encoded(version: version))
    }

    /// The payload the executor gets to rewrite addresses in, decoded.
    private func rewritten(_ d: MachineDriver, version: Int16 = 12) throws -> MetadataResponse {
        for action in d.lastRaw {
            if case .rewriteToClient(_, let payload) = action {
                var reader = ByteReader(payload)
                _ = try ResponseHeader.decode(from: &reader, headerVersion: 1)
                return try MetadataResponse.decode(from: &reader, version: version)
            }
        }
        XCTFail("no rewrite action in \(d.lastRaw)")
        return MetadataResponse(brokers: [], topics: [])
    }

    func testAProduceIsReframedWithTheUpstreamNameAtEverySplitOffset() {
        let frame = Self.produce(1, topic: "orders")
        let expected = Self.produce(1, topic: Self.prefix + "orders")
        for split in 0...frame.count {
            var d = prefixed()
            var sent = d.client(Array(frame[..<split]))
            sent += d.client(Array(frame[split...]))
            XCTAssertEqual(sent.toBroker, expected, "split at \(split)")
            XCTAssertNil(sent.closeReason, "split at \(split)")
            XCTAssertEqual(d.machine.inflight.count, 1)
        }
    }

    private func sends(_ d: MachineDriver) -> [String] {
        d.lastRaw.compactMap { action -> String? in
            switch action {
            case .sendToBroker(.borrowed(let bytes)): "borrowed \(bytes.count)"
            case .sendToBroker(.owned): "owned"
            default: nil
            }
        }
    }

    func testALargeRecordBatchOfAWholeFrameGoesOutBorrowed() {
        var d = prefixed()
        let frame = Self.produce(1, topic: "orders", large: true)
        XCTAssertEqual(d.client(frame).toBroker, Self.produce(1, topic: Self.prefix + "orders", large: true))
        XCTAssertEqual(sends(d).count, 3, "\(sends(d))")
        XCTAssertTrue(sends(d).contains { $0.hasPrefix("borrowed") && Int($0.dropFirst(9))! >= Self.largeBatch.count },
                      "the batch is lent from the read, not copied: \(sends(d))")
        // Split across reads, the frame was assembled in the relay: it goes out owned.
        var split = prefixed()
        var sent = split.client(Array(frame[..<100]))
        sent += split.client(Array(frame[100...]))
        XCTAssertEqual(sent.toBroker, Self.produce(1, topic: Self.prefix + "orders", large: true))
        XCTAssertEqual(sends(split), ["owned"])
    }

    func testASmallRecordBatchIsCopiedIntoOneWrite() {
        var d = prefixed()
        XCTAssertEqual(d.client(Self.produce(1, topic: "orders")).toBroker, Self.produce(1, topic: Self.prefix + "orders"))
        XCTAssertEqual(sends(d), ["owned"])
    }

    func testTheRequestsAndResponsesOfOneReadGoOutInOneWriteEach() {
        var d = prefixed()
        let sent = d.client(Self.produce(1, topic: "orders") + Self.produce(2, topic: "orders"))
        XCTAssertEqual(sent.toBroker, Self.produce(1, topic: Self.prefix + "orders") + Self.produce(2, topic: Self.prefix + "orders"))
        XCTAssertEqual(sends(d), ["owned"])
        XCTAssertEqual(sent.filter { if case .requestSeen = $0 { true } else { false } }.count, 2)
        let answers = d.broker(Self.produceResponse(1, topic: Self.prefix + "orders") + Self.produceResponse(2, topic: Self.prefix + "orders"))
        XCTAssertEqual(answers.toClient, Self.produceResponse(1, topic: "orders") + Self.produceResponse(2, topic: "orders"))
        XCTAssertEqual(answers.filter(\.isBytes).count, 1, "\(answers)")
        XCTAssertTrue(d.machine.inflight.isEmpty)
    }

    /// Produce v9 response: one topic, one partition, no error.
    private static func produceResponse(_ correlationId: Int32, topic: String) -> [UInt8] {
        var w = ByteWriter()
        w.writeArrayCount(1, flexible: true)
        w.writeString(topic, flexible: true)
        w.writeArrayCount(1, flexible: true)
        w.writeInt32(0)              // partition
        w.writeInt16(0)              // error
        w.writeInt64(41)             // base offset
        w.writeInt64(-1)             // log append time
        w.writeInt64(0)              // log start offset
        w.writeArrayCount(0, flexible: true)   // record errors
        w.writeNullableString(nil, flexible: true)
        w.writeTaggedFields([], if: true)
        w.writeTaggedFields([], if: true)
        w.writeInt32(0)              // throttle
        w.writeTaggedFields([], if: true)
        return KafkaFrame.response(apiKey: ApiKey.produce.rawValue, apiVersion: 9, correlationId: correlationId, body: w.bytes)
    }

    func testATranslatedProduceIsMappedToo() {
        // Translation on (producers may arrive from another cluster), none needed: mapped as usual.
        var d = prefixed(translates: true)
        XCTAssertEqual(d.client(Self.produce(1, topic: "orders")).toBroker, Self.produce(1, topic: Self.prefix + "orders"))
    }

    func testMetadataNamesAreMappedBothWaysAndOtherTopicsAreInvisible() throws {
        var d = prefixed()
        let request = Self.metadataRequest(5, topics: ["orders"])
        XCTAssertEqual(d.client(request).toBroker, Self.metadataRequest(5, topics: [Self.prefix + "orders"]))
        let answer = d.broker(Self.metadataResponse(5, topics: [Self.prefix + "orders", "orders", "local"]))
        XCTAssertTrue(answer.has(.rewrite(apiKey: ApiKey.metadata.rawValue, correlationId: 5)))
        XCTAssertEqual(try rewritten(d).topics.map(\.name), ["orders"])
    }

    func testBytesAfterAMessageAreKeptAsKafkaDoes() throws {
        // librdkafka 2.16's Metadata v12 request for all topics: 3 bytes after the message.
        var d = prefixed()
        let all = StreamFixtures.request(.metadata, 12, correlationId: 4, body: [0, 0, 0, 0, 1, 0, 0])
        XCTAssertEqual(d.client(all).toBroker, all)
        let named = StreamFixtures.request(.metadata, 12, correlationId: 5,
                                           body: MetadataRequest(topicNames: ["orders"]).encoded(version: 12) + [9])
        let sent = d.client(named)
        XCTAssertNil(sent.closeReason)
        XCTAssertEqual(sent.toBroker, StreamFixtures.request(.metadata, 12, correlationId: 5,
            body: MetadataRequest(topicNames: [Self.prefix + "orders"]).encoded(version: 12) + [9]))
        // The librdkafka mock's Metadata v13 answers end with a stray byte.
        _ = d.broker(Self.metadataResponse(4, topics: ["orders"]))
        var answer = Self.metadataResponse(5, topics: [Self.prefix + "orders"])
        answer[3] += 1
        answer.append(0)
        XCTAssertNil(d.broker(answer).closeReason)
        XCTAssertEqual(try rewritten(d).topics.map(\.name), ["orders"])
    }

    func testAClusterWithoutPrefixStreamsAsBefore() {
        var d = MachineDriver()
        d.relaying()
        let frame = Self.produce(1, topic: "orders")
        XCTAssertEqual(d.client(frame).toBroker, frame)
        if case .sendToBroker(.borrowed(let bytes))? = d.lastRaw.first(where: { if case .sendToBroker = $0 { true } else { false } }) {
            XCTAssertEqual(bytes.count, frame.count, "one borrowed range, the whole read")
        } else {
            XCTFail("not borrowed: \(d.lastRaw)")
        }
        XCTAssertEqual(d.machine.requests.mode, .streaming)
    }

    func testAnApiThatCannotBeMappedClosesWithAClearReason() {
        var d = prefixed()
        // DescribeAcls names topics in its resources and is not mapped: withheld from ApiVersions.
        let acls = StreamFixtures.request(ApiKey(29), 1, correlationId: 3, body: [1, 0xff, 0xff, 0xff, 0xff, 3, 0, 0xff, 0xff, 1, 1])
        let closed = d.client(acls)
        guard case .badRequest(let error)? = closed.closeReason else { return XCTFail("\(closed)") }
        XCTAssertEqual(error.reason, .unsupportedVersion)
        XCTAssertTrue(error.detail.contains("topicPrefix 'primary.'"), error.detail)
        XCTAssertEqual(closed.toBroker, [], "never passed on unmapped")
    }

    func testAMalformedRequestClosesOnlyThisConnection() {
        var d = prefixed()
        let garbled = StreamFixtures.request(.produce, 9, correlationId: 3, body: [0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x7f])
        let closed = d.client(garbled)
        guard case .badRequest(let error)? = closed.closeReason else { return XCTFail("\(closed)") }
        XCTAssertEqual(error.reason, .malformedRequest)
        XCTAssertEqual(closed.toBroker, [])
    }

    func testAnUndecodableResponseClosesWithItsReason() {
        var d = prefixed()
        _ = d.client(Self.metadataRequest(5, topics: ["orders"]))
        let bad = KafkaFrame.response(apiKey: ApiKey.metadata.rawValue, apiVersion: 12, correlationId: 5, body: [0, 0, 0, 0, 0x7f])
        XCTAssertEqual(d.broker(bad).closeReason?.metricLabel, "undecodable_response")
    }

    func testAMoveKeepsTheOldClustersMappingForResponsesInFlightThenTakesTheNewOne() throws {
        var d = prefixed()
        _ = d.client(Self.metadataRequest(5, topics: ["orders"]))
        d.machine.moveRequested(settings: MachineDriver.settings(cluster: "primary"), policy: FakePolicy(),
                                timeoutSeconds: 5, nowNanos: d.now)
        _ = d.drain()
        // Still dr's answer: mapped with dr's prefix.
        _ = d.broker(Self.metadataResponse(5, topics: [Self.prefix + "orders", "orders"]))
        XCTAssertEqual(try rewritten(d).topics.map(\.name), ["orders"])
        d.machine.resolved(["primary-0:9092"], lastError: "")
        d.machine.connected(nowNanos: d.now)
        _ = d.drain()
        // On primary names pass unchanged.
        let frame = Self.produce(6, topic: "orders")
        XCTAssertEqual(d.client(frame).toBroker, frame)
        XCTAssertEqual(d.broker(Frames.response(6)).toClient, Frames.response(6), "streamed: not collected")
        _ = d.client(Self.metadataRequest(7, topics: ["orders"]))
        _ = d.broker(Self.metadataResponse(7, topics: ["orders", Self.prefix + "orders"]))
        XCTAssertEqual(try rewritten(d).topics.map(\.name), ["orders", Self.prefix + "orders"])
    }

    func testAMoveOntoAPrefixedClusterMapsFromTheFirstRequestThere() {
        var d = MachineDriver()
        d.relaying()
        XCTAssertEqual(d.machine.requests.mode, .streaming)
        d.machine.moveRequested(settings: MachineDriver.settings(cluster: "dr", topicPrefix: Self.prefix),
                                policy: FakePolicy(), timeoutSeconds: 5, nowNanos: d.now)
        _ = d.drain()
        // Sent during the move: kept, then mapped for dr.
        XCTAssertEqual(d.client(Self.produce(1, topic: "orders")).toBroker, [])
        d.machine.resolved(["dr-0:9092"], lastError: "")
        d.machine.connected(nowNanos: d.now)
        XCTAssertEqual(d.drain().toBroker, Self.produce(1, topic: Self.prefix + "orders"))
    }
}

/// ApiVersions when some cluster maps topic names: only what the mapping handles is offered.
final class ApiVersionsTopicNamesTests: XCTestCase {
    func testUnmappedApisAreWithheldAndVersionsCapped() throws {
        let limits = ApiVersionsLimits(configuredClusters: 2, mapsTopicNames: true)
        XCTAssertNil(ApiVersionsPolicy.allowed(apiKey: 29, minVersion: 0, maxVersion: 3, limits: limits), "DescribeAcls")
        XCTAssertNotNil(ApiVersionsPolicy.allowed(apiKey: 29, minVersion: 0, maxVersion: 3,
                                                  limits: ApiVersionsLimits(configuredClusters: 2)))
        let produce = try XCTUnwrap(TopicNameMapping.mappedVersions[ApiKey.produce.rawValue])
        let allowed = try XCTUnwrap(ApiVersionsPolicy.allowed(apiKey: ApiKey.produce.rawValue, minVersion: 0,
                                                              maxVersion: produce.upperBound + 5, limits: limits))
        XCTAssertEqual(allowed.1, produce.upperBound)
        // APIs without topic names are untouched.
        XCTAssertNotNil(ApiVersionsPolicy.allowed(apiKey: ApiKey.heartbeat.rawValue, minVersion: 0, maxVersion: 4, limits: limits))
    }
}
