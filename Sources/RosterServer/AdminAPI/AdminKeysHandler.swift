import Foundation
import RosterAuth
import RosterStore

/// `/api/v1/admin-keys`: a global grant manages every key; a tenant grant only that tenant's,
/// and no credential grants a scope it lacks itself. A key belongs to the user, key or OIDC subject that made it.
struct AdminKeysHandler: Sendable {
    /// For the tenant a new key is bound to.
    let tenants: TenantRepository
    let keys: AdminKeyRepository
    /// A revoked key's sessions and the keys it made stop at once.
    let grantCache: GrantCache

    func listAdminKeys(_ input: Operations.ListAdminKeys.Input) async throws -> Operations.ListAdminKeys.Output {
        let principal = try AuthenticatedAdmin.require(.adminKeys)
        let after = try AdminPaging.position(input.query.cursor) { CreatedPosition(cursor: $0, .adminKeys) }
        // A tenant grant sees its tenants' keys, never a global one.
        let page = try await keys.page(
            after: after, limit: try AdminPaging.limit(input.query.limit), visible: principal.tenants(holding: .adminKeys))
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.AdminKey.init), nextCursor: page.next?.cursor(.adminKeys)))))
    }

    func createAdminKey(_ input: Operations.CreateAdminKey.Input) async throws -> Operations.CreateAdminKey.Output {
        let principal = try AuthenticatedAdmin.require(.adminKeys)
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        let name = try AdminInput.validName(body.name, example: "acme-ci")
        let scopes = try body.scopes.map { scope in
            guard let scope = AdminScope(rawValue: scope.rawValue) else { throw AdminError.invalidRequest("Unknown scope '\(scope.rawValue)'.") }
            return scope
        }
        guard !scopes.isEmpty else {
            throw AdminError.invalidRequest("'scopes' needs at least one of \(AdminScope.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        // Without `tenant`, a credential creates a key like itself: global for global, its own tenant's otherwise.
        var tenantID = principal.tenantID
        if let reference = body.tenant { tenantID = try await tenants.tenant(named: reference, for: principal, scope: .adminKeys).id }
        guard principal.allows(.adminKeys, in: tenantID) else {
            throw AdminError.forbidden("A global key needs the 'admin-keys' scope globally; name a 'tenant' for a tenant's key.")
        }
        // No escalation: a credential hands out only what it holds itself, where the key will act.
        if let missing = scopes.first(where: { !principal.allows($0, in: tenantID) }) {
            throw AdminError.forbidden("This credential cannot grant the '\(missing.rawValue)' scope: it does not hold it there.")
        }
        let expires = try AdminInput.validExpiry(body.expiresAt)
        var unique: [AdminScope] = []
        for scope in scopes where !unique.contains(scope) { unique.append(scope) }
        // The key belongs to whoever made it, so it never outlives nor outranks them: their user, the key they
        // signed in with or used, or their OIDC subject (whose recorded rights bound it).
        let subject: String? = if case .oidc(let subject) = principal.identity { subject } else { nil }
        // A key session's principal does not carry its key's owner; the parent key's record does.
        var owner = principal.owner
        if owner == nil, let parent = principal.keyID { owner = try await keys.get(id: parent)?.owner }
        let (record, secret) = try await keys.create(
            name: name, tenant: tenantID, scopes: unique, expires: expires, owner: owner, ownerKey: principal.keyID,
            ownerSubject: subject, by: AuthenticatedAdmin.auditContext())
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
        // Its sessions and the keys it made stop at once here, on other replicas within the cache's lifetime.
        grantCache.invalidate()
        return .ok(.init(body: .json(.init(revoked))))
    }

    /// A key the principal manages: a global key needs 'admin-keys' globally, a tenant's key on that tenant
    /// (others are 404, not 403, so ids do not leak).
    private func visibleKey(_ id: String, to principal: AdminPrincipal) async throws -> AdminKeyRecord {
        guard let id = UUID(uuidString: id), let key = try await keys.get(id: id), principal.allows(.adminKeys, in: key.tenantID) else {
            throw Self.noSuchKey
        }
        return key
    }

    private static var noSuchKey: AdminError { .notFound("No such admin key.") }
}

extension AdminAPI {
    func listAdminKeys(_ input: Operations.ListAdminKeys.Input) async throws -> Operations.ListAdminKeys.Output {
        try await adminKeys.listAdminKeys(input)
    }

    func createAdminKey(_ input: Operations.CreateAdminKey.Input) async throws -> Operations.CreateAdminKey.Output {
        try await adminKeys.createAdminKey(input)
    }

    func getAdminKey(_ input: Operations.GetAdminKey.Input) async throws -> Operations.GetAdminKey.Output {
        try await adminKeys.getAdminKey(input)
    }

    func revokeAdminKey(_ input: Operations.RevokeAdminKey.Input) async throws -> Operations.RevokeAdminKey.Output {
        try await adminKeys.revokeAdminKey(input)
    }
}
