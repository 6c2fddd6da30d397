import Foundation
import RosterAuth
import RosterStore

/// `/api/v1/tenants`: a credential sees the tenants it holds `tenants` on; creating one needs that scope on every tenant.
struct TenantsHandler: Sendable {
    let tenants: TenantRepository
    /// Marking the operator's directory changes whose grants reach every tenant.
    let grantCache: GrantCache

    func listTenants(_ input: Operations.ListTenants.Input) async throws -> Operations.ListTenants.Output {
        let principal = try AuthenticatedAdmin.require(.tenants)
        let after = try AdminPaging.position(input.query.cursor) { CreatedPosition(cursor: $0, .tenants) }
        let page = try await tenants.page(
            after: after, limit: try AdminPaging.limit(input.query.limit), visible: principal.tenants(holding: .tenants))
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Tenant.init), nextCursor: page.next?.cursor(.tenants)))))
    }

    func createTenant(_ input: Operations.CreateTenant.Input) async throws -> Operations.CreateTenant.Output {
        let principal = try AuthenticatedAdmin.require(.tenants)
        guard principal.allowsGlobally(.tenants) else {
            throw AdminError.forbidden("Creating a tenant needs the 'tenants' scope on every tenant (a global grant).")
        }
        guard case .json(let body) = input.body, TenantRepository.isValidName(body.name) else {
            throw AdminError.invalidRequest("'name' is required: lowercase letters, digits and '-', at most 63 characters, e.g. \"acme\".")
        }
        let tenant = try await tenants.create(name: body.name, by: AuthenticatedAdmin.auditContext())
        return .created(.init(body: .json(.init(tenant))))
    }

    func getTenant(_ input: Operations.GetTenant.Input) async throws -> Operations.GetTenant.Output {
        let principal = try AuthenticatedAdmin.require(.tenants)
        return .ok(.init(body: .json(.init(try await tenants.tenant(named: input.path.tenant, for: principal, scope: .tenants)))))
    }

    /// Only an owner marks the operator's directory: its groups' grants reach every tenant.
    func updateTenant(_ input: Operations.UpdateTenant.Input) async throws -> Operations.UpdateTenant.Output {
        let principal = try AuthenticatedAdmin.requireGlobal(.all)
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        let found = try await tenants.tenant(named: input.path.tenant, for: principal, scope: .all)
        guard let tenant = try await tenants.setOperatorDirectory(body.operatorDirectory, tenant: found.id, by: AuthenticatedAdmin.auditContext())
        else { throw AdminError.notFound("No tenant '\(input.path.tenant)'.") }
        grantCache.invalidate()
        return .ok(.init(body: .json(.init(tenant))))
    }
}

extension AdminAPI {
    func listTenants(_ input: Operations.ListTenants.Input) async throws -> Operations.ListTenants.Output {
        try await tenants.listTenants(input)
    }

    func createTenant(_ input: Operations.CreateTenant.Input) async throws -> Operations.CreateTenant.Output {
        try await tenants.createTenant(input)
    }

    func getTenant(_ input: Operations.GetTenant.Input) async throws -> Operations.GetTenant.Output {
        try await tenants.getTenant(input)
    }

    func updateTenant(_ input: Operations.UpdateTenant.Input) async throws -> Operations.UpdateTenant.Output {
        try await tenants.updateTenant(input)
    }
}
