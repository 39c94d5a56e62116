import KafkaProtocol

/// Keeps a transaction of one cluster out of another.
///
/// A transaction open at a switch cannot move: its coordinator, its partitions and its pending
/// offsets are on the old cluster. The new cluster must see none of it: its coordinator does not
/// know the producer id (Tansu drops the connection, the librdkafka mock and Tansu accept some of
/// these requests, which would commit offsets without the records), and transactional records
/// written under a foreign id would never be committed or aborted there. So requests carrying
/// another cluster's producer id are answered by the proxy (`refusal(apiKey:)`) so that the
/// client's transaction fails with an abortable error and its abort ends in an epoch bump
/// (KIP-360): InitProducerId with the old id and epoch. That id means nothing here, so it is
/// cleared and the new cluster's coordinator issues a fresh id for the transactional.id. The
/// application goes on after its abort, without a restart. Transactional batches never go
/// through the idempotent stand-in translation: written outside their transaction they would
/// break exactly-once.
public enum TransactionGuard {
    public enum Verdict: Equatable, Sendable {
        case pass
        /// Sent on with the producer id and epoch cleared (the payload was patched in place).
        case clearedProducerId(Int64, epoch: Int16)
        /// Answered by the proxy with this response body (`errorCode` 0: as done); the request never
        /// reaches the cluster.
        case refuse(body: [UInt8], producerId: Int64, errorCode: Int16)
    }

    public static let invalidProducerIdMapping: Int16 = 49
    public static let concurrentTransactions: Int16 = 51
    public static let unknownProducerId: Int16 = 59

    /// The error code the proxy answers with, chosen by what librdkafka (2.16) does with it; the
    /// Java client treats the same codes alike or as abortable too.
    /// - AddPartitionsToTxn, EndTxn: INVALID_PRODUCER_ID_MAPPING, "abortable, bump the epoch".
    /// - AddOffsetsToTxn: none. No error of it leads to a bump, and an abort of a transaction that
    ///   registered nothing on the coordinator skips EndTxn, so the client would abort and retry
    ///   with the same id for as long as that lasts. Answered as done, nothing reaches the cluster;
    ///   the TxnOffsetCommit that follows is refused, and the abort then sends EndTxn.
    /// - TxnOffsetCommit: UNKNOWN_PRODUCER_ID, abortable (INVALID_PRODUCER_ID_MAPPING is fatal there).
    /// - Produce: UNKNOWN_PRODUCER_ID, abortable with an epoch bump for a transactional producer.
    public static func refusal(apiKey: Int16) -> Int16 {
        switch apiKey {
        case ApiKey.addOffsetsToTxn.rawValue: 0
        case ApiKey.txnOffsetCommit.rawValue, ApiKey.produce.rawValue: unknownProducerId
        default: invalidProducerIdMapping
        }
    }

    /// The new cluster may issue the very id and epoch the client had from the old one (Tansu counts
    /// producer ids from 1 on every cluster): the client would take that for no change and go on
    /// with its old sequence numbers, which the new cluster refuses as out of order (fatal). Such an
    /// answer to a cleared InitProducerId becomes CONCURRENT_TRANSACTIONS, which clients retry; the
    /// retry is cleared again and the coordinator, which now knows the transactional.id, bumps the
    /// epoch. `payload`: the response after its size prefix, patched in place; true when patched.
    public static func refuseUnchangedProducer(_ payload: inout [UInt8], version: Int16,
                                               clientHad producerId: Int64, epoch: Int16) -> Bool {
        guard let response = try? InitProducerIdResponse.decode(payload: payload, version: version),
              response.errorCode == 0, response.producerId == producerId, response.producerEpoch == epoch else {
            return false
        }
        var r = ByteReader(payload)
        let headerVersion = ApiCatalog.responseHeaderVersion(apiKey: ApiKey.initProducerId.rawValue, apiVersion: version)
        guard (try? ResponseHeader.decode(from: &r, headerVersion: headerVersion)) != nil else { return false }
        let at = r.index + 4                                 // after throttle_time_ms
        payload[at] = UInt8(truncatingIfNeeded: concurrentTransactions >> 8)
        payload[at + 1] = UInt8(truncatingIfNeeded: concurrentTransactions)
        return true
    }

    /// Whether a request of this api may need a verdict.
    public static func inspects(apiKey: Int16) -> Bool {
        apiKey == ApiKey.produce.rawValue || apiKey == ApiKey.initProducerId.rawValue
            || TransactionRequest.apiKeys.contains(apiKey)
    }

    /// - Parameters:
    ///   - payload: the whole request after its size prefix; patched in place for `.clearedProducerId`.
    ///   - issuedElsewhere: whether another cluster issued this producer id.
    /// A request that cannot be decoded passes: the broker answers it with its own error.
    public static func inspect(apiKey: Int16, apiVersion: Int16, headerLength: Int, payload: inout [UInt8],
                               issuedElsewhere: (Int64) -> Bool) -> Verdict {
        do {
            switch apiKey {
            case ApiKey.initProducerId.rawValue:
                var r = ByteReader(payload, from: headerLength)
                let request = try InitProducerIdRequest.decode(from: &r, version: apiVersion)
                guard request.producerId >= 0, issuedElsewhere(request.producerId),
                      try InitProducerIdRequest.clearProducerId(&payload, headerLength: headerLength,
                                                                version: apiVersion) else { return .pass }
                return .clearedProducerId(request.producerId, epoch: request.producerEpoch)
            case ApiKey.produce.rawValue:
                let batches = try ProduceRequestBatches.locate(payload: payload, headerLength: headerLength,
                                                               version: apiVersion)
                guard let foreign = batches.first(where: {
                    $0.isTransactional(in: payload) && $0.producerId >= 0 && issuedElsewhere($0.producerId)
                }) else { return .pass }
                let code = refusal(apiKey: apiKey)
                let body = try ProduceErrorResponse.body(request: payload, headerLength: headerLength,
                                                         version: apiVersion, errorCode: code)
                return .refuse(body: body, producerId: foreign.producerId, errorCode: code)
            default:
                var r = ByteReader(payload, from: headerLength)
                let request = try TransactionRequest.decode(apiKey: apiKey, apiVersion: apiVersion, from: &r)
                guard let foreign = request.producers.first(where: {
                    $0.producerId >= 0 && issuedElsewhere($0.producerId)
                }) else { return .pass }
                let code = refusal(apiKey: apiKey)
                return .refuse(body: request.responseBody(errorCode: code), producerId: foreign.producerId,
                               errorCode: code)
            }
        } catch {
            return .pass
        }
    }
}

extension ProducedBatch {
    /// Attributes bit 4: the batch belongs to a transaction.
    func isTransactional(in payload: [UInt8]) -> Bool {
        payload[offset + 22] & 0x10 != 0
    }
}
