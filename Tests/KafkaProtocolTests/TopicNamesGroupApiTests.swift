import XCTest
@testable import KafkaProtocol

/// The group APIs: the consumer protocol embedded in the classic ones, and the KIP-848 ones.
final class TopicNamesGroupApiTests: XCTestCase {
    /// ConsumerProtocolSubscription: `topics` subscribed and owned.
    static func subscription(_ version: Int16, _ topics: [String]) -> [UInt8] {
        var m = Msg(flex: false)
        m.i16(version)
        m.strs(topics)
        m.data([9, 9])
        if version >= 1 {
            m.count(topics.count)
            for t in topics { m.str(t); m.int32s([0, 1]) }
        }
        if version >= 2 { m.i32(4) }
        if version >= 3 { m.str("rack-1") }
        return m.bytes
    }

    /// ConsumerProtocolAssignment of partitions of `topics`.
    static func assignment(_ version: Int16, _ topics: [String]) -> [UInt8] {
        var m = Msg(flex: false)
        m.i16(version)
        m.count(topics.count)
        for t in topics { m.str(t); m.int32s([0, 1]) }
        m.data(nil)
        return m.bytes
    }

    static func joinGroupRequest(protocolType: String) -> BodyBuilder {
        { m, v, topics in
            m.str("g"); m.i32(10_000)
            if v >= 1 { m.i32(30_000) }
            m.str("")
            if v >= 5 { m.str(nil) }
            m.str(protocolType)
            m.count(2)
            m.str("range"); m.data(subscription(3, topics)); m.tags()
            m.str("cooperative-sticky"); m.data(subscription(1, topics)); m.tags()
            if v >= 8 { m.str(nil) }
            m.tags()
        }
    }

    static let joinGroupResponse: BodyBuilder = { m, v, topics in
        if v >= 2 { m.i32(0) }
        m.i16(0); m.i32(1)
        if v >= 7 { m.str("consumer") }
        m.str("range"); m.str("m1")
        if v >= 9 { m.bool(false) }
        m.str("m1")
        m.count(2)
        for (member, version) in [("m1", Int16(0)), ("m2", Int16(3))] {
            m.str(member)
            if v >= 5 { m.str(nil) }
            m.data(subscription(version, topics))
            m.tags()
        }
        m.tags()
    }

    static let syncGroupRequest: BodyBuilder = { m, v, topics in
        m.str("g"); m.i32(1); m.str("m1")
        if v >= 3 { m.str(nil) }
        if v >= 5 { m.str("consumer"); m.str("range") }
        m.count(2)
        m.str("m1"); m.data(assignment(0, topics)); m.tags()
        m.str("m2"); m.data([]); m.tags()
        m.tags()
    }

    static let syncGroupResponse: BodyBuilder = { m, v, topics in
        if v >= 1 { m.i32(0) }
        m.i16(0)
        if v >= 5 { m.str("consumer"); m.str("range") }
        m.data(assignment(3, topics))
        m.tags()
    }

    func testJoinGroupMapsTheConsumerSubscription() throws {
        try checkRequest(.joinGroup, 0...9, Self.joinGroupRequest(protocolType: "consumer"))
        for v in Int16(0)...9 {
            var context = TopicMappingContext()
            // Below v7 the response does not say its protocol type: the request's is remembered.
            _ = try mapRequest(.joinGroup, v, body(.joinGroup, v, ["a"], Self.joinGroupRequest(protocolType: "consumer")), context: &context)
            let input = body(.joinGroup, v, ["local", "dc1.a", "dc1.", "dc1.b"], Self.joinGroupResponse)
            XCTAssertEqual(try mapResponse(.joinGroup, v, input, context: &context), body(.joinGroup, v, ["a", "b"], Self.joinGroupResponse), "v\(v)")
        }
    }

    func testOtherProtocolTypesPassUnchanged() throws {
        for v in Int16(0)...6 {
            var context = TopicMappingContext()
            let connect = body(.joinGroup, v, ["a"], Self.joinGroupRequest(protocolType: "connect"))
            XCTAssertNil(try mapRequest(.joinGroup, v, connect, context: &context))
            XCTAssertNil(try mapResponse(.joinGroup, v, body(.joinGroup, v, ["dc1.a"], Self.joinGroupResponse), context: &context))
            XCTAssertNil(try mapRequest(.syncGroup, min(v, 4), body(.syncGroup, min(v, 4), ["a"], Self.syncGroupRequest), context: &context))
        }
    }

    func testResponsesPairWithTheirRequestsInOrder() throws {
        var context = TopicMappingContext()
        _ = try mapRequest(.joinGroup, 6, body(.joinGroup, 6, ["a"], Self.joinGroupRequest(protocolType: "consumer")), context: &context)
        _ = try mapRequest(.joinGroup, 6, body(.joinGroup, 6, ["a"], Self.joinGroupRequest(protocolType: "connect")), context: &context)
        let response = body(.joinGroup, 6, ["dc1.a"], Self.joinGroupResponse)
        XCTAssertEqual(try mapResponse(.joinGroup, 6, response, context: &context), body(.joinGroup, 6, ["a"], Self.joinGroupResponse))
        XCTAssertNil(try mapResponse(.joinGroup, 6, response, context: &context))
        XCTAssertNil(try mapResponse(.joinGroup, 6, response, context: &context), "no request left: left as it is")
    }

    func testSyncGroupMapsTheConsumerAssignment() throws {
        for v in Int16(0)...5 {
            var context = TopicMappingContext()
            // Below v5 only the JoinGroup before says that group "g" is a consumer group.
            _ = try mapRequest(.joinGroup, 5, body(.joinGroup, 5, ["a"], Self.joinGroupRequest(protocolType: "consumer")), context: &context)
            _ = try mapResponse(.joinGroup, 5, body(.joinGroup, 5, ["dc1.a"], Self.joinGroupResponse), context: &context)
            XCTAssertEqual(try mapRequest(.syncGroup, v, body(.syncGroup, v, ["a", "b"], Self.syncGroupRequest), context: &context),
                           body(.syncGroup, v, ["dc1.a", "dc1.b"], Self.syncGroupRequest), "v\(v)")
            let input = body(.syncGroup, v, ["local", "dc1.a", "dc1.", "dc1.b"], Self.syncGroupResponse)
            XCTAssertEqual(try mapResponse(.syncGroup, v, input, context: &context), body(.syncGroup, v, ["a", "b"], Self.syncGroupResponse), "v\(v)")
        }
    }

    func testDescribeGroupsMapsConsumerGroupsOnly() throws {
        try checkRequest(.describeGroups, 0...5, nameless: 0...5) { m, v, _ in
            m.strs(["g"])
            if v >= 3 { m.bool(false) }
            m.tags()
        }
        try checkResponse(.describeGroups, 0...5) { m, v, topics in
            if v >= 1 { m.i32(0) }
            m.count(2)
            for (group, type) in [("g", "consumer"), ("k", "connect")] {
                let named = type == "consumer" ? topics : ["dc1.x", "other"]
                m.i16(0); m.str(group); m.str("Stable"); m.str(type); m.str("range")
                m.count(1)
                m.str("m1")
                if v >= 4 { m.str(nil) }
                m.str("client"); m.str("/10.0.0.1")
                m.data(Self.subscription(2, named)); m.data(Self.assignment(1, named))
                m.tags()
                if v >= 3 { m.i32(0) }
                m.tags()
            }
            m.tags()
        }
    }

    func testConsumerProtocolOfANewerVersionKeepsItsLaterFields() throws {
        var future = Self.subscription(3, ["a"])
        future[1] = 7
        future += [1, 2, 3]
        var expected = Self.subscription(3, ["dc1.a"])
        expected[1] = 7
        expected += [1, 2, 3]
        let mapped = try future.withUnsafeBytes { raw in
            try ConsumerProtocolSpec.map(raw, ConsumerProtocolSpec.subscription, direction: .toUpstream, prefix: testPrefix)
        }
        XCTAssertEqual(mapped, expected)
        let bad: [UInt8] = [0xFF, 0xFF, 0, 0]
        XCTAssertThrowsError(try bad.withUnsafeBytes { raw in
            try ConsumerProtocolSpec.map(raw, ConsumerProtocolSpec.subscription, direction: .toUpstream, prefix: testPrefix)
        })
        let truncated = Array(Self.assignment(0, ["a"]).dropLast(3))
        XCTAssertThrowsError(try truncated.withUnsafeBytes { raw in
            try ConsumerProtocolSpec.map(raw, ConsumerProtocolSpec.assignment, direction: .toUpstream, prefix: testPrefix)
        })
    }

    /// The regex the client sends for `topics` ["a", ...], and its upstream form otherwise.
    static func regex(_ topics: [String]) -> String {
        topics.contains("a") ? "orders.*|a" : "dc1\\.(?:orders.*|a)"
    }

    func testConsumerGroupHeartbeatNamesAndRegex() throws {
        try checkRequest(.consumerGroupHeartbeat, 0...1) { m, v, topics in
            m.str("g"); m.str("m"); m.i32(0); m.str(nil); m.str(nil); m.i32(30_000)
            m.strs(topics)
            if v >= 1 { m.str(Self.regex(topics)) }
            m.str(nil)
            m.count(1); m.uuid(3); m.int32s([0]); m.tags()
            m.tags()
        }
        try checkResponse(.consumerGroupHeartbeat, 0...1, nameless: 0...1) { m, _, _ in
            m.i32(0); m.i16(0); m.str(nil); m.str("m"); m.i32(1); m.i32(3000)
            m.i8(1); m.count(1); m.uuid(3); m.int32s([0]); m.tags(); m.tags()
            m.tags()
        }
        // Unchanged subscription: null names and regex; an empty regex clears it and stays empty.
        var m = Msg(flex: true)
        m.str("g"); m.str("m"); m.i32(1); m.str(nil); m.str(nil); m.i32(-1); m.strs(nil); m.str(""); m.str(nil); m.count(nil); m.tags()
        var context = TopicMappingContext()
        XCTAssertNil(try mapRequest(.consumerGroupHeartbeat, 1, m.bytes, context: &context))
    }

    func testConsumerGroupDescribe() throws {
        try checkRequest(.consumerGroupDescribe, 0...0, nameless: 0...0) { m, _, _ in
            m.strs(["g"]); m.bool(false); m.tags()
        }
        try checkResponse(.consumerGroupDescribe, 0...0) { m, _, topics in
            m.i32(0)
            m.count(1)
            m.i16(0); m.str(nil); m.str("g"); m.str("Stable"); m.i32(5); m.i32(5); m.str("uniform")
            m.count(1)
            m.str("m"); m.str(nil); m.str(nil); m.i32(5); m.str("client"); m.str("/10.0.0.1")
            m.strs(topics)
            m.str(Self.regex(topics))
            for _ in 0..<2 {
                m.count(topics.count)
                for t in topics { m.uuid(1); m.str(t); m.int32s([0]); m.tags() }
                m.tags()
            }
            m.tags()
            m.i32(0)
            m.tags()
            m.tags()
        }
    }

    func testPrefixAndRegexForms() {
        let p = TopicPrefix("dc-1.")
        XCTAssertEqual(p.upstream("orders"), "dc-1.orders")
        XCTAssertEqual(p.client("dc-1.orders"), "orders")
        XCTAssertNil(p.client("orders"))
        XCTAssertNil(p.client("dc-1."))
        XCTAssertNil(p.client("dc-1"))
        let up = p.upstreamRegex(Array("a|b.*".utf8))
        XCTAssertEqual(String(decoding: up, as: UTF8.self), "dc\\-1\\.(?:a|b.*)")
        XCTAssertEqual(p.clientRegex(up), Array("a|b.*".utf8))
        XCTAssertNil(p.clientRegex(Array("other.*".utf8)))
    }
}
