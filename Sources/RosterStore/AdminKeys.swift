import Foundation
import PostgresNIO

/// What an admin key may do. A route declares the scope it needs; `*` grants all.
public enum AdminScope: String, Sendable, CaseIterable, Codable {
    case all = "*"
    case tenants
    case scimTokens = "scim-tokens"
    case adminKeys = "admin-keys"
    /// Reads `/metrics` (with a global key).
    case metrics
    /// Reads the directory: whether a user belongs to a group.
    case directoryRead = "directory:read"
    /// Reads the change feed.
    case feedRead = "feed:read"
    /// Manages webhook subscriptions.
    case webhooks
    /// Reads the audit log.
    case auditRead = "audit:read"
    /// Manages admin users, roles and role grants.
    case adminUsers = "admin-users"
    /// Reads and changes runtime settings: rate limits, page sizes, retry schedule (trusted issuers need `*`).
    case config
}

public struct AdminKeyRecord: Sendable, Equatable {
    public var id: UUID
    /// nil: a global (operator) key; otherwise the one tenant the key acts on.
    public var tenantID: UUID?
    public var name: String
    public var prefix: String
    public var scopes: [AdminScope]
    public var created: Date
    public var lastUsed: Date?
    public var expires: Date?
    public var revoked: Date?
    /// The admin user who owns the key: its rights never exceed theirs. nil: a service key.
    public var owner: UUID?
}

/// A presented admin key that is live: its scopes, and its owner whose rights bound them.
public struct AuthenticatedKey: Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID?
    public var scopes: Set<AdminScope>
    public var owner: UUID?

    /// The key's own rights, before its owner's bound them.
    public var grants: AdminGrants { AdminGrants(scopes: scopes, tenant: tenantID) }
}

public struct AdminKeyRepository: Sendable {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// Creates a key, with its audit entry (the key's tenant's, or a global one for a global key).
    public func create(
        name: String, tenant: UUID?, scopes: [AdminScope], expires: Date? = nil, owner: UUID? = nil, by context: AuditContext
    ) async throws -> (AdminKeyRecord, Secret) {
        let secret = Secret.generate(.adminKey)
        let rows = try await database.query(
            """
            WITH admin_key AS (
                INSERT INTO admin_keys (tenant_id, name, prefix, key_hash, scopes, expires, owner_id)
                VALUES (\(tenant), \(name), \(secret.displayPrefix), \(secret.hash), \(scopes.map(\.rawValue)), \(expires), \(owner))
                RETURNING \(unescaped: Self.columns)),
            audit AS (\(audit: .adminKeyCreated, by: context, from: "admin_key", tenant: "admin_key.tenant_id", target: "admin_key.id",
                          details: "jsonb_strip_nulls(jsonb_build_object('name', admin_key.name, 'scopes', to_jsonb(admin_key.scopes), 'expires_at', \(AuditSQL.date("admin_key.expires")), 'owner_id', admin_key.owner_id))"))
            SELECT \(unescaped: Self.columns) FROM admin_key
            """)
        guard let record = try Self.decode(rows).first else { throw StoreError.notFound("admin key") }
        return (record, secret)
    }

    public func list() async throws -> [AdminKeyRecord] {
        try await Self.decode(database.query("SELECT \(unescaped: Self.columns) FROM admin_keys ORDER BY created, id"))
    }

    /// The keys bound to one tenant.
    public func list(tenant: UUID) async throws -> [AdminKeyRecord] {
        try await Self.decode(database.query(
            "SELECT \(unescaped: Self.columns) FROM admin_keys WHERE tenant_id = \(tenant) ORDER BY created, id"))
    }

    public func get(id: UUID) async throws -> AdminKeyRecord? {
        try await Self.decode(database.query("SELECT \(unescaped: Self.columns) FROM admin_keys WHERE id = \(id)")).first
    }

    /// Revokes a key, with its audit entry; nil (and nothing recorded) when there is no such key.
    public func revoke(id: UUID, by context: AuditContext) async throws -> AdminKeyRecord? {
        try await Self.decode(database.query(
            """
            WITH admin_key AS (UPDATE admin_keys SET revoked = coalesce(revoked, now()) WHERE id = \(id) RETURNING \(unescaped: Self.columns)),
            audit AS (\(audit: .adminKeyRevoked, by: context, from: "admin_key", tenant: "admin_key.tenant_id", target: "admin_key.id",
                          details: "jsonb_build_object('name', admin_key.name, 'revoked', \(AuditSQL.date("admin_key.revoked")))"))
            SELECT \(unescaped: Self.columns) FROM admin_key
            """)).first
    }

    /// A presented key, or nil when it is unknown, revoked, expired, or its owner is disabled.
    public func authenticate(_ secret: Secret) async throws -> AuthenticatedKey? {
        guard secret.kind == .adminKey else { return nil }
        let rows = try await database.query(
            """
            SELECT k.id, k.tenant_id, k.scopes, k.owner_id, k.last_used IS NULL OR k.last_used < now() - interval '60 seconds'
            FROM admin_keys k
            WHERE k.key_hash = \(secret.hash) AND k.revoked IS NULL AND (k.expires IS NULL OR k.expires > now())
              AND NOT EXISTS (SELECT 1 FROM admin_users u WHERE u.id = k.owner_id AND u.disabled IS NOT NULL)
            """)
        guard let (id, tenant, scopes, owner, stale) = try rows.first?.decode((UUID, UUID?, [String], UUID?, Bool).self) else { return nil }
        if stale {
            try await database.query("UPDATE admin_keys SET last_used = now() WHERE id = \(id)")
        }
        return AuthenticatedKey(id: id, tenantID: tenant, scopes: Set(scopes.compactMap(AdminScope.init(rawValue:))), owner: owner)
    }

    /// A live key by id (a key session's subject), or nil.
    public func live(id: UUID) async throws -> AuthenticatedKey? {
        let rows = try await database.query(
            """
            SELECT k.id, k.tenant_id, k.scopes, k.owner_id FROM admin_keys k
            WHERE k.id = \(id) AND k.revoked IS NULL AND (k.expires IS NULL OR k.expires > now())
              AND NOT EXISTS (SELECT 1 FROM admin_users u WHERE u.id = k.owner_id AND u.disabled IS NOT NULL)
            """)
        guard let (id, tenant, scopes, owner) = try rows.first?.decode((UUID, UUID?, [String], UUID?).self) else { return nil }
        return AuthenticatedKey(id: id, tenantID: tenant, scopes: Set(scopes.compactMap(AdminScope.init(rawValue:))), owner: owner)
    }

    static let columns = "id, tenant_id, name, prefix, scopes, created, last_used, expires, revoked, owner_id"

    static func decode(_ rows: [PostgresRow]) throws -> [AdminKeyRecord] {
        try rows.map { row in
            let (id, tenant, name, prefix, scopes, created, lastUsed, expires, revoked, owner) = try row.decode(
                (UUID, UUID?, String, String, [String], Date, Date?, Date?, Date?, UUID?).self)
            return AdminKeyRecord(
                id: id, tenantID: tenant, name: name, prefix: prefix,
                scopes: scopes.compactMap(AdminScope.init(rawValue:)), created: created,
                lastUsed: lastUsed, expires: expires, revoked: revoked, owner: owner)
        }
    }
}
