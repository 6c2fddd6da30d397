public import Foundation
import PostgresNIO
public import RosterAuth

public struct Tenant: Sendable, Equatable, Codable {
    public var id: UUID
    public var name: String
    public var created: Date
    /// The operator's own directory: its groups' role grants may reach other tenants (0013_operator_directory.sql).
    public var operatorDirectory: Bool = false
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
            WITH tenant AS (INSERT INTO tenants (name) VALUES (\(name)) RETURNING \(unescaped: Self.columns)),
                 audit AS (\(audit: .tenantCreated, by: context, from: "tenant", tenant: "NULL::uuid", target: "tenant.id",
                               details: "jsonb_build_object('name', tenant.name)"))
            SELECT \(unescaped: Self.columns) FROM tenant
            """)
        guard let tenant = try Self.decode(rows).first else { throw StoreError.notFound("tenant") }
        return tenant
    }

    /// A page of tenants, oldest first: every tenant, or those of `visible`.
    public func page(after position: CreatedPosition?, limit: Int, visible: [UUID]? = nil) async throws -> ListPage<Tenant, CreatedPosition> {
        let rows = try await database.query(
            """
            SELECT \(unescaped: Self.columns), \(unescaped: CreatedPosition.createdColumn) FROM tenants
            WHERE \(after: position) AND (\(visible)::uuid[] IS NULL OR id = ANY(\(visible)::uuid[]))
            ORDER BY created, id LIMIT \(limit + 1)
            """)
        return try .inCreationOrder(rows, limit: limit, decode: Self.decode, id: \.id)
    }

    /// Every tenant, oldest first.
    public func list() async throws -> [Tenant] {
        try await ListPage.all { try await page(after: $0, limit: $1) }
    }

    /// Finds a tenant by its id or its name.
    public func find(_ reference: String) async throws -> Tenant? {
        if let id = UUID(uuidString: reference) {
            return try await Self.decode(database.query("SELECT \(unescaped: Self.columns) FROM tenants WHERE id = \(id)")).first
        }
        return try await Self.decode(database.query("SELECT \(unescaped: Self.columns) FROM tenants WHERE name = \(reference)")).first
    }

    /// Marks or unmarks a tenant as the operator's directory, with its audit entry; nil when there is no such tenant.
    public func setOperatorDirectory(_ marked: Bool, tenant id: UUID, by context: AuditContext) async throws -> Tenant? {
        let rows = try await database.query(
            """
            WITH tenant AS (UPDATE tenants SET operator_directory = \(marked) WHERE id = \(id) RETURNING \(unescaped: Self.columns)),
                 audit AS (\(audit: .tenantUpdated, by: context, from: "tenant", tenant: "tenant.id", target: "tenant.id",
                               details: "jsonb_build_object('name', tenant.name, 'operator_directory', tenant.operator_directory)"))
            SELECT \(unescaped: Self.columns) FROM tenant
            """)
        return try Self.decode(rows).first
    }

    /// The scopes that roles granted to a tenant's groups confer on that tenant: whoever writes its directory
    /// decides who holds them.
    public func directoryScopes(of tenant: UUID) async throws -> Set<AdminScope> {
        let rows = try await database.query(
            """
            SELECT DISTINCT s FROM admin_role_grants g JOIN admin_roles r ON r.id = g.role_id, unnest(r.scopes) s
            WHERE g.group_tenant_id = \(tenant) AND g.group_id IS NOT NULL AND g.tenant_id = \(tenant)
            """)
        return Set(try rows.map { try $0.decode(AdminScope.self) })
    }

    static let columns = "id, name, created, operator_directory"

    private static func decode(_ rows: [PostgresRow]) throws -> [Tenant] {
        try rows.map { row in
            let (id, name, created, operatorDirectory) = try row.decode((UUID, String, Date, Bool).self)
            return Tenant(id: id, name: name, created: created, operatorDirectory: operatorDirectory)
        }
    }
}
