import KafkaProtocol

/// Framing helpers over the proxy's own codec (KafkaProtocol).
public enum KafkaFrames {
    /// size(4) + request header (version per ApiCatalog) + body.
    public static func request(apiKey: ApiKey, version: Int16, correlationId: Int32, clientId: String?, body: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: body.count + 64)
        w.writeInt32(0)
        RequestHeader(apiKey: apiKey.rawValue, apiVersion: version, correlationId: correlationId, clientId: clientId)
            .encode(into: &w)
        w.writeRawBytes(body)
        w.patchInt32(Int32(w.count - 4), at: 0)
        return w.bytes
    }

    /// Offset of the correlation id inside a framed request: size(4) api key(2) version(2).
    public static let requestCorrelationIdOffset = 8

    /// size(4) + response header + body.
    public static func response(apiKey: ApiKey, version: Int16, correlationId: Int32, body: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: body.count + 16)
        w.writeInt32(0)
        ResponseHeader(correlationId: correlationId)
            .encode(into: &w, headerVersion: ApiCatalog.responseHeaderVersion(apiKey: apiKey.rawValue, apiVersion: version))
        w.writeRawBytes(body)
        w.patchInt32(Int32(w.count - 4), at: 0)
        return w.bytes
    }

    /// The body of a response payload (after the size prefix), past its header.
    public static func responseBody(_ payload: [UInt8], apiKey: ApiKey, version: Int16) throws -> ByteReader {
        var r = ByteReader(payload)
        _ = try ResponseHeader.decode(from: &r, headerVersion: ApiCatalog.responseHeaderVersion(apiKey: apiKey.rawValue, apiVersion: version))
        return r
    }

    /// A record batch whose encoded size is close to `bytes` (one record, its value padded).
    public static func recordBatch(totalBytes bytes: Int, timestamp: Int64) -> [UInt8] {
        // Batch header 61 bytes + record framing (~10 bytes for attributes, deltas, lengths).
        let value = [UInt8](repeating: 0x61, count: max(1, bytes - 61 - 12))
        return RecordBatchBuilder(baseTimestamp: timestamp).build([Record(value: value)])
    }
}
