import Dispatch
import KafkaProtocol
import Logging
import ProxyCore

/// What a connection does for clients that moved to another cluster (issue 3): group members'
/// fetches held until they rejoin there, producer ids obtained from the new cluster.
extension ProxySession {
    /// Holds a group member's Fetch until it has rejoined its group on this cluster, then closes the
    /// connection: the client reconnects and fetches from the positions its new assignment gave it
    /// (the new cluster's committed offsets), never from the old cluster's offsets.
    func holdFetchUntilRejoined() {
        holdingFetch = true
        client.pauseReading()
        logger.info("holding fetches of group member \(clientId ?? "") until it rejoins its group on \(cluster)")
        pollRejoin()
    }

    private func pollRejoin() {
        queue.asyncAfter(deadline: .now() + .milliseconds(100)) { [self] in
            guard phase == .relaying || phase == .draining else { return }
            if let clientId, context.groups.mustHoldFetch(clientId: clientId, cluster: cluster) {
                pollRejoin()
            } else {
                close(reason: nil, level: .info, "group member rejoined on \(cluster): closing so it fetches from its new positions")
            }
        }
    }

    /// Asks this connection's broker for a producer id to stand in for a producer another cluster issued.
    func requestProducerId(for producer: ProducerIdTranslator.ClientProducer) {
        guard let upstream else { return }
        awaitingProducerId = producer
        context.producerIds.markMoved(producer.producerId)
        let correlationId = nextProxyCorrelationId
        nextProxyCorrelationId &+= 1
        let version = initProducerIdVersion
        let header = RequestHeader(apiKey: ApiKey.initProducerId.rawValue, apiVersion: version,
                                   correlationId: correlationId, clientId: "kafka-proxy")
        let frame = KafkaFrame.request(header: header, body: InitProducerIdRequest().encoded(version: version))
        inflight.append(InflightRequest(correlationId: correlationId, apiKey: ApiKey.initProducerId.rawValue,
                                        apiVersion: version, startNanos: DispatchTime.now().uptimeNanoseconds,
                                        fromProxy: true))
        logger.info("producer \(producer.producerId) (epoch \(producer.epoch)) was issued by another cluster: getting a producer id from \(cluster) for it")
        upstream.send(frame)
    }

    /// SyncGroup answers: header, throttle_time_ms (v1+), error_code.
    static func syncGroupSucceeded(_ payload: [UInt8], version: Int16) -> Bool {
        var reader = ByteReader(payload)
        let headerVersion = ApiCatalog.responseHeaderVersion(apiKey: ApiKey.syncGroup.rawValue, apiVersion: version)
        guard (try? ResponseHeader.decode(from: &reader, headerVersion: headerVersion)) != nil else { return false }
        if version >= 1 { guard (try? reader.readInt32()) != nil else { return false } }
        return (try? reader.readInt16()) == 0
    }
}
