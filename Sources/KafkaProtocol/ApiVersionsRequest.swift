/// ApiVersions request (api key 18), v0-4.
public struct ApiVersionsRequest: Equatable, Sendable, KafkaEncodable {
    /// Version 3+.
    public var clientSoftwareName: String
    public var clientSoftwareVersion: String
    public var taggedFields: [TaggedField]

    public init(clientSoftwareName: String = "", clientSoftwareVersion: String = "", taggedFields: [TaggedField] = []) {
        self.clientSoftwareName = clientSoftwareName
        self.clientSoftwareVersion = clientSoftwareVersion
        self.taggedFields = taggedFields
    }

    public func encode(into w: inout ByteWriter, version: Int16) {
        guard version >= 3 else { return }
        w.writeCompactString(clientSoftwareName)
        w.writeCompactString(clientSoftwareVersion)
        w.writeTaggedFields(taggedFields)
    }

    public static func decode(from r: inout ByteReader, version: Int16) throws -> ApiVersionsRequest {
        guard version >= 3 else { return ApiVersionsRequest() }
        let name = try r.readCompactString()
        let ver = try r.readCompactString()
        return ApiVersionsRequest(clientSoftwareName: name, clientSoftwareVersion: ver, taggedFields: try r.readTaggedFields())
    }
}
