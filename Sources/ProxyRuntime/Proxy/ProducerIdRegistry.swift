import Synchronization

/// Which cluster issued which producer id, learned from the InitProducerId answers clients get
/// through the proxy, and which producers have moved. Connections translate (ProducerIdTranslator)
/// every id another cluster issued, and every id that has moved once, even on the cluster that
/// issued it: its sequence numbers went on elsewhere, so that cluster's state for it is stale.
/// Bounded: the oldest ids are forgotten first.
final class ProducerIdRegistry: Sendable {
    private struct State {
        var issuedBy: [Int64: String] = [:]
        var moved: Set<Int64> = []
        var order: [Int64] = []
        var next = 0
    }

    private let state = Locked(State())
    private let capacity: Int

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    func recordIssued(_ producerId: Int64, by cluster: String) {
        state.withLock { state in
            if state.issuedBy.updateValue(cluster, forKey: producerId) != nil { return }
            if state.order.count < capacity {
                state.order.append(producerId)
            } else {
                state.issuedBy[state.order[state.next]] = nil
                state.moved.remove(state.order[state.next])
                state.order[state.next] = producerId
                state.next = (state.next + 1) % capacity
            }
        }
    }

    /// Whether batches of this producer must be translated on `cluster`.
    func needsTranslation(_ producerId: Int64, on cluster: String) -> Bool {
        state.withLock { state in
            guard let issuer = state.issuedBy[producerId] else { return false }
            return issuer != cluster || state.moved.contains(producerId)
        }
    }

    /// Whether a cluster other than `cluster` issued this producer id: a transaction of it is not
    /// `cluster`'s (TransactionGuard). Unlike translation, a moved id is still its issuer's own.
    func issuedElsewhere(_ producerId: Int64, than cluster: String) -> Bool {
        state.withLock { state in
            guard let issuer = state.issuedBy[producerId] else { return false }
            return issuer != cluster
        }
    }

    /// A connection started translating this producer.
    func markMoved(_ producerId: Int64) {
        _ = state.withLock { $0.moved.insert(producerId) }
    }

    /// Whether connections to `cluster` may meet producers to translate; when not, they skip translation.
    func mayTranslate(on cluster: String) -> Bool {
        state.withLock { !$0.moved.isEmpty || $0.issuedBy.values.contains { $0 != cluster } }
    }
}
