import Foundation
import PostgresNIO

public struct Tenant: Sendable, Equatable, Codable {
    public var id: UUID
    public var name: String
    public var created: Date
}

/// Tenants: every resource, token and key belongs to one; `default` exists after the first migration.
public struct TenantRepository: Sendable {
    public static let defaultName = "default"
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// Names are lowercase slugs: letters, digits and '-', at most 63 characters.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.first, name.count <= 63, first.isASCII, first.isLetter || first.isNumber else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }

    /// Creates a tenant and its `tenant.created` audit entry (a global one) in one statement.
    public func create(name: String, by context: AuditContext) async throws -> Tenant {
        let rows = try await database.query(
            """
            WITH tenant AS (INSERT INTO tenants (name) VALUES (\(name)) RETURNING id, name, created),
                 audit AS (\(audit: .tenantCreated, by: context, from: "tenant", tenant: "NULL::uuid", target: "tenant.id",
                               details: "jsonb_build_object('name', tenant.name)"))
            SELECT id, name, created FROM tenant
            """)
        guard let tenant = try Self.decode(rows).first else { throw StoreError.notFound("tenant") }
        return tenant
    }

    public func list() async throws -> [Tenant] {
        try await Self.decode(database.query("SELECT id, name, created FROM tenants ORDER BY created, name"))
    }

    /// Finds a tenant by its id or its name.
    public func find(_ reference: String) async throws -> Tenant? {
        if let id = UUID(uuidString: reference) {
            return try await Self.decode(database.query("SELECT id, name, created FROM tenants WHERE id = \(id)")).first
        }
        return try await Self.decode(database.query("SELECT id, name, created FROM tenants WHERE name = \(reference)")).first
    }

    private static func decode(_ rows: [PostgresRow]) throws -> [Tenant] {
        try rows.map { row in
            let (id, name, created) = try row.decode((UUID, String, Date).self)
            return Tenant(id: id, name: name, created: created)
        }
    }
}
