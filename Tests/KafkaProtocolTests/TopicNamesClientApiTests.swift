import XCTest
@testable import KafkaProtocol

/// Metadata, Produce, Fetch, ListOffsets, OffsetCommit and OffsetFetch at every version.
final class TopicNamesClientApiTests: XCTestCase {
    static let records: [UInt8] = Array(0..<40)

    static let metadataRequest: BodyBuilder = { m, v, topics in
        m.count(topics.count)
        for t in topics {
            if v >= 10 { m.uuid(0) }
            m.str(t)
            m.tags()
        }
        if v >= 4 { m.bool(true) }
        if (8...10).contains(v) { m.bool(false) }
        if v >= 8 { m.bool(true) }
        m.tags()
    }

    static let metadataResponse: BodyBuilder = { m, v, topics in
        if v >= 3 { m.i32(5) }
        m.count(1)
        m.i32(1); m.str("b"); m.i32(9092)
        if v >= 1 { m.str(nil) }
        m.tags()
        if v >= 2 { m.str("cluster") }
        if v >= 1 { m.i32(1) }
        m.count(topics.count)
        for t in topics {
            m.i16(0); m.str(t)
            if v >= 10 { m.uuid(7) }
            if v >= 1 { m.bool(false) }
            m.count(1)
            m.i16(0); m.i32(0); m.i32(1)
            if v >= 7 { m.i32(3) }
            m.int32s([1]); m.int32s([1])
            if v >= 5 { m.int32s([]) }
            m.tags()
            if v >= 8 { m.i32(Int32.min) }
            m.tags()
        }
        if (8...10).contains(v) { m.i32(0) }
        if v >= 13 { m.i16(0) }
        m.tags()
    }

    func testMetadata() throws {
        try checkRequest(.metadata, 0...13, Self.metadataRequest)
        try checkResponse(.metadata, 0...13, Self.metadataResponse)
        var context = TopicMappingContext()
        // All topics: null from v1 (v0: empty), nothing to rename.
        XCTAssertNil(try mapRequest(.metadata, 1, hex("ffffffff"), context: &context))
        XCTAssertNil(try mapRequest(.metadata, 12, hex("00 01 00 00"), context: &context))
        XCTAssertNil(try mapRequest(.metadata, 0, hex("00000000"), context: &context))
        // Looked up by id and not found: a null name stays.
        var m = Msg(flex: true)
        m.i32(0); m.count(0); m.str(nil); m.i32(1)
        m.count(1); m.i16(100); m.str(nil); m.uuid(3); m.bool(false); m.count(0); m.i32(0); m.tags()
        m.tags()
        XCTAssertNil(try mapResponse(.metadata, 12, m.bytes, context: &context))
    }

    static let produceRequest: BodyBuilder = { m, v, topics in
        if v >= 3 { m.str(nil) }
        m.i16(-1); m.i32(1000)
        m.count(topics.count)
        for t in topics {
            if v >= 13 { m.uuid(1) } else { m.str(t) }
            m.count(1); m.i32(0); m.data(records); m.tags()
            m.tags()
        }
        m.tags()
    }

    static let produceResponse: BodyBuilder = { m, v, topics in
        m.count(topics.count)
        for t in topics {
            if v >= 13 { m.uuid(1) } else { m.str(t) }
            m.count(1)
            m.i32(0); m.i16(0); m.i64(10)
            if v >= 2 { m.i64(-1) }
            if v >= 5 { m.i64(0) }
            if v >= 8 { m.count(1); m.i32(0); m.str("bad"); m.tags(); m.str(nil) }
            m.tags()
            m.tags()
        }
        if v >= 1 { m.i32(0) }
        m.tags()
    }

    func testProduce() throws {
        try checkRequest(.produce, 0...13, nameless: 13...13, Self.produceRequest)
        try checkResponse(.produce, 0...13, nameless: 13...13, Self.produceResponse)
    }

    func testProduceRecordsAreRangesOfTheOriginal() throws {
        let input = body(.produce, 9, ["a", "b"], Self.produceRequest)
        let mapped = try input.withUnsafeBytes { raw in
            var context = TopicMappingContext()
            return try TopicNameMapping.request(apiKey: 0, apiVersion: 9, body: raw, prefix: testPrefix, context: &context)
        }
        let ranges = mapped?.pieces.compactMap { piece -> Range<Int>? in
            if case .original(let r) = piece { return r }
            return nil
        } ?? []
        XCTAssertEqual(ranges.count, 2)
        for r in ranges { XCTAssertEqual(Array(input[r]), Self.records) }
        XCTAssertEqual(mapped?.count, input.count + 2 * testPrefix.bytes.count)
    }

    static let fetchRequest: BodyBuilder = { m, v, topics in
        if v <= 14 { m.i32(-1) }
        m.i32(500); m.i32(1)
        if v >= 3 { m.i32(1024) }
        if v >= 4 { m.i8(0) }
        if v >= 7 { m.i32(0); m.i32(-1) }
        m.count(topics.count)
        for t in topics {
            if v >= 13 { m.uuid(2) } else { m.str(t) }
            m.count(1)
            m.i32(0)
            if v >= 9 { m.i32(-1) }
            m.i64(5)
            if v >= 12 { m.i32(-1) }
            if v >= 5 { m.i64(-1) }
            m.i32(256)
            m.tags()
            m.tags()
        }
        if v >= 7 {
            m.count(1)
            if v >= 13 { m.uuid(2) } else { m.str(topics[0]) }
            m.int32s([1, 2])
            m.tags()
        }
        if v >= 11 { m.str("rack") }
        m.tags()
    }

    static let fetchResponse: BodyBuilder = { m, v, topics in
        if v >= 1 { m.i32(0) }
        if v >= 7 { m.i16(0); m.i32(0) }
        m.count(topics.count)
        for t in topics {
            if v >= 13 { m.uuid(2) } else { m.str(t) }
            m.count(1)
            m.i32(0); m.i16(0); m.i64(10)
            if v >= 4 { m.i64(10) }
            if v >= 5 { m.i64(0) }
            if v >= 4 { m.count(1); m.i64(7); m.i64(3); m.tags() }
            if v >= 11 { m.i32(-1) }
            m.data(records)
            m.tags()
            m.tags()
        }
        m.tags()
    }

    func testFetch() throws {
        try checkRequest(.fetch, 0...17, nameless: 13...17, Self.fetchRequest)
        try checkResponse(.fetch, 0...17, nameless: 13...17, Self.fetchResponse)
    }

    static let listOffsetsRequest: BodyBuilder = { m, v, topics in
        m.i32(-1)
        if v >= 2 { m.i8(0) }
        m.count(topics.count)
        for t in topics {
            m.str(t)
            m.count(1)
            m.i32(0)
            if v >= 4 { m.i32(-1) }
            m.i64(-1)
            if v == 0 { m.i32(1) }
            m.tags()
            m.tags()
        }
        if v >= 10 { m.i32(1000) }
        m.tags()
    }

    static let listOffsetsResponse: BodyBuilder = { m, v, topics in
        if v >= 2 { m.i32(0) }
        m.count(topics.count)
        for t in topics {
            m.str(t)
            m.count(1)
            m.i32(0); m.i16(0)
            if v == 0 { m.count(1); m.i64(5) }
            if v >= 1 { m.i64(-1); m.i64(5) }
            if v >= 4 { m.i32(0) }
            m.tags()
            m.tags()
        }
        m.tags()
    }

    func testListOffsets() throws {
        try checkRequest(.listOffsets, 0...10, Self.listOffsetsRequest)
        try checkResponse(.listOffsets, 0...10, Self.listOffsetsResponse)
    }

    static let offsetCommitRequest: BodyBuilder = { m, v, topics in
        m.str("g")
        if v >= 1 { m.i32(1); m.str("m") }
        if v >= 7 { m.str(nil) }
        if (2...4).contains(v) { m.i64(-1) }
        m.count(topics.count)
        for t in topics {
            m.str(t)
            m.count(1)
            m.i32(0); m.i64(5)
            if v >= 6 { m.i32(-1) }
            if v == 1 { m.i64(0) }
            m.str("meta")
            m.tags()
            m.tags()
        }
        m.tags()
    }

    static let offsetCommitResponse: BodyBuilder = { m, v, topics in
        if v >= 3 { m.i32(0) }
        m.count(topics.count)
        for t in topics {
            m.str(t)
            m.count(1); m.i32(0); m.i16(0); m.tags()
            m.tags()
        }
        m.tags()
    }

    func testOffsetCommit() throws {
        try checkRequest(.offsetCommit, 0...9, Self.offsetCommitRequest)
        try checkResponse(.offsetCommit, 0...9, Self.offsetCommitResponse)
    }

    static let offsetFetchRequest: BodyBuilder = { m, v, topics in
        if v <= 7 {
            m.str("g")
            m.count(topics.count)
            for t in topics { m.str(t); m.int32s([0]); m.tags() }
        } else {
            m.count(2)
            for g in ["g", "h"] {
                m.str(g)
                if v >= 9 { m.str(nil); m.i32(-1) }
                m.count(topics.count)
                for t in topics { m.str(t); m.int32s([0]); m.tags() }
                m.tags()
            }
        }
        if v >= 7 { m.bool(false) }
        m.tags()
    }

    static let offsetFetchResponse: BodyBuilder = { m, v, topics in
        if v >= 3 { m.i32(0) }
        if v <= 7 {
            m.count(topics.count)
            for t in topics {
                m.str(t)
                m.count(1); m.i32(0); m.i64(5)
                if v >= 5 { m.i32(-1) }
                m.str(""); m.i16(0); m.tags()
                m.tags()
            }
            if v >= 2 { m.i16(0) }
        } else {
            m.count(2)
            for g in ["g", "h"] {
                m.str(g)
                m.count(topics.count)
                for t in topics {
                    m.str(t)
                    m.count(1); m.i32(0); m.i64(5); m.i32(-1); m.str(nil); m.i16(0); m.tags()
                    m.tags()
                }
                m.i16(0)
                m.tags()
            }
        }
        m.tags()
    }

    func testOffsetFetch() throws {
        try checkRequest(.offsetFetch, 0...9, Self.offsetFetchRequest)
        try checkResponse(.offsetFetch, 0...9, Self.offsetFetchResponse)
        // Every committed topic of the group: null topics, nothing to rename.
        var context = TopicMappingContext()
        XCTAssertNil(try mapRequest(.offsetFetch, 2, hex("0001 67 ffffffff"), context: &context))
        XCTAssertNil(try mapRequest(.offsetFetch, 8, hex("02 02 67 00 00 00 00"), context: &context))
    }

    func testTruncatedInputAlwaysFails() {
        checkTruncations(.produce, 9, request: true, body(.produce, 9, ["a"], Self.produceRequest))
        checkTruncations(.produce, 3, request: true, body(.produce, 3, ["a"], Self.produceRequest))
        checkTruncations(.fetch, 12, request: false, body(.fetch, 12, ["dc1.a", "x"], Self.fetchResponse))
        checkTruncations(.metadata, 12, request: false, body(.metadata, 12, ["dc1.a", "x"], Self.metadataResponse))
        checkTruncations(.offsetFetch, 8, request: false, body(.offsetFetch, 8, ["dc1.a", "x"], Self.offsetFetchResponse))
        checkTruncations(.metadata, 4, request: true, body(.metadata, 4, ["a"], Self.metadataRequest))
    }

    func testUnmappableApisAndVersionsAreRefused() {
        var context = TopicMappingContext()
        assertThrowsCode(.unsupportedVersion) { _ = try mapRequest(.describeAcls, 1, [], context: &context) }
        assertThrowsCode(.unsupportedVersion) { _ = try mapRequest(.metadata, 14, [], context: &context) }
        XCTAssertNil(try? mapRequest(.heartbeat, 4, hex("02 67 00000001 02 6d 00 00"), context: &context))
        XCTAssertTrue(TopicNameMapping.carriesTopicNames.isSuperset(of: TopicNameMapping.mappedVersions.keys))
        for (key, range) in TopicNameMapping.mappedVersions {
            let descriptor = ApiCatalog.descriptor(key)!
            XCTAssertEqual(range, descriptor.minVersion...descriptor.maxVersion, "\(descriptor.name)")
        }
    }

    func testBytesAfterTheMessageFollowItUnchanged() throws {
        var context = TopicMappingContext()
        let trailer: [UInt8] = [0x00, 0x01, 0x7f]
        let plain = try XCTUnwrap(mapRequest(.metadata, 4, body(.metadata, 4, ["a"], Self.metadataRequest), context: &context))
        let withTrailer = try XCTUnwrap(mapRequest(.metadata, 4, body(.metadata, 4, ["a"], Self.metadataRequest) + trailer,
                                                   context: &context))
        XCTAssertEqual(withTrailer, plain + trailer)
    }
}

/// Properties of the descriptions themselves.
final class TopicNamesSpecTests: XCTestCase {
    /// A response topic outside the prefix is dropped with its array element, so every topic
    /// field of a response must sit inside an array (the cursor handles its own).
    func testEveryResponseTopicCanBeDropped() {
        func check(_ fields: [TopicField], inArray: Bool, _ path: String) {
            for field in fields { check(field.kind, inArray: inArray, path) }
        }
        func check(_ kind: TopicFieldKind, inArray: Bool, _ path: String) {
            switch kind {
            case .topic, .resourceName:
                XCTAssertTrue(inArray, "\(path): a topic outside any array")
            case .array(let element):
                check(element, inArray: true, path)
            case .structure(let fields), .nullableStructure(let fields):
                check(fields, inArray: inArray, path)
            default:
                break
            }
        }
        for (key, spec) in TopicNameMapping.specs {
            check(spec.response, inArray: false, "\(ApiKey(key)) response")
        }
        check(ConsumerProtocolSpec.subscription, inArray: false, "subscription")
        check(ConsumerProtocolSpec.assignment, inArray: false, "assignment")
    }

    /// Every mapped API is in the catalog with the same flexible versions the walker assumes, and
    /// every API the catalog knows that names topics is either mapped or listed as carrying them.
    func testCarriedAndMappedApis() {
        XCTAssertTrue(TopicNameMapping.mappedVersions.keys.allSatisfy { ApiCatalog.descriptor($0) != nil })
        XCTAssertTrue(TopicNameMapping.unmappedCarryingTopicNames.isDisjoint(with: TopicNameMapping.mappedVersions.keys))
        for key: Int16 in [29, 30, 31, 34, 35, 76, 77, 88, 89, 90, 91, 92, 27] {
            XCTAssertTrue(TopicNameMapping.carriesTopicNames.contains(key), "\(ApiKey(key))")
            XCTAssertNil(TopicNameMapping.mappedVersions[key], "\(ApiKey(key))")
        }
        for key: Int16 in [10, 12, 13, 16, 17, 18, 22, 25, 26, 36, 42, 60] {
            XCTAssertFalse(TopicNameMapping.carriesTopicNames.contains(key), "\(ApiKey(key)) carries no topic names")
        }
    }
}
