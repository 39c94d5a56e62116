import KafkaProtocol
import Prometheus

extension ProxyMetrics {
    /// Transactional requests carrying another cluster's producer id, answered by the proxy with
    /// an error (`kafka_proxy_transaction_requests_refused_total{cluster,api}`). Cold path: after
    /// a switch, a few per transactional producer.
    func recordTransactionRefused(cluster: String, apiKey: Int16) {
        registry.makeCounter(descriptor: Self.name("transaction_requests_refused", "total",
            "Transactional requests with a producer id another cluster issued, answered by the proxy with an error"),
            labels: [("cluster", cluster), ("api", ApiKey(apiKey).description)]).increment()
    }
}
