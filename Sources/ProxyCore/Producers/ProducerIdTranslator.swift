import KafkaProtocol

/// Moves idempotent producers to a cluster that did not issue their producer id.
///
/// After a switch, a client keeps the producer id the old cluster gave it. The new cluster
/// either rejects it (and a client that bumps its epoch locally retries forever) or, worse,
/// issued the same id to another producer, and would silently deduplicate one against the
/// other. So, per connection, the proxy gets a producer id of its own from the new cluster for
/// each (client producer id, epoch) and rewrites the client's batches onto it: producer id,
/// epoch, and sequence numbers counted from the first batch seen per partition. A retry keeps
/// its sequence, so the new cluster still deduplicates retries. Transactional batches are left
/// alone: their ids belong to a transaction coordinator, which the client must re-initialise
/// (TransactionGuard).
///
/// Not thread-safe: owned by one connection.
public struct ProducerIdTranslator: Sendable {
    public struct ClientProducer: Hashable, Sendable {
        public var producerId: Int64
        public var epoch: Int16
    }

    public enum Outcome: Equatable, Sendable {
        case unchanged
        case rewritten(batches: Int)
        /// Obtain an id from the cluster (InitProducerId), report it with `issued`, then translate again.
        case needsProducerId(ClientProducer)
    }

    private struct Partition: Hashable, Sendable {
        var topic: String
        var index: Int32
    }

    private struct Mapping: Sendable {
        var producerId: Int64
        var epoch: Int16
        var sequenceBase: [Partition: Int32] = [:]
    }

    private var mappings: [ClientProducer: Mapping] = [:]

    public init() {}

    /// - Parameters:
    ///   - payload: a whole Produce request after its size prefix; patched in place.
    ///   - isForeign: whether another cluster issued this producer id.
    public mutating func translate(_ payload: inout [UInt8], headerLength: Int, version: Int16,
                                   isForeign: (Int64) -> Bool) throws -> Outcome {
        let batches = try ProduceRequestBatches.locate(payload: payload, headerLength: headerLength, version: version)
        var todo: [(ProducedBatch, ClientProducer)] = []
        for batch in batches where batch.producerId >= 0 && isForeign(batch.producerId) {
            if batch.isTransactional(in: payload) { continue }
            let client = ClientProducer(producerId: batch.producerId, epoch: batch.producerEpoch)
            guard mappings[client] != nil else { return .needsProducerId(client) }
            todo.append((batch, client))
        }
        for (batch, client) in todo {
            let partition = Partition(topic: batch.topic, index: batch.partition)
            let base = mappings[client]!.sequenceBase[partition] ?? batch.baseSequence
            mappings[client]!.sequenceBase[partition] = base
            let mapping = mappings[client]!
            ProduceRequestBatches.patch(&payload, batch: batch, producerId: mapping.producerId,
                                        producerEpoch: mapping.epoch, baseSequence: batch.baseSequence &- base)
        }
        return todo.isEmpty ? .unchanged : .rewritten(batches: todo.count)
    }

    public mutating func issued(for client: ClientProducer, producerId: Int64, epoch: Int16) {
        mappings[client] = Mapping(producerId: producerId, epoch: epoch)
    }
}
