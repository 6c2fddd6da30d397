public import Foundation
import PostgresNIO
public import RosterAuth

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
    /// The key that made it (directly or through a session): it lives and acts only within that key.
    public var ownerKey: UUID? = nil
    /// The trusted issuer's subject ("issuer subject") that made it.
    public var ownerSubject: String? = nil
}

public struct AdminKeyRepository: AdminKeyLookup {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// Creates a key, with its audit entry (the key's tenant's, or a global one for a global key).
    public func create(
        name: String, tenant: UUID?, scopes: [AdminScope], expires: Date? = nil, owner: UUID? = nil, ownerKey: UUID? = nil,
        ownerSubject: String? = nil, by context: AuditContext
    ) async throws -> (AdminKeyRecord, Secret) {
        let secret = Secret.generate(.adminKey)
        let rows = try await database.query(
            """
            WITH admin_key AS (
                INSERT INTO admin_keys (tenant_id, name, prefix, key_hash, scopes, expires, owner_id, owner_key_id, owner_subject)
                VALUES (\(tenant), \(name), \(secret.displayPrefix), \(secret.hash), \(scopes.map(\.rawValue)), \(expires), \(owner),
                        \(ownerKey), \(ownerSubject))
                RETURNING \(unescaped: Self.columns)),
            audit AS (\(audit: .adminKeyCreated, by: context, from: "admin_key", tenant: "admin_key.tenant_id", target: "admin_key.id",
                          details: "jsonb_strip_nulls(jsonb_build_object('name', admin_key.name, 'scopes', to_jsonb(admin_key.scopes), 'expires_at', \(AuditSQL.date("admin_key.expires")), 'owner_id', admin_key.owner_id, 'owner_key_id', admin_key.owner_key_id, 'owner_subject', admin_key.owner_subject))"))
            SELECT \(unescaped: Self.columns) FROM admin_key
            """)
        guard let record = try Self.decode(rows).first else { throw StoreError.notFound("admin key") }
        return (record, secret)
    }

    /// A page of admin keys, oldest first: every key, or only those bound to a tenant of `visible` (no global key).
    public func page(after position: CreatedPosition?, limit: Int, visible: [UUID]? = nil) async throws -> ListPage<AdminKeyRecord, CreatedPosition> {
        let rows = try await database.query(
            """
            SELECT \(unescaped: Self.columns), \(unescaped: CreatedPosition.createdColumn) FROM admin_keys
            WHERE \(after: position) AND (\(visible)::uuid[] IS NULL OR tenant_id = ANY(\(visible)::uuid[]))
            ORDER BY created, id LIMIT \(limit + 1)
            """)
        return try .inCreationOrder(rows, limit: limit, decode: Self.decode, id: \.id)
    }

    /// Every admin key, oldest first.
    public func list() async throws -> [AdminKeyRecord] {
        try await ListPage.all { try await page(after: $0, limit: $1) }
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

    /// A presented key, or nil when it or a key it descends from is unknown, revoked or expired, its owner is
    /// disabled, or the subject that made it has no recent rights.
    public func authenticate(_ secret: Secret) async throws -> AuthenticatedKey? {
        guard secret.kind == .adminKey, let found = try await chain(hash: secret.hash, id: nil) else { return nil }
        if found.stale {
            try await database.query("UPDATE admin_keys SET last_used = now() WHERE id = \(found.key.id)")
        }
        return found.key
    }

    /// A live key by id (a key session's subject), or nil.
    public func live(id: UUID) async throws -> AuthenticatedKey? {
        try await chain(hash: nil, id: id)?.key
    }

    /// How many keys a key may descend from; deeper chains are refused (none is made that deep by hand).
    static let maximumDepth = 16

    /// The key found by hash or id, with every key it descends from, when all of them are live; `stale`: its
    /// `last_used` is more than a minute old (so a busy key costs one write a minute, not one per request).
    private func chain(hash: Data?, id: UUID?) async throws -> (key: AuthenticatedKey, stale: Bool)? {
        let rows = try await database.query(
            """
            WITH RECURSIVE chain AS (
                SELECT k.id, k.tenant_id, k.scopes, k.owner_id, k.owner_key_id, k.owner_subject, k.revoked, k.expires, k.last_used, 0 AS depth
                FROM admin_keys k WHERE k.key_hash = \(hash) OR k.id = \(id)
                UNION ALL
                SELECT p.id, p.tenant_id, p.scopes, p.owner_id, p.owner_key_id, p.owner_subject, p.revoked, p.expires, p.last_used, c.depth + 1
                FROM admin_keys p JOIN chain c ON p.id = c.owner_key_id WHERE c.depth < \(Self.maximumDepth))
            SELECT c.id, c.tenant_id, c.scopes, c.owner_id, c.owner_key_id, c.owner_subject, r.grants::text, r.valid_until,
                   c.revoked IS NULL AND (c.expires IS NULL OR c.expires > now())
                   AND NOT EXISTS (SELECT 1 FROM admin_users u WHERE u.id = c.owner_id AND u.disabled IS NOT NULL)
                   AND (c.owner_subject IS NULL OR r.valid_until > now()),
                   c.last_used IS NULL OR c.last_used < now() - interval '60 seconds'
            FROM chain c LEFT JOIN admin_oidc_rights r ON r.subject = c.owner_subject
            ORDER BY c.depth
            """)
        var links: [AuthenticatedKey] = []
        var (parent, stale): (UUID?, Bool) = (nil, false)
        for row in rows {
            let (id, tenant, scopes, owner, ownerKey, subject, grants, validUntil, live, unused) = try row.decode(
                (UUID, UUID?, [AdminScope], UUID?, UUID?, String?, String?, Date?, Bool, Bool).self)
            if links.isEmpty { stale = unused }
            guard live else { return nil }
            var link = AuthenticatedKey(id: id, tenantID: tenant, scopes: Set(scopes), owner: owner)
            if let subject {
                guard let grants, let validUntil else { return nil }
                link.ownerSubject = OIDCRights(subject: subject, grants: try OIDCRights.decode(grants), validUntil: validUntil)
            }
            links.append(link)
            parent = ownerKey
        }
        // A chain cut short (deeper than allowed) is not trusted.
        guard var key = links.first, parent == nil else { return nil }
        key.ancestors = Array(links.dropFirst())
        return (key, stale)
    }

    static let columns = "id, tenant_id, name, prefix, scopes, created, last_used, expires, revoked, owner_id, owner_key_id, owner_subject"

    static func decode(_ rows: [PostgresRow]) throws -> [AdminKeyRecord] {
        try rows.map { row in
            let (id, tenant, name, prefix, scopes, created, lastUsed, expires, revoked, owner, ownerKey, ownerSubject) = try row.decode(
                (UUID, UUID?, String, String, [AdminScope], Date, Date?, Date?, Date?, UUID?, UUID?, String?).self)
            return AdminKeyRecord(
                id: id, tenantID: tenant, name: name, prefix: prefix,
                scopes: scopes, created: created,
                lastUsed: lastUsed, expires: expires, revoked: revoked, owner: owner, ownerKey: ownerKey, ownerSubject: ownerSubject)
        }
    }
}
