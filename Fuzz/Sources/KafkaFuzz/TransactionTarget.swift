import KafkaProtocol
import ProxyCore

extension FuzzTargets {
    /// Input: a request payload (header, body), as for produce_batches. TransactionGuard must not
    /// trap on any bytes; a request it clears keeps its size and then carries producer id -1 (a
    /// second look passes it); a refusal names the request's own producer id; and a transaction
    /// request that decodes decodes the same at every version byte it was handed.
    static func transactionRequests(_ data: [UInt8]) {
        guard let info = try? data.withUnsafeBytes({ try RequestHeader.peek($0, frameLength: data.count) }) else { return }
        var payload = data
        let verdict = TransactionGuard.inspect(apiKey: info.apiKey, apiVersion: info.apiVersion,
                                               headerLength: info.headerLength, payload: &payload) { $0 % 2 == 1 }
        check(payload.count == data.count, "the guard changed the request size")
        switch verdict {
        case .pass:
            check(payload == data, "a request that passes was changed")
        case .clearedProducerId(let producerId, _):
            check(producerId % 2 == 1, "cleared producer \(producerId), which is not foreign")
            var again = payload
            check(TransactionGuard.inspect(apiKey: info.apiKey, apiVersion: info.apiVersion,
                                           headerLength: info.headerLength, payload: &again) { $0 % 2 == 1 } == .pass,
                  "a cleared InitProducerId is cleared again")
            var r = ByteReader(payload, from: info.headerLength)
            let request = try? InitProducerIdRequest.decode(from: &r, version: info.apiVersion)
            check(request?.producerId == -1 && request?.producerEpoch == -1, "producer id not cleared: \(String(describing: request))")
        case .refuse(let body, let producerId, let errorCode):
            check(producerId % 2 == 1, "refused producer \(producerId), which is not foreign")
            check(errorCode == TransactionGuard.refusal(apiKey: info.apiKey), "error \(errorCode) for api \(info.apiKey)")
            check(body.count >= 6, "answer of \(body.count) bytes")
            check(payload == data, "a refused request was changed")
        }
        if TransactionRequest.apiKeys.contains(info.apiKey) {
            var r1 = ByteReader(data, from: info.headerLength)
            var r2 = ByteReader(data, from: info.headerLength)
            let first = try? TransactionRequest.decode(apiKey: info.apiKey, apiVersion: info.apiVersion, from: &r1)
            let second = try? TransactionRequest.decode(apiKey: info.apiKey, apiVersion: info.apiVersion, from: &r2)
            check(first == second, "decoding is not deterministic")
            if let first {
                check(first.responseBody(errorCode: 49) == first.responseBody(errorCode: 49), "answer not deterministic")
                if first.apiKey == ApiKey.addPartitionsToTxn.rawValue {
                    check(first.topics.count == (info.apiVersion >= 4 ? first.producers.count : 1),
                          "topics per producer: \(first.topics.count) for \(first.producers.count)")
                }
            }
        }
    }
}
