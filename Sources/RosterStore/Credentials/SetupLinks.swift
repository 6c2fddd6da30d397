public import Foundation
import PostgresNIO
public import RosterAuth

/// A setup link as admins see it: everything but the secret.
public struct SetupLinkRecord: Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID
    public var name: String
    public var prefix: String
    public var created: Date
    /// Who made it.
    public var createdBy: Actor
    public var expires: Date
    public var revoked: Date?
    public var lastUsed: Date?
    public var tokensCreated: Int
    public var tokensAllowed: Int
}

/// What a live setup link may act on: its tenant, as itself.
public struct SetupLinkPrincipal: Sendable, Equatable {
    public var linkID: UUID
    public var tenantID: UUID
    public var name: String
    public var expires: Date
    public var tokensCreated: Int
    public var tokensAllowed: Int

    public var actor: Actor { .setupLink(linkID) }
}

/// Setup links: made by an admin for one tenant, used by someone with no Roster account to create that tenant's
/// SCIM tokens (at most `tokensAllowed`) and read its provisioning log, until the link expires or is revoked.
public struct SetupLinkRepository: Sendable {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// Creates a link, with its audit entry; the secret is returned here once and stored only as its SHA-256.
    public func create(
        tenant: UUID, name: String, expires: Date, tokensAllowed: Int, by context: AuditContext
    ) async throws -> (SetupLinkRecord, Secret) {
        let secret = Secret.generate(.setupLink)
        let actor = context.actor
        let rows = try await database.query(
            """
            WITH link AS (
                INSERT INTO setup_links (tenant_id, name, prefix, secret_hash, created_by_type, created_by_id, created_by_subject, expires, tokens_allowed)
                VALUES (\(tenant), \(name), \(secret.displayPrefix), \(secret.hash), \(actor.type), \(actor.id), \(actor.subject), \(expires), \(tokensAllowed))
                RETURNING \(unescaped: Self.columns)),
            audit AS (\(audit: .setupLinkCreated, by: context, from: "link", tenant: "link.tenant_id", target: "link.id",
                          details: "jsonb_build_object('name', link.name, 'expires_at', \(AuditSQL.date("link.expires")), 'tokens_allowed', link.tokens_allowed)"))
            SELECT \(unescaped: Self.columns) FROM link
            """)
        guard let record = try Self.decode(rows).first else { throw StoreError.notFound("setup link") }
        return (record, secret)
    }

    /// A tenant's links, oldest first, `limit` at a time after `position` (the last link of the previous page).
    public func page(tenant: UUID, after position: CreatedPosition?, limit: Int) async throws -> ListPage<SetupLinkRecord, CreatedPosition> {
        let rows = try await database.query(
            """
            SELECT \(unescaped: Self.columns), \(unescaped: CreatedPosition.createdColumn) FROM setup_links
            WHERE tenant_id = \(tenant) AND \(after: position)
            ORDER BY created, id LIMIT \(limit + 1)
            """)
        return try .inCreationOrder(rows, limit: limit, decode: Self.decode, id: \.id)
    }

    /// Revokes a link of the tenant, with its audit entry; nil (and nothing recorded) when it has no such link.
    /// Tokens the link created stay: they are the identity provider's connection, revoked on their own.
    public func revoke(tenant: UUID, id: UUID, by context: AuditContext) async throws -> SetupLinkRecord? {
        try await Self.decode(database.query(
            """
            WITH link AS (
                UPDATE setup_links SET revoked = coalesce(revoked, now())
                WHERE tenant_id = \(tenant) AND id = \(id)
                RETURNING \(unescaped: Self.columns)),
            audit AS (\(audit: .setupLinkRevoked, by: context, from: "link", tenant: "link.tenant_id", target: "link.id",
                          details: "jsonb_build_object('name', link.name, 'revoked', \(AuditSQL.date("link.revoked")))"))
            SELECT \(unescaped: Self.columns) FROM link
            """)).first
    }

    /// The link a presented secret names, while it is neither revoked nor expired (its tenant still there);
    /// records its use at most once a minute. One indexed lookup.
    public func authenticate(_ secret: Secret) async throws -> SetupLinkPrincipal? {
        guard secret.kind == .setupLink else { return nil }
        let rows = try await database.query(
            """
            UPDATE setup_links SET last_used = CASE WHEN last_used IS NULL OR last_used < now() - interval '1 minute' THEN now() ELSE last_used END
            WHERE secret_hash = \(secret.hash) AND revoked IS NULL AND expires > now()
            RETURNING id, tenant_id, name, expires, tokens_created, tokens_allowed
            """)
        for row in rows {
            let (id, tenant, name, expires, created, allowed) = try row.decode((UUID, UUID, String, Date, Int, Int).self)
            return SetupLinkPrincipal(linkID: id, tenantID: tenant, name: name, expires: expires, tokensCreated: created, tokensAllowed: allowed)
        }
        return nil
    }

    /// Why a presented setup secret is refused (for metrics): unknown, revoked or expired.
    public func rejection(of secret: Secret) async throws -> CredentialRejection {
        let rows = try await database.query(
            "SELECT revoked IS NOT NULL, expires <= now() FROM setup_links WHERE secret_hash = \(secret.hash)")
        for row in rows {
            let (revoked, expired) = try row.decode((Bool, Bool).self)
            return revoked ? .revoked : expired ? .expired : .unknown
        }
        return .unknown
    }

    public enum TokenRefusal: Error, Sendable, Equatable {
        /// The link has created all the tokens it may.
        case exhausted(allowed: Int)
        /// Revoked or expired between its authentication and this statement.
        case notLive
    }

    /// Creates a SCIM token of the link's tenant as the link, with its audit entry, counting it against the link
    /// in the same statement: the link's row lock orders concurrent creations, so a link never exceeds its allowance.
    public func createToken(
        for link: SetupLinkPrincipal, name: String, requestID: String?, sourceAddress: String?
    ) async throws -> Result<(ScimTokenRecord, Secret), TokenRefusal> {
        let secret = Secret.generate(.scimToken)
        let context = AuditContext(actor: link.actor, requestID: requestID, sourceAddress: sourceAddress)
        let rows = try await database.query(
            """
            WITH link AS (
                UPDATE setup_links SET tokens_created = tokens_created + 1
                WHERE tenant_id = \(link.tenantID) AND id = \(link.linkID) AND revoked IS NULL AND expires > now()
                  AND tokens_created < tokens_allowed
                RETURNING tenant_id, id),
            token AS (
                INSERT INTO scim_tokens (tenant_id, name, prefix, token_hash, setup_link_id)
                SELECT link.tenant_id, \(name), \(secret.displayPrefix), \(secret.hash), link.id FROM link
                RETURNING \(unescaped: ScimTokenRepository.columns)),
            audit AS (\(audit: .scimTokenCreated, by: context, from: "token", tenant: "token.tenant_id", target: "token.id",
                          details: "jsonb_build_object('name', token.name, 'setup_link_id', token.setup_link_id)"))
            SELECT \(unescaped: ScimTokenRepository.columns) FROM token
            """)
        if let record = try ScimTokenRepository.decode(rows).first { return .success((record, secret)) }
        let state = try await database.query(
            """
            SELECT tokens_allowed, revoked IS NULL AND expires > now() FROM setup_links
            WHERE tenant_id = \(link.tenantID) AND id = \(link.linkID)
            """)
        for row in state {
            let (allowed, live) = try row.decode((Int, Bool).self)
            return .failure(live ? .exhausted(allowed: allowed) : .notLive)
        }
        return .failure(.notLive)
    }

    static let columns = """
        id, tenant_id, name, prefix, created, created_by_type, created_by_id, created_by_subject, expires, revoked, last_used,
        tokens_created, tokens_allowed
        """

    static func decode(_ rows: [PostgresRow]) throws -> [SetupLinkRecord] {
        try rows.map { row in
            let (id, tenant, name, prefix, created, byType, byID, bySubject, expires, revoked, lastUsed, tokensCreated, tokensAllowed) =
                try row.decode((UUID, UUID, String, String, Date, String, UUID?, String?, Date, Date?, Date?, Int, Int).self)
            return SetupLinkRecord(
                id: id, tenantID: tenant, name: name, prefix: prefix, created: created,
                createdBy: Actor(type: byType, id: byID, subject: bySubject), expires: expires, revoked: revoked, lastUsed: lastUsed,
                tokensCreated: tokensCreated, tokensAllowed: tokensAllowed)
        }
    }
}
