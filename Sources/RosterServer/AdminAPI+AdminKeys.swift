import Foundation
import RosterStore

/// `/api/v1/admin-keys`: a global key manages every key; a tenant-bound key only its tenant's,
/// and no key grants a scope it lacks itself.
extension AdminAPI {
    func listAdminKeys(_ input: Operations.ListAdminKeys.Input) async throws -> Operations.ListAdminKeys.Output {
        let principal = try AuthenticatedAdmin.require(.adminKeys)
        let records: [AdminKeyRecord]
        if let tenantID = principal.tenantID { records = try await keys.list(tenant: tenantID) } else { records = try await keys.list() }
        return .ok(.init(body: .json(.init(data: records.map(Components.Schemas.AdminKey.init)))))
    }

    func createAdminKey(_ input: Operations.CreateAdminKey.Input) async throws -> Operations.CreateAdminKey.Output {
        let principal = try AuthenticatedAdmin.require(.adminKeys)
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        let name = try Self.validName(body.name, example: "acme-ci")
        let scopes = try body.scopes.map { scope in
            guard let scope = AdminScope(rawValue: scope.rawValue) else { throw AdminError.invalidRequest("Unknown scope '\(scope.rawValue)'.") }
            return scope
        }
        guard !scopes.isEmpty else {
            throw AdminError.invalidRequest("'scopes' needs at least one of \(AdminScope.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        // No escalation: a key hands out only what it holds itself.
        if let missing = scopes.first(where: { !principal.allows($0) }) {
            throw AdminError.forbidden("This admin key cannot grant the '\(missing.rawValue)' scope: it does not hold it.")
        }
        // Without `tenant`, a key creates a key like itself: global for global, its own tenant's otherwise.
        var tenantID = principal.tenantID
        if let reference = body.tenant { tenantID = try await tenant(named: reference, for: principal).id }
        let expires = try Self.validExpiry(body.expiresAt)
        var unique: [AdminScope] = []
        for scope in scopes where !unique.contains(scope) { unique.append(scope) }
        let (record, secret) = try await keys.create(
            name: name, tenant: tenantID, scopes: unique, expires: expires, by: AuthenticatedAdmin.auditContext())
        return .created(.init(body: .json(.init(record, secret: secret))))
    }

    func getAdminKey(_ input: Operations.GetAdminKey.Input) async throws -> Operations.GetAdminKey.Output {
        let principal = try AuthenticatedAdmin.require(.adminKeys)
        return .ok(.init(body: .json(.init(try await visibleKey(input.path.id, to: principal)))))
    }

    func revokeAdminKey(_ input: Operations.RevokeAdminKey.Input) async throws -> Operations.RevokeAdminKey.Output {
        let principal = try AuthenticatedAdmin.require(.adminKeys)
        let key = try await visibleKey(input.path.id, to: principal)
        guard let revoked = try await keys.revoke(id: key.id, by: AuthenticatedAdmin.auditContext()) else { throw Self.noSuchKey }
        return .ok(.init(body: .json(.init(revoked))))
    }

    /// A key the principal may see: any for a global key, its own tenant's for a bound one (others are 404, not 403, so ids do not leak).
    private func visibleKey(_ id: String, to principal: AdminPrincipal) async throws -> AdminKeyRecord {
        guard let id = UUID(uuidString: id), let key = try await keys.get(id: id) else { throw Self.noSuchKey }
        if let bound = principal.tenantID, key.tenantID != bound { throw Self.noSuchKey }
        return key
    }

    private static var noSuchKey: AdminError { .notFound("No such admin key.") }
}
