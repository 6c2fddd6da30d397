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

    /// A SCIM token writes the tenant's directory, and so decides who holds the roles granted to its groups:
    /// its creator must hold every scope those roles confer there, and the operator's directory is an owner's.
    func requireDirectoryRights(of tenant: Tenant, for principal: AdminPrincipal) async throws {
        if tenant.operatorDirectory {
            guard principal.allowsGlobally(.all) else {
                throw AdminError.forbidden(
                    "Tenant '\(tenant.name)' is the operator's directory, whose groups hold roles on every tenant: only an owner (the '*' scope on every tenant) creates its SCIM tokens.")
            }
            return
        }
        let conferred = try await directoryScopes(of: tenant.id)
        if let missing = conferred.sorted(by: { $0.rawValue < $1.rawValue }).first(where: { !principal.allows($0, in: tenant.id) }) {
            throw AdminError.forbidden(
                "A SCIM token of tenant '\(tenant.name)' decides who is in its groups, whose roles confer the '\(missing.rawValue)' scope there, which this credential lacks.")
        }
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
