import Foundation
import RosterAuth
import RosterStore

/// `/api/v1/tenants/{tenant}/provisioning-log` (scope `provisioning:read`) and `/api/v1/tenants/{tenant}/setup-links`
/// (scope `scim-tokens`): what a tenant's identity provider sent, and links that let its admin connect it.
struct ProvisioningHandler: Sendable {
    let tenants: TenantRepository
    let log: ProvisioningLog
    let links: SetupLinkRepository
    /// The setup portal's address: a link's URL is this, `#`, and its secret.
    let setupPageURL: String

    func log(tenant reference: String, cursor: String?, limit: Int?, outcome: String?, since: Date?) async throws -> Components.Schemas.ProvisioningLog {
        let principal = try AuthenticatedAdmin.require(.provisioningRead)
        let tenant = try await tenants.tenant(named: reference, for: principal, scope: .provisioningRead)
        return try await Self.read(log, tenant: tenant.id, cursor: cursor, limit: limit, outcome: outcome, since: since)
    }

    /// One page of a tenant's log, for the admin API and the setup API alike.
    static func read(
        _ log: ProvisioningLog, tenant: UUID, cursor: String?, limit: Int?, outcome: String?, since: Date?
    ) async throws -> Components.Schemas.ProvisioningLog {
        var query = ProvisioningLog.Query(tenant: tenant, limit: try AdminPaging.limit(limit), since: since)
        if let cursor {
            guard cursor.utf8.count <= 20, let before = Int64(cursor), before > 0 else {
                throw AdminError.invalidRequest("'cursor' must be the next_cursor of an earlier answer.")
            }
            query.before = before
        }
        if let outcome {
            guard let value = ProvisioningLog.Query.Outcome(rawValue: outcome) else {
                throw AdminError.invalidRequest("'outcome' must be 'failed' or 'succeeded'.")
            }
            query.outcome = value
        }
        let (entries, more) = try await log.read(query)
        return .init(data: entries.map(Components.Schemas.ProvisioningEntry.init), nextCursor: more ? entries.last.map { String($0.id) } : nil)
    }

    func listLinks(tenant reference: String, cursor: String?, limit: Int?) async throws -> Components.Schemas.SetupLinkList {
        let principal = try AuthenticatedAdmin.require(.scimTokens)
        let tenant = try await tenants.tenant(named: reference, for: principal, scope: .scimTokens)
        let position = try AdminPaging.position(cursor) { CreatedPosition(cursor: $0, .setupLinks, scope: tenant.id) }
        let page = try await links.page(tenant: tenant.id, after: position, limit: try AdminPaging.limit(limit))
        return .init(data: page.items.map(Components.Schemas.SetupLink.init), nextCursor: page.next?.cursor(.setupLinks, scope: tenant.id))
    }

    /// A link gives its holder no more than its maker holds on the tenant: SCIM tokens (with the directory rights
    /// a token carries) and the provisioning log. A tenant whose groups confer admin roles gets no setup link at all:
    /// a token made later through the link would decide who holds those roles, with no admin's rights checked then.
    func createLink(tenant reference: String, _ body: Components.Schemas.SetupLinkCreate) async throws -> Components.Schemas.SetupLinkCreated {
        let principal = try AuthenticatedAdmin.require(.scimTokens)
        let tenant = try await tenants.tenant(named: reference, for: principal, scope: .scimTokens)
        guard principal.allows(.provisioningRead, in: tenant.id) else {
            throw AdminError.forbidden(
                "A setup link shows the tenant's provisioning log: its maker needs the 'provisioning:read' scope on tenant '\(tenant.name)' too.")
        }
        try await tenants.requireDirectoryRights(of: tenant, for: principal)
        try await Self.requireNoDirectoryRoles(tenant, tenants: tenants)
        let name = try AdminInput.validName(body.name, example: "Acme IT (Entra ID)")
        let hours = body.expiresInHours ?? 72
        guard (1...720).contains(hours) else { throw AdminError.invalidRequest("'expires_in_hours' must be between 1 and 720 (30 days).") }
        let allowed = body.tokensAllowed ?? 5
        guard (1...20).contains(allowed) else { throw AdminError.invalidRequest("'tokens_allowed' must be between 1 and 20.") }
        let (record, secret) = try await links.create(
            tenant: tenant.id, name: name, expires: Date().addingTimeInterval(Double(hours) * 3600), tokensAllowed: allowed,
            by: AuthenticatedAdmin.auditContext())
        return .init(record, secret: secret, url: setupPageURL + "#" + secret.reveal())
    }

    static func requireNoDirectoryRoles(_ tenant: Tenant, tenants: TenantRepository) async throws {
        if tenant.operatorDirectory {
            throw AdminError.forbidden(
                "Tenant '\(tenant.name)' is the operator's directory, whose groups hold roles on every tenant: its SCIM tokens are created by an owner, never through a setup link.")
        }
        if !(try await tenants.directoryScopes(of: tenant.id)).isEmpty {
            throw AdminError.forbidden(
                "Tenant '\(tenant.name)' has groups that hold admin roles, so its SCIM tokens decide who holds them: an admin creates them, not a setup link.")
        }
    }

    func revokeLink(tenant reference: String, id: String) async throws {
        let principal = try AuthenticatedAdmin.require(.scimTokens)
        let tenant = try await tenants.tenant(named: reference, for: principal, scope: .scimTokens)
        guard let id = UUID(uuidString: id), try await links.revoke(tenant: tenant.id, id: id, by: AuthenticatedAdmin.auditContext()) != nil else {
            throw AdminError.notFound("No such setup link in tenant '\(tenant.name)'.")
        }
    }
}

extension AdminAPI {
    func listProvisioningLog(_ input: Operations.ListProvisioningLog.Input) async throws -> Operations.ListProvisioningLog.Output {
        let q = input.query
        return .ok(.init(body: .json(try await provisioning.log(
            tenant: input.path.tenant, cursor: q.cursor, limit: q.limit, outcome: q.outcome?.rawValue, since: q.since))))
    }

    func listSetupLinks(_ input: Operations.ListSetupLinks.Input) async throws -> Operations.ListSetupLinks.Output {
        .ok(.init(body: .json(try await provisioning.listLinks(tenant: input.path.tenant, cursor: input.query.cursor, limit: input.query.limit))))
    }

    func createSetupLink(_ input: Operations.CreateSetupLink.Input) async throws -> Operations.CreateSetupLink.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        return .created(.init(body: .json(try await provisioning.createLink(tenant: input.path.tenant, body))))
    }

    func revokeSetupLink(_ input: Operations.RevokeSetupLink.Input) async throws -> Operations.RevokeSetupLink.Output {
        try await provisioning.revokeLink(tenant: input.path.tenant, id: input.path.id)
        return .noContent(.init())
    }
}

extension Components.Schemas.ProvisioningEntry {
    init(_ entry: RosterStore.ProvisioningEntry) {
        self.init(
            id: String(entry.id), occurredAt: entry.occurred, method: entry.method, path: entry.path, status: entry.status,
            scimType: entry.scimType, detail: entry.detail, userAgent: entry.userAgent, latencyMs: entry.latencyMilliseconds,
            tokenId: entry.tokenID.lowercasedString, requestId: entry.requestID)
    }
}

extension Components.Schemas.SetupLink {
    init(_ link: SetupLinkRecord) {
        self.init(
            id: link.id.lowercasedString, tenantId: link.tenantID.lowercasedString, name: link.name, prefix: link.prefix, created: link.created,
            createdBy: .init(link.createdBy), expiresAt: link.expires, revoked: link.revoked, lastUsed: link.lastUsed,
            tokensCreated: link.tokensCreated, tokensAllowed: link.tokensAllowed)
    }
}

extension Components.Schemas.SetupLinkCreated {
    init(_ link: SetupLinkRecord, secret: Secret, url: String) {
        self.init(
            id: link.id.lowercasedString, tenantId: link.tenantID.lowercasedString, name: link.name, prefix: link.prefix, created: link.created,
            createdBy: .init(link.createdBy), expiresAt: link.expires, revoked: link.revoked, lastUsed: link.lastUsed,
            tokensCreated: link.tokensCreated, tokensAllowed: link.tokensAllowed, secret: secret.reveal(), url: url)
    }
}

extension Components.Schemas.SetupLinkCreator {
    init(_ actor: Actor) {
        let type: _TypePayload =
            switch actor {
            case .adminKey: .adminKey
            case .adminUser: .adminUser
            case .oidc: .oidc
            case .scimToken, .setupLink, .system: .system
            }
        self.init(_type: type, id: actor.id?.lowercasedString, subject: actor.subject)
    }
}
