import KafkaProtocol
import XCTest

/// Fetch requests through a proxy that hides leader epochs: every partition's epoch becomes -1.
final class FetchLeaderEpochsTests: XCTestCase {
    private func request(epochs: [Int32], version: Int16) -> FetchRequest {
        FetchRequest(topics: [
            .init(name: "orders", topicId: KafkaUUID(high: 7, low: 9),
                  partitions: [.init(partition: 0, fetchOffset: 324, currentLeaderEpoch: epochs[0]),
                               .init(partition: 2, fetchOffset: 17, currentLeaderEpoch: epochs[1])]),
            .init(name: "payments-and-a-longer-name", topicId: KafkaUUID(high: 1, low: 2),
                  partitions: [.init(partition: 5, fetchOffset: 0, currentLeaderEpoch: epochs[2])]),
        ], rackId: "rack-a")
    }

    /// A whole frame: size prefix, a v1/v2 request header, the body.
    private func frame(_ body: [UInt8], version: Int16) -> (bytes: [UInt8], bodyStart: Int) {
        var header = ByteWriter()
        header.writeInt16(ApiKey.fetch.rawValue)
        header.writeInt16(version)
        header.writeInt32(42)
        header.writeString("rdkafka", flexible: false)
        if version >= 12 { header.writeTaggedFields([], if: true) }
        var w = ByteWriter()
        w.writeInt32(Int32(header.bytes.count + body.count))
        return (w.bytes + header.bytes + body, 4 + header.bytes.count)
    }

    private func cleared(_ epochs: [Int32], version: Int16) -> [UInt8]? {
        let (bytes, bodyStart) = frame(request(epochs: epochs, version: version).encoded(version: version), version: version)
        return bytes.withUnsafeBytes { FetchLeaderEpochs.cleared(frame: $0, bodyStart: bodyStart, version: version) }
    }

    func testEveryEpochBecomesUnknownAndNothingElseChangesInEveryVersionWithEpochs() {
        for version in Int16(9)...17 {
            let want = frame(request(epochs: [-1, -1, -1], version: version).encoded(version: version), version: version).bytes
            // librdkafka's 0 for an unknown epoch, and an epoch a client learned elsewhere
            XCTAssertEqual(cleared([0, 5, -1], version: version), want, "v\(version)")
            XCTAssertEqual(cleared([-1, -1, 3], version: version), want, "v\(version)")
        }
    }

    func testNothingToChangeIsNil() {
        XCTAssertNil(cleared([-1, -1, -1], version: 12), "no copy when every epoch is already unknown")
        XCTAssertNil(cleared([0, 0, 0], version: 8), "before v9 a Fetch has no epoch")
    }

    func testATruncatedOrMalformedBodyIsLeftToTheBroker() {
        let version: Int16 = 11
        let (bytes, bodyStart) = frame(request(epochs: [0, 0, 0], version: version).encoded(version: version), version: version)
        for cut in [bodyStart + 3, bodyStart + 30, bytes.count - 30] {
            let short = Array(bytes[..<cut])
            XCTAssertNil(short.withUnsafeBytes { FetchLeaderEpochs.cleared(frame: $0, bodyStart: bodyStart, version: version) },
                         "cut at \(cut)")
        }
        var negative = bytes
        // the first topic name's length, made negative
        let nameLength = bodyStart + 4 + 4 + 4 + 4 + 1 + 8 + 4
        negative[nameLength] = 0xFF
        XCTAssertNil(negative.withUnsafeBytes { FetchLeaderEpochs.cleared(frame: $0, bodyStart: bodyStart, version: version) })
    }
}
