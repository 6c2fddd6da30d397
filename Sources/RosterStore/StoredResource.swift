import Foundation
import PostgresNIO
import SCIM

/// A User or Group row: the canonical body plus what `meta` needs.
public struct StoredResource: Sendable, Equatable {
    public var id: UUID
    public var body: [String: JSONValue]
    public var created: Date
    public var lastModified: Date
    public var version: Int64
    /// A user's groups, direct and through nested groups (RFC 7643 §4.1.2), when they were loaded.
    public var groups: [UserGroup]? = nil
}

/// A group a user belongs to: directly, or through a group that is a member of it.
public struct UserGroup: Sendable, Equatable, Codable {
    public var id: UUID
    public var display: String
    public var direct: Bool
}

/// The resource body as a jsonb column.
struct ResourceBody: Codable, PostgresCodable, Sendable {
    var object: [String: JSONValue]

    init(_ object: [String: JSONValue]) {
        self.object = object
    }

    init(from decoder: any Decoder) throws {
        object = try decoder.singleValueContainer().decode([String: JSONValue].self)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(object)
    }
}

extension StoredResource {
    static let columns = "id, body, created, last_modified, version"

    static func decode(_ rows: [PostgresRow]) throws -> [StoredResource] {
        try rows.map { row in
            // Decodes the leading columns; a list query appends its window count after them.
            let columns = row.makeRandomAccess()
            let id = try columns[0].decode(UUID.self)
            let body = try columns[1].decode(ResourceBody.self)
            let created = try columns[2].decode(Date.self)
            let lastModified = try columns[3].decode(Date.self)
            let version = try columns[4].decode(Int64.self)
            // A users list selects their groups too (`groups`; NULL when a user has none).
            let groups = columns.contains("groups") ? (try columns["groups"].decode(UserGroups?.self))?.groups ?? [] : nil
            return StoredResource(id: id, body: body.object, created: created, lastModified: lastModified, version: version, groups: groups)
        }
    }

    static func decode(_ rows: PostgresRowSequence) async throws -> [StoredResource] {
        try decode(await rows.collect())
    }
}

/// A page of resources and the total count of the query.
public struct ResourcePage<Resource: Sendable>: Sendable {
    public var totalResults: Int
    public var resources: [Resource]
}
