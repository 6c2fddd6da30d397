/// RFC 7644 §4: the discovery documents, built from what this server really supports.
public struct Discovery: Sendable {
    public static let serviceProviderConfigSchema = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    public static let resourceTypeSchema = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
    public static let schemaSchema = "urn:ietf:params:scim:schemas:core:2.0:Schema"

    public let registry: SchemaRegistry
    /// Absolute URL of the SCIM root, e.g. `https://roster.example.com/scim/v2`.
    public let baseURL: String
    public let documentationURL: String?

    public init(registry: SchemaRegistry, baseURL: String, documentationURL: String? = nil) {
        self.registry = registry
        self.baseURL = baseURL
        self.documentationURL = documentationURL
    }

    private func meta(_ resourceType: String, _ path: String) -> JSONValue {
        ["resourceType": .string(resourceType), "location": .string(baseURL + path)]
    }

    /// RFC 7643 §5. Every feature flag is true only when the build implements it; page sizes are the current limits.
    public func serviceProviderConfig(pageSizes: Pagination.Limits = .standard) -> JSONValue {
        var object: [String: JSONValue] = [
            "schemas": [.string(Self.serviceProviderConfigSchema)],
            "patch": ["supported": true],
            "bulk": [
                "supported": true, "maxOperations": .integer(BulkRequest.maxOperations),
                "maxPayloadSize": .integer(BulkRequest.maxPayloadSize),
            ],
            "filter": ["supported": true, "maxResults": .integer(pageSizes.maximumCount)],
            // RFC 9865 §4: both pagination methods; index stays the default.
            "pagination": [
                "cursor": true, "index": true, "defaultPaginationMethod": "index",
                "defaultPageSize": .integer(pageSizes.defaultCount), "maxPageSize": .integer(pageSizes.maximumCount),
                "cursorTimeout": .integer(Pagination.cursorTimeout),
            ],
            "changePassword": ["supported": false],
            "sort": ["supported": true],
            "etag": ["supported": true],
            "authenticationSchemes": [
                [
                    "type": "oauthbearertoken",
                    "name": "Bearer token",
                    "description": "A SCIM token (scim_…) issued by a Roster admin, sent as 'Authorization: Bearer <token>'.",
                    "primary": true,
                ],
            ],
            "meta": meta("ServiceProviderConfig", "/ServiceProviderConfig"),
        ]
        if let documentationURL { object["documentationUri"] = .string(documentationURL) }
        return .object(object)
    }

    public func resourceType(_ type: ResourceType) -> JSONValue {
        .object([
            "schemas": [.string(Self.resourceTypeSchema)],
            "id": .string(type.name),
            "name": .string(type.name),
            "endpoint": .string(type.endpoint),
            "description": .string(type.description),
            "schema": .string(type.schema.id),
            "schemaExtensions": .array(type.extensions.map {
                ["schema": .string($0.schema.id), "required": .bool($0.required)]
            }),
            "meta": meta("ResourceType", "/ResourceTypes/\(type.name)"),
        ])
    }

    public func schema(_ schema: Schema) -> JSONValue {
        var object: [String: JSONValue] = [
            "schemas": [.string(Self.schemaSchema)],
            "id": .string(schema.id),
            "attributes": .array(schema.attributes.map(Self.attribute)),
            "meta": meta("Schema", "/Schemas/\(schema.id)"),
        ]
        if let name = schema.name { object["name"] = .string(name) }
        if let description = schema.description { object["description"] = .string(description) }
        return .object(object)
    }

    private static func attribute(_ attribute: SchemaAttribute) -> JSONValue {
        var object: [String: JSONValue] = [
            "name": .string(attribute.name),
            "type": .string(attribute.type.rawValue),
            "multiValued": .bool(attribute.multiValued),
            "required": .bool(attribute.required),
            "caseExact": .bool(attribute.caseExact),
            "mutability": .string(attribute.mutability.rawValue),
            "returned": .string(attribute.returned.rawValue),
            "uniqueness": .string(attribute.uniqueness.rawValue),
        ]
        if let description = attribute.description { object["description"] = .string(description) }
        if let values = attribute.canonicalValues { object["canonicalValues"] = .array(values.map(JSONValue.string)) }
        if let types = attribute.referenceTypes { object["referenceTypes"] = .array(types.map(JSONValue.string)) }
        if let subs = attribute.subAttributes { object["subAttributes"] = .array(subs.map(Self.attribute)) }
        return .object(object)
    }
}
