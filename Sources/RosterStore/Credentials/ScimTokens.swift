public import Foundation
import PostgresNIO
public import RosterAuth

/// A SCIM token as admins see it: everything but the secret.
public struct ScimTokenRecord: Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var name: String
    public var prefix: String
    public var created: Date
    public var lastUsed: Date?
    public var expires: Date?
    public var revoked: Date?
    /// The setup link it was created through, if any.
    public var setupLinkID: UUID?
}

public struct ScimTokenRepository: Sendable {
    /// last_used is written at most this often per token, never on every request.
    public static let lastUsedResolution: Int = 60
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// Creates a token, with its audit entry; the secret is returned here once and stored only as its SHA-256.
    public func create(tenant: UUID, name: String, expires: Date? = nil, by context: AuditContext) async throws -> (ScimTokenRecord, Secret) {
        let secret = Secret.generate(.scimToken)
        let rows = try await database.query(
            """
            WITH token AS (
                INSERT INTO scim_tokens (tenant_id, name, prefix, token_hash, expires)
                VALUES (\(tenant), \(name), \(secret.displayPrefix), \(secret.hash), \(expires))
                RETURNING \(unescaped: Self.columns)),
            audit AS (\(audit: .scimTokenCreated, by: context, from: "token", tenant: "token.tenant_id", target: "token.id",
                          details: "jsonb_strip_nulls(jsonb_build_object('name', token.name, 'expires_at', \(AuditSQL.date("token.expires"))))"))
            SELECT \(unescaped: Self.columns) FROM token
            """)
        guard let record = try Self.decode(rows).first else { throw StoreError.notFound("token") }
        return (record, secret)
    }

    /// A page of the tenant's tokens, oldest first.
    public func page(tenant: UUID, after position: CreatedPosition?, limit: Int) async throws -> ListPage<ScimTokenRecord, CreatedPosition> {
        let rows = try await database.query(
            """
            SELECT \(unescaped: Self.columns), \(unescaped: CreatedPosition.createdColumn) FROM scim_tokens
            WHERE tenant_id = \(tenant) AND \(after: position)
            ORDER BY created, id LIMIT \(limit + 1)
            """)
        return try .inCreationOrder(rows, limit: limit, decode: Self.decode, id: \.id)
    }

    /// Every token of the tenant, oldest first.
    public func list(tenant: UUID) async throws -> [ScimTokenRecord] {
        try await ListPage.all { try await page(tenant: tenant, after: $0, limit: $1) }
    }

    /// Revokes a token of the tenant, with its audit entry; returns nil (and records nothing) when it
    /// has no such token. Revoking twice keeps the first time, and records both calls.
    /// The same statement NOTIFYs `ScimTokenCache.channel` with the token's id (never its hash): every replica
    /// drops it from its cache as the revocation commits (and its reads re-check the token meanwhile).
    public func revoke(tenant: UUID, id: UUID, by context: AuditContext) async throws -> ScimTokenRecord? {
        try await Self.decode(database.query(
            """
            WITH token AS (
                UPDATE scim_tokens SET revoked = coalesce(revoked, now())
                WHERE tenant_id = \(tenant) AND id = \(id)
                RETURNING \(unescaped: Self.columns)),
            audit AS (\(audit: .scimTokenRevoked, by: context, from: "token", tenant: "token.tenant_id", target: "token.id",
                          details: "jsonb_build_object('name', token.name, 'revoked', \(AuditSQL.date("token.revoked")))"))
            SELECT \(unescaped: Self.columns) FROM token, LATERAL (SELECT pg_notify(\(ScimTokenCache.channel), token.id::text)) AS wake
            """)).first
    }

    /// The principal for a presented token, or nil when it is unknown, revoked or expired.
    /// One indexed lookup; a second statement only when last_used is older than a minute.
    public func authenticate(_ secret: Secret) async throws -> ScimPrincipal? {
        try await lookup(secret)?.principal
    }

    /// `authenticate`, with the token's expiry (for `ScimTokenCache`).
    public func lookup(_ secret: Secret) async throws -> (principal: ScimPrincipal, expires: Date?)? {
        guard secret.kind == .scimToken else { return nil }
        guard let (tenant, id, stale, expires) = try await database.execute(HotStatements.AuthenticateScimToken(hash: secret.hash)).first else {
            return nil
        }
        let principal = ScimPrincipal(tenantID: tenant, tokenID: id)
        if stale { try await touch(principal) }
        return (principal, expires)
    }

    /// Writes last_used unless it is younger than `lastUsedResolution` (another replica may just have).
    public func touch(_ principal: ScimPrincipal) async throws {
        try await database.query(
            """
            UPDATE scim_tokens SET last_used = now()
            WHERE tenant_id = \(principal.tenantID) AND id = \(principal.tokenID)
              AND (last_used IS NULL OR last_used < now() - make_interval(secs => \(Self.lastUsedResolution)))
            """)
    }

    /// `touch` for many tokens in one statement (the token cache's background writes).
    public func touch(_ principals: [ScimPrincipal]) async throws {
        guard !principals.isEmpty else { return }
        try await database.query(
            """
            UPDATE scim_tokens SET last_used = now()
            FROM unnest(\(principals.map(\.tenantID)), \(principals.map(\.tokenID))) AS used(tenant_id, id)
            WHERE scim_tokens.tenant_id = used.tenant_id AND scim_tokens.id = used.id
              AND (last_used IS NULL OR last_used < now() - make_interval(secs => \(Self.lastUsedResolution)))
            """)
    }

    static let columns = "id, tenant_id, name, prefix, created, last_used, expires, revoked, setup_link_id"

    static func decode(_ rows: [PostgresRow]) throws -> [ScimTokenRecord] {
        try rows.map { row in
            let (id, tenant, name, prefix, created, lastUsed, expires, revoked, setupLink) = try row.decode(
                (UUID, UUID, String, String, Date, Date?, Date?, Date?, UUID?).self)
            return ScimTokenRecord(
                id: id, tenantID: tenant, name: name, prefix: prefix, created: created,
                lastUsed: lastUsed, expires: expires, revoked: revoked, setupLinkID: setupLink)
        }
    }
}
