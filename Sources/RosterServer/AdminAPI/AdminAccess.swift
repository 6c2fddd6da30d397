import Foundation
import RosterAuth
import RosterStore

extension TenantRepository {
    /// The tenant a route acts on: the one named in the path, else the credential's only tenant, else `default`.
    /// A tenant the credential holds nothing on does not exist for it (404); one it holds other scopes on is 403.
    func tenant(named reference: String?, for principal: AdminPrincipal, scope: AdminScope) async throws -> Tenant {
        let name = reference ?? principal.tenantID?.uuidString ?? TenantRepository.defaultName
        guard TenantRepository.isValidName(name) || UUID(uuidString: name) != nil, let tenant = try await find(name),
            principal.sees(tenant: tenant.id)
        else { throw AdminError.notFound("No tenant '\(name)'.") }
        guard principal.allows(scope, in: tenant.id) else {
            throw AdminError.forbidden("This credential lacks the '\(scope.rawValue)' scope on tenant '\(tenant.name)'.")
        }
        return tenant
    }
}

extension AuthenticatedAdmin {
    /// The principal, holding `scope` on every tenant.
    static func requireGlobal(_ scope: AdminScope) throws -> AdminPrincipal {
        let principal = try AuthenticatedAdmin.require(scope)
        guard principal.allowsGlobally(scope) else {
            throw AdminError.forbidden("This route needs the '\(scope.rawValue)' scope on every tenant (a global grant).")
        }
        return principal
    }
}
