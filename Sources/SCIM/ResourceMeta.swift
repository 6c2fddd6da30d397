public import Foundation

/// RFC 7643 §3.1 `meta`: set by the server, never by the client.
public struct ResourceMeta: Sendable, Equatable {
    public var resourceType: String
    public var created: Date
    public var lastModified: Date
    public var location: String
    public var version: Int64

    public init(resourceType: String, created: Date, lastModified: Date, location: String, version: Int64) {
        self.resourceType = resourceType
        self.created = created
        self.lastModified = lastModified
        self.location = location
        self.version = version
    }

    /// RFC 7644 §3.14: the version is a weak entity tag.
    public var etag: String { "W/\"\(version)\"" }

    public var json: JSONValue {
        .object([
            "resourceType": .string(resourceType),
            "created": .string(SCIMDate.format(created)),
            "lastModified": .string(SCIMDate.format(lastModified)),
            "location": .string(location),
            "version": .string(etag),
        ])
    }
}

extension ResourceType {
    /// The resource as returned to clients: the stored body plus `id` and `meta`,
    /// without attributes whose `returned` characteristic is `never`.
    public func render(id: UUID, body: [String: JSONValue], meta: ResourceMeta) -> JSONValue {
        var object = body
        for attribute in schema.attributes where attribute.returned == .never {
            object[attribute.name] = nil
        }
        for ext in extensions {
            guard case .object(var fields)? = object[ext.schema.id] else { continue }
            for attribute in ext.schema.attributes where attribute.returned == .never { fields[attribute.name] = nil }
            object[ext.schema.id] = fields.isEmpty ? nil : .object(fields)
        }
        object["id"] = .string(id.uuidString.lowercased())
        object["meta"] = meta.json
        return .object(object)
    }
}
