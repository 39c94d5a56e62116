import KafkaProtocol
@testable import ProxyCore
import XCTest

final class RequestObserverTests: XCTestCase {
    private func observe(_ chunks: [[UInt8]], max: Int = 1 << 20) throws(ProxyStreamError) -> [ObservedRequest] {
        var observer = RequestObserver(maxFrameBytes: max)
        var seen: [ObservedRequest] = []
        for chunk in chunks {
            try chunk.withUnsafeBytes { raw in
                Result { () throws(ProxyStreamError) in try observer.observe(raw) { seen.append($0) } }
            }.get()
        }
        XCTAssertTrue(observer.isAtFrameBoundary)
        return seen
    }

    func testSeesEveryRequestOfAPipeline() throws {
        let seen = try observe([StreamFixtures.requestStream])
        XCTAssertEqual(seen.map(\.correlationId), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(seen.map(\.apiKey), [18, 3, 0, 0, 1, 0])
        XCTAssertEqual(seen.map(\.expectsResponse), [true, true, false, true, true, true])
    }

    func testEverySplitOffsetGivesTheSameRequests() throws {
        let stream = StreamFixtures.requestStream
        let expected = try observe([stream])
        for split in 0...stream.count {
            XCTAssertEqual(try observe([Array(stream[..<split]), Array(stream[split...])]), expected, "split at \(split)")
        }
        XCTAssertEqual(try observe(stream.map { [$0] }), expected, "one byte at a time")
    }

    func testAcksZeroAtEveryProduceVersion() throws {
        for version in Int16(0)...Int16(13) {
            let frame = StreamFixtures.produce(version: version, correlationId: 7, acks: 0,
                                               transactionalId: version >= 3 ? "tx" : nil)
            XCTAssertEqual(try observe([frame]).map(\.expectsResponse), [false], "Produce v\(version)")
        }
    }

    func testOversizedFrameIsRejectedFromItsSizePrefix() {
        XCTAssertThrowsError(try observe([[0x7f, 0xff, 0xff, 0xff, 0, 18]], max: 1024)) { error in
            XCTAssertEqual((error as? ProxyStreamError)?.reason, .frameTooLarge)
        }
    }

    func testNegativeAndTinySizesAreRejected() {
        for prefix: [UInt8] in [[0xff, 0xff, 0xff, 0xfe], [0, 0, 0, 3]] {
            XCTAssertThrowsError(try observe([prefix + [0, 0, 0, 0]])) { error in
                XCTAssertEqual((error as? ProxyStreamError)?.reason, .invalidFrameSize)
            }
        }
    }

    func testUnknownApiKeyIsRejected() {
        let frame = KafkaFrame.framed([0x27, 0x0f, 0, 0, 0, 0, 0, 1, 0, 0])
        XCTAssertThrowsError(try observe([frame])) { error in
            XCTAssertEqual((error as? ProxyStreamError)?.reason, .unknownApiKey)
        }
    }

    func testHeaderLongerThanItsFrameIsRejected() {
        // Metadata v1 claims a 200-byte client id inside a 12-byte frame.
        let frame = KafkaFrame.framed([0, 3, 0, 1, 0, 0, 0, 9, 0, 200, 0x61, 0x62])
        XCTAssertThrowsError(try observe([frame])) { error in
            XCTAssertEqual((error as? ProxyStreamError)?.reason, .malformedRequest)
        }
    }

    func testVersionTooNewToRewriteIsRejected() {
        let frame = StreamFixtures.request(.metadata, 99, correlationId: 1)
        XCTAssertThrowsError(try observe([frame])) { error in
            XCTAssertEqual((error as? ProxyStreamError)?.reason, .unsupportedVersion)
        }
    }
}
