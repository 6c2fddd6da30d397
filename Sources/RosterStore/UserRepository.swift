import Foundation
import PostgresNIO
import SCIM

/// SCIM Users of one tenant. Every statement is scoped by tenant_id.
public struct UserRepository: Sendable {
    let database: RosterDatabase
    let resourceType: ResourceType

    public init(database: RosterDatabase, resourceType: ResourceType) {
        self.database = database
        self.resourceType = resourceType
    }

    static let filterColumns: [String: FilterColumn] = [
        "id": FilterColumn(column: "id", caseExact: true, isID: true),
        "userName": FilterColumn(column: "user_name", caseExact: false),
        "externalId": FilterColumn(column: "external_id", caseExact: true),
        "displayName": FilterColumn(column: "display_name", caseExact: false),
    ]

    /// The indexed columns are copies of body attributes, so filters and uniqueness use indexes.
    private struct Columns {
        var userName: String
        var externalID: String?
        var displayName: String?
        var active: Bool?

        init(_ body: [String: JSONValue]) {
            userName = body["userName"]?.stringValue ?? ""
            externalID = body["externalId"]?.stringValue
            displayName = body["displayName"]?.stringValue
            active = body["active"]?.boolValue
        }
    }

    public func create(tenant: UUID, body: [String: JSONValue]) async throws -> StoredResource {
        let c = Columns(body)
        let rows = try await database.query(
            """
            INSERT INTO users (tenant_id, id, user_name, external_id, display_name, active, created, last_modified, body)
            VALUES (\(tenant), \(UUID()), \(c.userName), \(c.externalID), \(c.displayName), \(c.active), now(), now(), \(ResourceBody(body)))
            RETURNING \(unescaped: StoredResource.columns)
            """)
        guard let user = try await StoredResource.decode(rows).first else { throw StoreError.notFound("user") }
        return user
    }

    public func get(tenant: UUID, id: UUID) async throws -> StoredResource? {
        try await StoredResource.decode(database.query(
            "SELECT \(unescaped: StoredResource.columns) FROM users WHERE tenant_id = \(tenant) AND id = \(id)"
        )).first
    }

    /// Replaces a user's body; `replacement` computes it from the stored one inside the row lock.
    public func replace(
        tenant: UUID, id: UUID, _ replacement: @Sendable ([String: JSONValue]) throws -> [String: JSONValue]
    ) async throws -> StoredResource? {
        try await database.transaction { connection in
            let current = try await StoredResource.decode(connection.query(
                "SELECT \(unescaped: StoredResource.columns) FROM users WHERE tenant_id = \(tenant) AND id = \(id) FOR UPDATE",
                logger: database.logger)).first
            guard let current else { return nil }
            let body = try replacement(current.body)
            let c = Columns(body)
            let rows = try await connection.query(
                """
                UPDATE users SET user_name = \(c.userName), external_id = \(c.externalID), display_name = \(c.displayName),
                    active = \(c.active), body = \(ResourceBody(body)), version = version + 1, last_modified = now()
                WHERE tenant_id = \(tenant) AND id = \(id)
                RETURNING \(unescaped: StoredResource.columns)
                """, logger: database.logger)
            return try await StoredResource.decode(rows).first
        }
    }

    /// Deletes a user and, in the same transaction, its group memberships. Returns false when absent.
    public func delete(tenant: UUID, id: UUID) async throws -> Bool {
        try await database.transaction { connection in
            // Delete the user row first: a concurrent membership insert holds FOR KEY SHARE on it,
            // so this waits for that insert to commit and the membership delete below then sees it.
            let deleted = try await connection.query(
                "DELETE FROM users WHERE tenant_id = \(tenant) AND id = \(id) RETURNING id", logger: database.logger
            ).collect()
            guard !deleted.isEmpty else { return false }
            try await GroupRepository.removeMemberships(of: id, tenant: tenant, connection: connection, logger: database.logger)
            return true
        }
    }

    public func list(tenant: UUID, filter: Filter?, page: Pagination) async throws -> ResourcePage<StoredResource> {
        var condition = SQLBuilder()
        condition.append(" WHERE tenant_id = ")
        condition.bind(tenant)
        if let filter {
            condition.append(" AND ")
            try FilterCompiler(resourceType: resourceType, columns: Self.filterColumns).compile(filter, into: &condition)
        }
        return try await ResourcePage.fetch(table: "users", condition: condition, page: page, database: database)
    }
}

extension ResourcePage where Resource == StoredResource {
    /// Runs the count and, when a page is asked for, the page query, both with the same condition.
    static func fetch(table: String, condition: SQLBuilder, page: Pagination, database: RosterDatabase) async throws -> Self {
        var count = SQLBuilder()
        count.append("SELECT count(*) FROM \(table)")
        count.append(condition.sql)
        let total = try await database.query(PostgresQuery(unsafeSQL: count.sql, binds: condition.bindings))
            .first?.decode(Int.self) ?? 0
        guard page.count > 0, total >= page.startIndex else { return ResourcePage(totalResults: total, resources: []) }
        var select = condition
        select.append(" ORDER BY created, id LIMIT ")
        select.bind(page.count)
        select.append(" OFFSET ")
        select.bind(page.startIndex - 1)
        let sql = "SELECT \(StoredResource.columns) FROM \(table)" + select.sql
        let resources = try await StoredResource.decode(database.query(PostgresQuery(unsafeSQL: sql, binds: select.bindings)))
        return ResourcePage(totalResults: total, resources: resources)
    }
}
