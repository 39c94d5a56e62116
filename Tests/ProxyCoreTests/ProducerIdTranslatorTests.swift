import KafkaProtocol
@testable import ProxyCore
import XCTest

final class ProducerIdTranslatorTests: XCTestCase {
    private func produceRequest(producerId: Int64, epoch: Int16, sequence: Int32, version: Int16 = 9) -> (payload: [UInt8], headerLength: Int) {
        let batch = RecordBatchBuilder(baseTimestamp: 1_700_000_000_000)
            .build([Record(key: nil, value: Array("hello".utf8)), Record(key: nil, value: Array("world".utf8))])
        let frame = KafkaFrame.request(
            header: RequestHeader(apiKey: ApiKey.produce.rawValue, apiVersion: version, correlationId: 1, clientId: "c"),
            body: ProduceRequest(topic: "t", partition: 0, records: batch, acks: -1).encoded(version: version))
        var payload = Array(frame[4...])
        let header = try! payload.withUnsafeBytes { try RequestHeader.peek($0) }!
        let located = try! ProduceRequestBatches.locate(payload: payload, headerLength: header.headerLength, version: version)[0]
        ProduceRequestBatches.patch(&payload, batch: located, producerId: producerId, producerEpoch: epoch, baseSequence: sequence)
        return (payload, header.headerLength)
    }

    func testForeignProducerIsMovedOntoTheIssuedIdWithSequencesFromZero() throws {
        var translator = ProducerIdTranslator()
        var (payload, headerLength) = produceRequest(producerId: 7, epoch: 0, sequence: 1200)
        let client = ProducerIdTranslator.ClientProducer(producerId: 7, epoch: 0)
        XCTAssertEqual(try translator.translate(&payload, headerLength: headerLength, version: 9) { $0 == 7 },
                       .needsProducerId(client))
        translator.issued(for: client, producerId: 4242, epoch: 3)
        XCTAssertEqual(try translator.translate(&payload, headerLength: headerLength, version: 9) { $0 == 7 },
                       .rewritten(batches: 1))
        var batch = try ProduceRequestBatches.locate(payload: payload, headerLength: headerLength, version: 9)[0]
        XCTAssertEqual([batch.producerId, Int64(batch.producerEpoch), Int64(batch.baseSequence)], [4242, 3, 0])
        XCTAssertTrue(ProduceRequestBatches.crcIsValid(payload, batch: batch), "the CRC covers the patched fields")

        // The next batch continues the sequence; a retry of the first keeps sequence 0.
        var (next, _) = produceRequest(producerId: 7, epoch: 0, sequence: 1202)
        _ = try translator.translate(&next, headerLength: headerLength, version: 9) { $0 == 7 }
        batch = try ProduceRequestBatches.locate(payload: next, headerLength: headerLength, version: 9)[0]
        XCTAssertEqual(batch.baseSequence, 2)
    }

    func testNativeProducersAreUntouched() throws {
        var translator = ProducerIdTranslator()
        let (original, headerLength) = produceRequest(producerId: 9, epoch: 1, sequence: 5)
        var payload = original
        XCTAssertEqual(try translator.translate(&payload, headerLength: headerLength, version: 9) { _ in false }, .unchanged)
        XCTAssertEqual(payload, original)
    }
}
