import XCTest
@testable import KafkaProtocol

/// The admin and transaction APIs at every version.
final class TopicNamesAdminApiTests: XCTestCase {
    func testOffsetForLeaderEpoch() throws {
        try checkRequest(.offsetForLeaderEpoch, 0...4) { m, v, topics in
            if v >= 3 { m.i32(-1) }
            m.count(topics.count)
            for t in topics {
                m.str(t)
                m.count(1); m.i32(0); if v >= 2 { m.i32(-1) }; m.i32(4); m.tags()
                m.tags()
            }
            m.tags()
        }
        try checkResponse(.offsetForLeaderEpoch, 0...4) { m, v, topics in
            if v >= 2 { m.i32(0) }
            m.count(topics.count)
            for t in topics {
                m.str(t)
                m.count(1); m.i16(0); m.i32(0); if v >= 1 { m.i32(4) }; m.i64(100); m.tags()
                m.tags()
            }
            m.tags()
        }
    }

    func testOffsetDelete() throws {
        try checkRequest(.offsetDelete, 0...0) { m, _, topics in
            m.str("g")
            m.count(topics.count)
            for t in topics { m.str(t); m.count(2); m.i32(0); m.i32(1) }
        }
        try checkResponse(.offsetDelete, 0...0) { m, _, topics in
            m.i16(0); m.i32(0)
            m.count(topics.count)
            for t in topics { m.str(t); m.count(1); m.i32(0); m.i16(0) }
        }
    }

    func testCreateTopics() throws {
        try checkRequest(.createTopics, 0...7) { m, v, topics in
            m.count(topics.count)
            for t in topics {
                m.str(t); m.i32(-1); m.i16(-1)
                m.count(1); m.i32(0); m.int32s([1, 2]); m.tags()
                m.count(1); m.str("cleanup.policy"); m.str("compact"); m.tags()
                m.tags()
            }
            m.i32(30_000)
            if v >= 1 { m.bool(false) }
            m.tags()
        }
        try checkResponse(.createTopics, 0...7) { m, v, topics in
            if v >= 2 { m.i32(0) }
            m.count(topics.count)
            for t in topics {
                m.str(t)
                if v >= 7 { m.uuid(9) }
                m.i16(0)
                if v >= 1 { m.str(nil) }
                if v >= 5 {
                    m.i32(3); m.i16(1)
                    m.count(1); m.str("retention.ms"); m.str("1"); m.bool(false); m.i8(5); m.bool(false); m.tags()
                }
                m.tags()
            }
            m.tags()
        }
    }

    func testDeleteTopics() throws {
        try checkRequest(.deleteTopics, 0...6) { m, v, topics in
            if v >= 6 {
                m.count(topics.count)
                for t in topics { m.str(t); m.uuid(0); m.tags() }
            } else {
                m.strs(topics)
            }
            m.i32(30_000)
            m.tags()
        }
        try checkResponse(.deleteTopics, 0...6) { m, v, topics in
            if v >= 1 { m.i32(0) }
            m.count(topics.count)
            for t in topics {
                m.str(t)
                if v >= 6 { m.uuid(4) }
                m.i16(0)
                if v >= 5 { m.str(nil) }
                m.tags()
            }
            m.tags()
        }
        // Deleted by id: a null name stays null.
        var m = Msg(flex: true)
        m.count(1); m.str(nil); m.uuid(4); m.tags(); m.i32(1000); m.tags()
        var context = TopicMappingContext()
        XCTAssertNil(try mapRequest(.deleteTopics, 6, m.bytes, context: &context))
    }

    func testCreatePartitions() throws {
        try checkRequest(.createPartitions, 0...3) { m, _, topics in
            m.count(topics.count)
            for t in topics {
                m.str(t); m.i32(6)
                m.count(1); m.int32s([1]); m.tags()
                m.tags()
            }
            m.i32(1000); m.bool(false)
            m.tags()
        }
        try checkResponse(.createPartitions, 0...3) { m, _, topics in
            m.i32(0)
            m.count(topics.count)
            for t in topics { m.str(t); m.i16(0); m.str(nil); m.tags() }
            m.tags()
        }
    }

    func testDeleteRecords() throws {
        try checkRequest(.deleteRecords, 0...2) { m, _, topics in
            m.count(topics.count)
            for t in topics {
                m.str(t)
                m.count(1); m.i32(0); m.i64(10); m.tags()
                m.tags()
            }
            m.i32(1000)
            m.tags()
        }
        try checkResponse(.deleteRecords, 0...2) { m, _, topics in
            m.i32(0)
            m.count(topics.count)
            for t in topics {
                m.str(t)
                m.count(1); m.i32(0); m.i64(10); m.i16(0); m.tags()
                m.tags()
            }
            m.tags()
        }
    }

    /// Each resource list holds a broker resource (type 4, name "1") that must pass unchanged.
    func testConfigsMapTopicResourcesOnly() throws {
        try checkRequest(.describeConfigs, 0...4) { m, v, topics in
            m.count(topics.count + 1)
            m.i8(4); m.str("1"); m.strs(nil); m.tags()
            for t in topics { m.i8(2); m.str(t); m.strs(["retention.ms"]); m.tags() }
            if v >= 1 { m.bool(true) }
            if v >= 3 { m.bool(false) }
            m.tags()
        }
        try checkResponse(.describeConfigs, 0...4) { m, v, topics in
            m.i32(0)
            m.count(topics.count + 1)
            for (i, t) in ([(4, "1")] + topics.map { (2, $0) }) {
                m.i16(0); m.str(nil); m.i8(Int8(i)); m.str(t)
                m.count(1)
                m.str("retention.ms"); m.str("1"); m.bool(false)
                if v == 0 { m.bool(true) }
                if v >= 1 { m.i8(5) }
                m.bool(false)
                if v >= 1 { m.count(1); m.str("retention.ms"); m.str("1"); m.i8(5); m.tags() }
                if v >= 3 { m.i8(5); m.str(nil) }
                m.tags()
                m.tags()
            }
            m.tags()
        }
        let alterResponse: BodyBuilder = { m, _, topics in
            m.i32(0)
            m.count(topics.count + 1)
            for (i, t) in ([(4, "1")] + topics.map { (2, $0) }) { m.i16(0); m.str(nil); m.i8(Int8(i)); m.str(t); m.tags() }
            m.tags()
        }
        try checkRequest(.alterConfigs, 0...2) { m, _, topics in
            m.count(topics.count + 1)
            for (i, t) in ([(4, "1")] + topics.map { (2, $0) }) {
                m.i8(Int8(i)); m.str(t)
                m.count(1); m.str("retention.ms"); m.str("1"); m.tags()
                m.tags()
            }
            m.bool(false)
            m.tags()
        }
        try checkResponse(.alterConfigs, 0...2, alterResponse)
        try checkRequest(.incrementalAlterConfigs, 0...1) { m, _, topics in
            m.count(topics.count + 1)
            for (i, t) in ([(4, "1")] + topics.map { (2, $0) }) {
                m.i8(Int8(i)); m.str(t)
                m.count(1); m.str("retention.ms"); m.i8(0); m.str("1"); m.tags()
                m.tags()
            }
            m.bool(false)
            m.tags()
        }
        try checkResponse(.incrementalAlterConfigs, 0...1, alterResponse)
    }

    func testDescribeProducers() throws {
        try checkRequest(.describeProducers, 0...0) { m, _, topics in
            m.count(topics.count)
            for t in topics { m.str(t); m.int32s([0, 1]); m.tags() }
            m.tags()
        }
        try checkResponse(.describeProducers, 0...0) { m, _, topics in
            m.i32(0)
            m.count(topics.count)
            for t in topics {
                m.str(t)
                m.count(1); m.i32(0); m.i16(0); m.str(nil)
                m.count(1); m.i64(7); m.i32(0); m.i32(3); m.i64(99); m.i32(-1); m.i64(-1); m.tags()
                m.tags()
                m.tags()
            }
            m.tags()
        }
    }

    func testAddPartitionsToTxn() throws {
        try checkRequest(.addPartitionsToTxn, 0...5) { m, v, topics in
            if v >= 4 {
                m.count(2)
                for id in ["tx1", "tx2"] {
                    m.str(id); m.i64(7); m.i16(0); m.bool(true)
                    m.count(topics.count)
                    for t in topics { m.str(t); m.int32s([0]); m.tags() }
                    m.tags()
                }
            } else {
                m.str("tx"); m.i64(7); m.i16(0)
                m.count(topics.count)
                for t in topics { m.str(t); m.int32s([0]); m.tags() }
            }
            m.tags()
        }
        try checkResponse(.addPartitionsToTxn, 0...5) { m, v, topics in
            m.i32(0)
            if v >= 4 {
                m.i16(0)
                m.count(2)
                for id in ["tx1", "tx2"] {
                    m.str(id)
                    m.count(topics.count)
                    for t in topics { m.str(t); m.count(1); m.i32(0); m.i16(0); m.tags(); m.tags() }
                    m.tags()
                }
            } else {
                m.count(topics.count)
                for t in topics { m.str(t); m.count(1); m.i32(0); m.i16(0); m.tags(); m.tags() }
            }
            m.tags()
        }
    }

    func testTxnOffsetCommit() throws {
        try checkRequest(.txnOffsetCommit, 0...4) { m, v, topics in
            m.str("tx"); m.str("g"); m.i64(7); m.i16(0)
            if v >= 3 { m.i32(1); m.str("m"); m.str(nil) }
            m.count(topics.count)
            for t in topics {
                m.str(t)
                m.count(1); m.i32(0); m.i64(5); if v >= 2 { m.i32(-1) }; m.str(nil); m.tags()
                m.tags()
            }
            m.tags()
        }
        try checkResponse(.txnOffsetCommit, 0...4) { m, _, topics in
            m.i32(0)
            m.count(topics.count)
            for t in topics { m.str(t); m.count(1); m.i32(0); m.i16(0); m.tags(); m.tags() }
            m.tags()
        }
    }

    func testElectLeadersAndReassignments() throws {
        try checkRequest(.electLeaders, 0...2) { m, v, topics in
            if v >= 1 { m.i8(0) }
            m.count(topics.count)
            for t in topics { m.str(t); m.int32s([0]); m.tags() }
            m.i32(1000)
            m.tags()
        }
        try checkResponse(.electLeaders, 0...2) { m, v, topics in
            m.i32(0)
            if v >= 1 { m.i16(0) }
            m.count(topics.count)
            for t in topics { m.str(t); m.count(1); m.i32(0); m.i16(0); m.str(nil); m.tags(); m.tags() }
            m.tags()
        }
        try checkRequest(.alterPartitionReassignments, 0...0) { m, _, topics in
            m.i32(1000)
            m.count(topics.count)
            for t in topics {
                m.str(t)
                m.count(2); m.i32(0); m.int32s([1, 2]); m.tags(); m.i32(1); m.count(nil); m.tags()
                m.tags()
            }
            m.tags()
        }
        try checkResponse(.alterPartitionReassignments, 0...0) { m, _, topics in
            m.i32(0); m.i16(0); m.str(nil)
            m.count(topics.count)
            for t in topics { m.str(t); m.count(1); m.i32(0); m.i16(0); m.str(nil); m.tags(); m.tags() }
            m.tags()
        }
        try checkRequest(.listPartitionReassignments, 0...0) { m, _, topics in
            m.i32(1000)
            m.count(topics.count)
            for t in topics { m.str(t); m.int32s([0]); m.tags() }
            m.tags()
        }
        try checkResponse(.listPartitionReassignments, 0...0) { m, _, topics in
            m.i32(0); m.i16(0); m.str(nil)
            m.count(topics.count)
            for t in topics {
                m.str(t)
                m.count(1); m.i32(0); m.int32s([1, 2]); m.int32s([2]); m.int32s([1]); m.tags()
                m.tags()
            }
            m.tags()
        }
    }

    static func describeTopicPartitionsRequest(_ m: inout Msg, _ topics: [String], cursor: String?) {
        m.count(topics.count)
        for t in topics { m.str(t); m.tags() }
        m.i32(2000)
        if let cursor { m.i8(1); m.str(cursor); m.i32(3); m.tags() } else { m.i8(-1) }
        m.tags()
    }

    static func describeTopicPartitionsResponse(_ m: inout Msg, _ topics: [String], cursor: String?) {
        m.i32(0)
        m.count(topics.count)
        for t in topics {
            m.i16(0); m.str(t); m.uuid(5); m.bool(false)
            m.count(1)
            m.i16(0); m.i32(0); m.i32(1); m.i32(0); m.int32s([1]); m.int32s([1]); m.count(nil); m.int32s([]); m.int32s([])
            m.tags()
            m.i32(0)
            m.tags()
        }
        if let cursor { m.i8(1); m.str(cursor); m.i32(3); m.tags() } else { m.i8(-1) }
        m.tags()
    }

    func testDescribeTopicPartitionsAndItsCursor() throws {
        try checkRequest(.describeTopicPartitions, 0...0) { m, _, topics in
            Self.describeTopicPartitionsRequest(&m, topics, cursor: topics.last)
        }
        try checkResponse(.describeTopicPartitions, 0...0) { m, _, topics in
            Self.describeTopicPartitionsResponse(&m, topics, cursor: topics.contains("a") ? "z" : "dc1.z")
        }
        var context = TopicMappingContext()
        // Every topic: the listing starts at the prefix.
        var all = Msg(flex: true)
        Self.describeTopicPartitionsRequest(&all, [], cursor: nil)
        var fromPrefix = Msg(flex: true)
        Self.describeTopicPartitionsRequest(&fromPrefix, [], cursor: "dc1.")
        fromPrefix.bytes[fromPrefix.bytes.count - 6..<fromPrefix.bytes.count - 2] = [0, 0, 0, 0]
        XCTAssertEqual(try mapRequest(.describeTopicPartitions, 0, all.bytes, context: &context), fromPrefix.bytes)
        // Named topics without a cursor: no cursor added.
        var named = Msg(flex: true)
        Self.describeTopicPartitionsRequest(&named, ["a"], cursor: nil)
        var namedUp = Msg(flex: true)
        Self.describeTopicPartitionsRequest(&namedUp, ["dc1.a"], cursor: nil)
        XCTAssertEqual(try mapRequest(.describeTopicPartitions, 0, named.bytes, context: &context), namedUp.bytes)
        // A next cursor past the prefixed topics ends the listing.
        var past = Msg(flex: true)
        Self.describeTopicPartitionsResponse(&past, ["dc1.a", "local"], cursor: "zz")
        var ended = Msg(flex: true)
        Self.describeTopicPartitionsResponse(&ended, ["a"], cursor: nil)
        XCTAssertEqual(try mapResponse(.describeTopicPartitions, 0, past.bytes, context: &context), ended.bytes)
        checkTruncations(.describeTopicPartitions, 0, request: false, past.bytes)
    }
}
