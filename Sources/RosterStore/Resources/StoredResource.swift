public import Foundation
import PostgresNIO
public import SCIM

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

/// A JSON object as a jsonb column, read and written directly (`JSONReader`, `JSONWriter`): PostgresNIO's default
/// goes through `JSONDecoder` and `Decodable`, which was 15 % of a GET by id's CPU in `perf`.
struct ResourceBody: PostgresCodable, Sendable {
    var object: [String: JSONValue]

    init(_ object: [String: JSONValue]) {
        self.object = object
    }

    static var psqlType: PostgresDataType { .jsonb }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        buffer.writeInteger(Self.jsonbVersion)
        buffer.writeBytes(JSONValue.object(object).encodedBytes())
    }

    init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat, context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        guard case .object(let object) = try Self.read(from: &buffer, type: type, format: format) else {
            throw PostgresDecodingError.Code.failure
        }
        self.object = object
    }

    /// jsonb's binary form: a version byte, then the JSON text.
    static let jsonbVersion: UInt8 = 1

    /// Any JSON value of a json or jsonb column.
    static func read(from buffer: inout ByteBuffer, type: PostgresDataType, format: PostgresFormat) throws -> JSONValue {
        switch (format, type) {
        case (.binary, .jsonb):
            guard buffer.readInteger(as: UInt8.self) == jsonbVersion else { throw PostgresDecodingError.Code.failure }
        case (.binary, .json), (.text, .jsonb), (.text, .json):
            break
        default:
            throw PostgresDecodingError.Code.typeMismatch
        }
        let value = try buffer.withUnsafeReadableBytes { bytes in try JSONValue.read(bytes) }
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        return value
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
