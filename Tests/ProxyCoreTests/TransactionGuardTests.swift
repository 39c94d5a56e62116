import KafkaProtocol
@testable import ProxyCore
import XCTest

final class TransactionGuardTests: XCTestCase {
    private func endTxn(_ correlationId: Int32, producerId: Int64, version: Int16 = 1) -> [UInt8] {
        var w = ByteWriter()
        w.writeString("tx", flexible: version >= 3)
        w.writeInt64(producerId)
        w.writeInt16(3)
        w.writeBool(false)
        if version >= 3 { w.writeTaggedFields([]) }
        return StreamFixtures.request(.endTxn, version, correlationId: correlationId, body: w.bytes)
    }

    private func initProducerId(_ correlationId: Int32, producerId: Int64) -> [UInt8] {
        let body = InitProducerIdRequest(transactionalId: "tx", producerId: producerId, producerEpoch: 3).encoded(version: 4)
        return StreamFixtures.request(.initProducerId, 4, correlationId: correlationId, body: body)
    }

    /// A Produce v9 whose one batch is transactional (attributes bit 4) and belongs to `producerId`.
    private func transactionalProduce(_ correlationId: Int32, producerId: Int64) -> [UInt8] {
        var frame = Frames.idempotentProduce(correlationId, producerId: producerId, sequence: 0)
        var payload = Array(frame[4...])
        let header = try! payload.withUnsafeBytes { try RequestHeader.peek($0) }!
        let batch = try! ProduceRequestBatches.locate(payload: payload, headerLength: header.headerLength, version: 9)[0]
        payload[batch.offset + 22] |= 0x10
        frame = Array(frame[..<4]) + payload
        return frame
    }

    private func inspect(_ frame: [UInt8], foreign: Set<Int64>) -> (TransactionGuard.Verdict, [UInt8]) {
        var payload = Array(frame[4...])
        let header = try! payload.withUnsafeBytes { try RequestHeader.peek($0) }!
        let verdict = TransactionGuard.inspect(apiKey: header.apiKey, apiVersion: header.apiVersion,
                                               headerLength: header.headerLength, payload: &payload) { foreign.contains($0) }
        return (verdict, payload)
    }

    func testRequestsOfAForeignProducerAreRefusedWithTheCodeThatMakesTheClientBump() {
        guard case .refuse(let body, 7, 49) = inspect(endTxn(1, producerId: 7), foreign: [7]).0 else {
            return XCTFail("EndTxn of a foreign producer is refused with INVALID_PRODUCER_ID_MAPPING")
        }
        XCTAssertEqual(body, [0, 0, 0, 0, 0, 49])
        guard case .refuse(_, 7, 59) = inspect(transactionalProduce(2, producerId: 7), foreign: [7]).0 else {
            return XCTFail("a transactional Produce of a foreign producer is refused with UNKNOWN_PRODUCER_ID")
        }
        XCTAssertEqual(inspect(endTxn(3, producerId: 8), foreign: [7]).0, .pass, "this cluster's own producer")
        XCTAssertEqual(inspect(Frames.idempotentProduce(4, producerId: 7, sequence: 0), foreign: [7]).0, .pass,
                       "idempotent batches are the translator's")
    }

    func testInitProducerIdWithAForeignIdAsksForAFreshOne() throws {
        let (verdict, payload) = inspect(initProducerId(1, producerId: 7), foreign: [7])
        XCTAssertEqual(verdict, .clearedProducerId(7, epoch: 3))
        let header = try payload.withUnsafeBytes { try RequestHeader.peek($0) }!
        var r = ByteReader(payload, from: header.headerLength)
        let request = try InitProducerIdRequest.decode(from: &r, version: 4)
        XCTAssertEqual([request.producerId, Int64(request.producerEpoch)], [-1, -1])
        XCTAssertEqual(request.transactionalId, "tx")
        XCTAssertEqual(inspect(initProducerId(2, producerId: 8), foreign: [7]).0, .pass)
    }

    func testUndecodableRequestsPassForTheBrokerToAnswer() {
        let truncated = StreamFixtures.request(.endTxn, 1, correlationId: 1, body: [0, 2, 0x74])
        XCTAssertEqual(inspect(truncated, foreign: [7]).0, .pass)
    }

    /// After a move: the refusal goes out only once the responses before it have, in order.
    func testTheRefusalIsAnsweredInOrderBehindTheResponsesInFlight() {
        let policy = FakePolicy()
        policy.markForeign(7)
        var d = MachineDriver(translates: true, policy: policy)
        d.relaying()
        let first = d.client(Frames.produce(1) + endTxn(2, producerId: 7))
        XCTAssertEqual(first.toBroker, Frames.produce(1), "the EndTxn never reaches the cluster")
        XCTAssertTrue(first.toClient.isEmpty, "the refusal waits for the Produce response")

        let answered = d.broker(Frames.response(1))
        let refusal = KafkaFrame.response(apiKey: ApiKey.endTxn.rawValue, apiVersion: 1, correlationId: 2,
                                          body: [0, 0, 0, 0, 0, 49])
        XCTAssertEqual(answered.toClient, Frames.response(1) + refusal)
        XCTAssertTrue(first.has(.transactionRefused(ApiKey.endTxn.rawValue)))
        XCTAssertTrue(d.machine.inflight.isEmpty, "nothing of the refused request is in flight")

        // With nothing in flight the answer goes at once; the next request flows either way.
        let next = d.client(endTxn(3, producerId: 7) + Frames.produce(4))
        XCTAssertEqual(next.toClient, KafkaFrame.response(apiKey: ApiKey.endTxn.rawValue, apiVersion: 1, correlationId: 3,
                                                          body: [0, 0, 0, 0, 0, 49]))
        XCTAssertEqual(next.toBroker, Frames.produce(4))
    }

    /// The new cluster may issue the very id and epoch the client had from the old one: the client
    /// would keep its sequence numbers, so that answer becomes a retriable error.
    func testAnAnswerWithTheClientsOldIdAndEpochIsTurnedIntoARetry() throws {
        let policy = FakePolicy()
        policy.markForeign(7)
        var d = MachineDriver(translates: true, policy: policy)
        d.relaying()
        XCTAssertTrue(d.client(initProducerId(1, producerId: 7)).has(.requestSeen(1)))
        func answer(_ correlationId: Int32, epoch: Int16) -> [UInt8] {
            var w = ByteWriter()
            InitProducerIdResponse(producerId: 7, producerEpoch: epoch).encode(into: &w, version: 4)
            return KafkaFrame.response(apiKey: ApiKey.initProducerId.rawValue, apiVersion: 4,
                                       correlationId: correlationId, body: w.bytes)
        }
        let same = d.broker(answer(1, epoch: 3)).toClient
        let relayed = try InitProducerIdResponse.decode(payload: Array(same[4...]), version: 4)
        XCTAssertEqual(relayed.errorCode, TransactionGuard.concurrentTransactions)

        // The retry is cleared again; a new epoch goes to the client as the cluster sent it.
        _ = d.client(initProducerId(2, producerId: 7))
        let bumped = d.broker(answer(2, epoch: 4))
        XCTAssertEqual(bumped.toClient, answer(2, epoch: 4))
        XCTAssertTrue(bumped.has(.producerIdIssued(7)))
    }
}
