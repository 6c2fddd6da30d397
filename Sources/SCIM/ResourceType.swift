/// RFC 7643 §6: a resource type the service provider exposes, with its core schema and extensions.
public struct ResourceType: Sendable, Hashable {
    public struct Extension: Sendable, Hashable {
        public var schema: Schema
        public var required: Bool
    }

    public var name: String
    public var endpoint: String
    public var description: String
    public var schema: Schema
    public var extensions: [Extension]

    public init(name: String, endpoint: String, description: String, schema: Schema, extensions: [Extension] = []) {
        self.name = name
        self.endpoint = endpoint
        self.description = description
        self.schema = schema
        self.extensions = extensions
    }

    public func `extension`(urn: String) -> Extension? {
        extensions.first { $0.schema.id.caseInsensitiveEquals(urn) }
    }

    /// Every schema URN a resource of this type may list in `schemas`.
    public var schemaURNs: [String] { [schema.id] + extensions.map(\.schema.id) }
}

/// The schemas and resource types this server knows, loaded from the `schemas/` documents.
public struct SchemaRegistry: Sendable {
    public static let userURN = "urn:ietf:params:scim:schemas:core:2.0:User"
    public static let groupURN = "urn:ietf:params:scim:schemas:core:2.0:Group"
    public static let enterpriseUserURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

    public let schemas: [Schema]
    public let user: ResourceType
    public let group: ResourceType

    public enum LoadError: Error, CustomStringConvertible {
        case missingSchema(String)
        public var description: String {
            switch self {
            case .missingSchema(let urn): "schema \(urn) is missing from the schema documents"
            }
        }
    }

    /// Builds the registry from schema documents; extension schemas (any URN containing
    /// `:extension:` that ends in `:User` or `:Group`) attach to the resource type they name.
    public init(schemas: [Schema]) throws(LoadError) {
        func find(_ urn: String) throws(LoadError) -> Schema {
            guard let schema = schemas.first(where: { $0.id == urn }) else { throw .missingSchema(urn) }
            return schema
        }
        let extensions = schemas.filter { $0.id.contains(":extension:") }
        self.schemas = schemas
        self.user = ResourceType(
            name: "User", endpoint: "/Users", description: "User Account", schema: try find(Self.userURN),
            extensions: extensions.filter { $0.id.hasSuffix(":User") }.map { .init(schema: $0, required: false) }
        )
        self.group = ResourceType(
            name: "Group", endpoint: "/Groups", description: "Group", schema: try find(Self.groupURN),
            extensions: extensions.filter { $0.id.hasSuffix(":Group") }.map { .init(schema: $0, required: false) }
        )
    }

    public var resourceTypes: [ResourceType] { [user, group] }

    public func schema(urn: String) -> Schema? {
        schemas.first { $0.id.caseInsensitiveEquals(urn) }
    }
}
