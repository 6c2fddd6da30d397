import Foundation
import RosterAuth
import RosterStore

/// `/api/v1/scim/tokens` (the key's tenant) and `/api/v1/tenants/{tenant}/scim/tokens`: one method per pair of routes.
struct ScimTokensHandler: Sendable {
    let tenants: TenantRepository
    let tokens: ScimTokenRepository
    /// Shown with a new token, for the IdP's provisioning settings.
    let scimBaseURL: String

    func list(tenant reference: String?, cursor: String?, limit: Int?) async throws -> Components.Responses.ScimTokenList {
        let principal = try AuthenticatedAdmin.require(.scimTokens)
        let tenant = try await tenants.tenant(named: reference, for: principal, scope: .scimTokens)
        let after = try AdminPaging.position(cursor) { CreatedPosition(cursor: $0, .scimTokens, scope: tenant.id) }
        let page = try await tokens.page(tenant: tenant.id, after: after, limit: try AdminPaging.limit(limit))
        return .init(body: .json(.init(
            data: page.items.map(Components.Schemas.ScimToken.init), nextCursor: page.next?.cursor(.scimTokens, scope: tenant.id))))
    }

    func create(_ body: Components.Schemas.ScimTokenCreate, tenant reference: String?) async throws -> Components.Responses.ScimTokenCreated {
        let principal = try AuthenticatedAdmin.require(.scimTokens)
        let tenant = try await tenants.tenant(named: reference, for: principal, scope: .scimTokens)
        try await tenants.requireDirectoryRights(of: tenant, for: principal)
        let name = try AdminInput.validName(body.name, example: "Entra ID production")
        let expires = try AdminInput.validExpiry(body.expiresAt)
        let (record, secret) = try await tokens.create(
            tenant: tenant.id, name: name, expires: expires, by: AuthenticatedAdmin.auditContext())
        return .init(body: .json(.init(record, secret: secret, scimBaseURL: scimBaseURL)))
    }

    func revoke(_ id: String, tenant reference: String?) async throws -> Components.Responses.ScimTokenRevoked {
        let principal = try AuthenticatedAdmin.require(.scimTokens)
        let tenant = try await tenants.tenant(named: reference, for: principal, scope: .scimTokens)
        guard let id = UUID(uuidString: id), let record = try await tokens.revoke(tenant: tenant.id, id: id, by: AuthenticatedAdmin.auditContext()) else {
            throw AdminError.notFound("No such SCIM token in tenant '\(tenant.name)'.")
        }
        return .init(body: .json(.init(record)))
    }
}

extension AdminAPI {
    func listScimTokens(_ input: Operations.ListScimTokens.Input) async throws -> Operations.ListScimTokens.Output {
        .ok(try await scimTokens.list(tenant: nil, cursor: input.query.cursor, limit: input.query.limit))
    }

    func listTenantScimTokens(_ input: Operations.ListTenantScimTokens.Input) async throws -> Operations.ListTenantScimTokens.Output {
        .ok(try await scimTokens.list(tenant: input.path.tenant, cursor: input.query.cursor, limit: input.query.limit))
    }

    func createScimToken(_ input: Operations.CreateScimToken.Input) async throws -> Operations.CreateScimToken.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        return .created(try await scimTokens.create(body, tenant: nil))
    }

    func createTenantScimToken(_ input: Operations.CreateTenantScimToken.Input) async throws -> Operations.CreateTenantScimToken.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        return .created(try await scimTokens.create(body, tenant: input.path.tenant))
    }

    func revokeScimToken(_ input: Operations.RevokeScimToken.Input) async throws -> Operations.RevokeScimToken.Output {
        .ok(try await scimTokens.revoke(input.path.id, tenant: nil))
    }

    func revokeTenantScimToken(_ input: Operations.RevokeTenantScimToken.Input) async throws -> Operations.RevokeTenantScimToken.Output {
        .ok(try await scimTokens.revoke(input.path.id, tenant: input.path.tenant))
    }
}
