public import Foundation
import PostgresNIO
public import RosterAuth

/// A named set of scopes (0009_admin_identity.sql). Built-in roles cannot change.
public struct AdminRoleRecord: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var description: String?
    public var scopes: [AdminScope]
    public var builtin: Bool
    public var created: Date
}

/// Who holds a role: an admin user, or the members of a SCIM group (directly or through nesting).
public enum RoleHolder: Sendable, Equatable {
    case user(UUID)
    case group(tenant: UUID, id: UUID)
}

/// A role held by a user or group, on every tenant (nil) or on one.
public struct RoleGrantRecord: Sendable, Equatable {
    public var id: UUID
    public var role: String
    public var holder: RoleHolder
    public var tenant: UUID?
    public var created: Date
}

public struct AdminRoles: Sendable {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    public static let builtinNames: Set<String> = ["owner", "admin", "auditor", "viewer"]

    /// A custom role's name: lowercase letters, digits, `_` and `-`, at most 63 characters.
    public static func isValidName(_ name: String) -> Bool {
        name.wholeMatch(of: /[a-z0-9][a-z0-9_-]{0,62}/) != nil
    }

    static let columns = "id, name, description, scopes, builtin, created"

    /// A page of roles: the built-in ones first, then custom ones by name.
    public func page(after position: RolePosition?, limit: Int) async throws -> ListPage<AdminRoleRecord, RolePosition> {
        let rows = try await database.query(
            """
            SELECT \(unescaped: Self.columns) FROM admin_roles
            WHERE \(position.map { !$0.builtin })::boolean IS NULL
               OR ((NOT builtin), name, id) > (\(position.map { !$0.builtin })::boolean, \(position?.name)::text, \(position?.id)::uuid)
            ORDER BY (NOT builtin), name, id LIMIT \(limit + 1)
            """)
        let roles = try Self.decode(rows)
        let shown = Array(roles.prefix(limit))
        return ListPage(items: shown, next: roles.count > limit ? shown.last.map(RolePosition.init) : nil)
    }

    /// Every role: the built-in ones first, then custom ones by name.
    public func list() async throws -> [AdminRoleRecord] {
        try await ListPage.all { try await page(after: $0, limit: $1) }
    }

    /// A role by name or id.
    public func find(_ reference: String) async throws -> AdminRoleRecord? {
        let id = UUID(uuidString: reference)
        return try await Self.decode(database.query(
            "SELECT \(unescaped: Self.columns) FROM admin_roles WHERE name = \(reference) OR id = \(id)")).first
    }

    public func create(name: String, description: String?, scopes: [AdminScope], by context: AuditContext) async throws -> AdminRoleRecord {
        let rows = try await database.query(
            """
            WITH admin_role AS (
                INSERT INTO admin_roles (name, description, scopes) VALUES (\(name), \(description), \(scopes.map(\.rawValue)))
                RETURNING \(unescaped: Self.columns)),
            audit AS (\(audit: .roleCreated, by: context, from: "admin_role", tenant: "NULL::uuid", target: "admin_role.id",
                          details: "jsonb_build_object('name', admin_role.name, 'scopes', to_jsonb(admin_role.scopes))"))
            SELECT \(unescaped: Self.columns) FROM admin_role
            """)
        guard let record = try Self.decode(rows).first else { throw StoreError.notFound("role") }
        return record
    }

    /// Changes a custom role's description and scopes; nil when there is no such custom role.
    public func update(id: UUID, description: String??, scopes: [AdminScope]?, by context: AuditContext) async throws -> AdminRoleRecord? {
        let rows = try await database.query(
            """
            WITH admin_role AS (
                UPDATE admin_roles SET
                    description = CASE WHEN \(description != nil) THEN \(description ?? nil) ELSE description END,
                    scopes = coalesce(\(scopes?.map(\.rawValue))::text[], scopes)
                WHERE id = \(id) AND NOT builtin
                RETURNING \(unescaped: Self.columns)),
            audit AS (\(audit: .roleUpdated, by: context, from: "admin_role", tenant: "NULL::uuid", target: "admin_role.id",
                          details: "jsonb_build_object('name', admin_role.name, 'scopes', to_jsonb(admin_role.scopes))"))
            SELECT \(unescaped: Self.columns) FROM admin_role
            """)
        return try Self.decode(rows).first
    }

    /// Deletes a custom role and its grants; false when there is no such custom role.
    public func delete(id: UUID, by context: AuditContext) async throws -> Bool {
        let rows = try await database.query(
            """
            WITH admin_role AS (DELETE FROM admin_roles WHERE id = \(id) AND NOT builtin RETURNING id, name),
            audit AS (\(audit: .roleDeleted, by: context, from: "admin_role", tenant: "NULL::uuid", target: "admin_role.id",
                          details: "jsonb_build_object('name', admin_role.name)"))
            SELECT id FROM admin_role
            """)
        return !rows.isEmpty
    }

    // MARK: Grants

    static let grantColumns = "g.id, r.name, g.user_id, g.group_tenant_id, g.group_id, g.tenant_id, g.created"

    /// A page of grants, oldest first: of every role or of one, and of every tenant or only those whose tenant (and,
    /// for a group's grant, whose group's tenant) is one of `visible` (no grant on every tenant).
    public func grantPage(
        role: UUID? = nil, after position: CreatedPosition?, limit: Int, visible: [UUID]? = nil
    ) async throws -> ListPage<RoleGrantRecord, CreatedPosition> {
        let rows = try await database.query(
            """
            SELECT \(unescaped: Self.grantColumns), \(unescaped: CreatedPosition.microseconds(of: "g.created"))
            FROM admin_role_grants g JOIN admin_roles r ON r.id = g.role_id
            WHERE (\(role)::uuid IS NULL OR g.role_id = \(role)) AND \(after: position, created: "g.created", id: "g.id")
              AND (\(visible)::uuid[] IS NULL
                   OR (g.tenant_id = ANY(\(visible)::uuid[]) AND (g.group_tenant_id IS NULL OR g.group_tenant_id = ANY(\(visible)::uuid[]))))
            ORDER BY g.created, g.id LIMIT \(limit + 1)
            """)
        return try .inCreationOrder(rows, limit: limit, decode: Self.decodeGrants, id: \.id)
    }

    /// Every grant, or those of one role, oldest first.
    public func grants(role: UUID? = nil) async throws -> [RoleGrantRecord] {
        try await ListPage.all { try await grantPage(role: role, after: $0, limit: $1) }
    }

    /// Grants a role, with its audit entry. A group must exist in its tenant (`StoreError.invalidReference`);
    /// the same grant twice is `StoreError.uniqueness`.
    public func grant(_ role: AdminRoleRecord, to holder: RoleHolder, on tenant: UUID?, by context: AuditContext) async throws -> RoleGrantRecord {
        let (user, groupTenant, group): (UUID?, UUID?, UUID?) =
            switch holder {
            case .user(let id): (id, nil, nil)
            case .group(let tenant, let id): (nil, tenant, id)
            }
        let rows = try await database.query(
            """
            WITH g AS (
                INSERT INTO admin_role_grants (role_id, tenant_id, user_id, group_tenant_id, group_id)
                VALUES (\(role.id), \(tenant), \(user), \(groupTenant), \(group))
                RETURNING *),
            audit AS (\(audit: .roleGranted, by: context, from: "g JOIN admin_roles r ON r.id = g.role_id", tenant: "g.tenant_id", target: "g.role_id",
                          details: "jsonb_strip_nulls(jsonb_build_object('role', r.name, 'grant_id', g.id, 'user_id', g.user_id, 'group_id', g.group_id, 'group_tenant_id', g.group_tenant_id))"))
            SELECT \(unescaped: Self.grantColumns) FROM g JOIN admin_roles r ON r.id = g.role_id
            """)
        guard let record = try Self.decodeGrants(rows).first else { throw StoreError.notFound("grant") }
        return record
    }

    /// Removes a grant, with its audit entry; false when there is no such grant.
    public func revokeGrant(id: UUID, by context: AuditContext) async throws -> Bool {
        let rows = try await database.query(
            """
            WITH g AS (DELETE FROM admin_role_grants WHERE id = \(id) RETURNING *),
            audit AS (\(audit: .roleGrantRevoked, by: context, from: "g", tenant: "g.tenant_id", target: "g.role_id",
                          details: "jsonb_strip_nulls(jsonb_build_object('grant_id', g.id, 'user_id', g.user_id, 'group_id', g.group_id))"))
            SELECT id FROM g
            """)
        return !rows.isEmpty
    }

    static func decode(_ rows: [PostgresRow]) throws -> [AdminRoleRecord] {
        try rows.map { row in
            let (id, name, description, scopes, builtin, created) = try row.decode((UUID, String, String?, [AdminScope], Bool, Date).self)
            return AdminRoleRecord(
                id: id, name: name, description: description, scopes: scopes, builtin: builtin,
                created: created)
        }
    }

    static func decodeGrants(_ rows: [PostgresRow]) throws -> [RoleGrantRecord] {
        try rows.map { row in
            let (id, role, user, groupTenant, group, tenant, created) = try row.decode((UUID, String, UUID?, UUID?, UUID?, UUID?, Date).self)
            let holder: RoleHolder =
                if let user { .user(user) } else if let groupTenant, let group { .group(tenant: groupTenant, id: group) } else {
                    throw StoreError.unavailable("grant \(id) has no holder")
                }
            return RoleGrantRecord(id: id, role: role, holder: holder, tenant: tenant, created: created)
        }
    }
}

/// Where the list of roles goes on from: built-in roles sort first, then names (unique; the id keeps the key total).
public struct RolePosition: Sendable, Equatable {
    public var builtin: Bool
    public var name: String
    public var id: UUID

    public init(builtin: Bool, name: String, id: UUID) {
        self.builtin = builtin
        self.name = name
        self.id = id
    }

    init(_ role: AdminRoleRecord) {
        self.init(builtin: role.builtin, name: role.name, id: role.id)
    }

    public var cursor: String {
        ListCursor.encode(.roles, [ListCursor.scope(nil), builtin ? "1" : "0", name, id.uuidString.lowercased()])
    }

    /// nil when `cursor` is not one of the list of roles.
    public init?(cursor: String) {
        guard let fields = ListCursor.fields(cursor, of: .roles, count: 4), fields[0] == ListCursor.scope(nil), ["0", "1"].contains(fields[1]),
            AdminRoles.isValidName(fields[2]), let id = UUID(uuidString: fields[3])
        else { return nil }
        self.builtin = fields[1] == "1"
        self.name = fields[2]
        self.id = id
    }
}
