import Foundation
import HTTPTypes
import RosterAuth
import RosterStore

/// `/api/v1/setup`: the setup API, for the holder of a setup link — one tenant's setup facts, up to the link's
/// allowance of SCIM tokens, and its provisioning log. The middleware admitted a live link's secret and nothing else.
struct SetupHandler: Sendable {
    let tenants: TenantRepository
    let links: SetupLinkRepository
    let log: ProvisioningLog
    let scimBaseURL: String

    private static func link() throws -> SetupLinkPrincipal {
        guard let link = AuthenticatedAdmin.setupLink else { throw AdminError.unauthorized(SetupLinkAuthentication.required) }
        return link
    }

    func info() async throws -> Components.Schemas.SetupInfo {
        let link = try Self.link()
        guard let tenant = try await tenants.find(link.tenantID.uuidString) else { throw AdminError.unauthorized("The setup link's tenant no longer exists.") }
        return .init(
            tenant: .init(id: tenant.id.lowercasedString, name: tenant.name), scimBaseUrl: scimBaseURL, expiresAt: link.expires,
            link: .init(id: link.linkID.lowercasedString, name: link.name), tokensCreated: link.tokensCreated, tokensAllowed: link.tokensAllowed)
    }

    func createToken(name: String) async throws -> Components.Responses.ScimTokenCreated {
        let link = try Self.link()
        guard let tenant = try await tenants.find(link.tenantID.uuidString) else { throw AdminError.unauthorized("The setup link's tenant no longer exists.") }
        // Checked again now: roles granted to the tenant's groups since the link was made.
        try await ProvisioningHandler.requireNoDirectoryRoles(tenant, tenants: tenants)
        let name = try AdminInput.validName(name, example: "Microsoft Entra ID")
        switch try await links.createToken(
            for: link, name: name, requestID: AuthenticatedAdmin.requestID, sourceAddress: AuthenticatedAdmin.sourceAddress)
        {
        case .success(let (record, secret)):
            return .init(body: .json(.init(record, secret: secret, scimBaseURL: scimBaseURL)))
        case .failure(.exhausted(let allowed)):
            throw AdminError(
                status: .conflict, code: "conflict",
                message: "This setup link has created the \(allowed) SCIM tokens it may; ask whoever sent it for a new one, or revoke and reuse a token you made.")
        case .failure(.notLive):
            throw AdminError.unauthorized("The setup link is invalid, expired or revoked: ask whoever sent it for a new one.")
        }
    }

    func log(cursor: String?, limit: Int?, outcome: String?, since: Date?) async throws -> Components.Schemas.ProvisioningLog {
        try await ProvisioningHandler.read(log, tenant: try Self.link().tenantID, cursor: cursor, limit: limit, outcome: outcome, since: since)
    }
}

extension AdminAPI {
    func getSetup(_ input: Operations.GetSetup.Input) async throws -> Operations.GetSetup.Output {
        .ok(.init(body: .json(try await setup.info())))
    }

    func createSetupScimToken(_ input: Operations.CreateSetupScimToken.Input) async throws -> Operations.CreateSetupScimToken.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        return .created(try await setup.createToken(name: body.name))
    }

    func listSetupProvisioningLog(_ input: Operations.ListSetupProvisioningLog.Input) async throws -> Operations.ListSetupProvisioningLog.Output {
        let q = input.query
        return .ok(.init(body: .json(try await setup.log(cursor: q.cursor, limit: q.limit, outcome: q.outcome?.rawValue, since: q.since))))
    }
}
