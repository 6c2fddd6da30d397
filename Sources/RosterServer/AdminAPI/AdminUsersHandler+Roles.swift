import Foundation
import RosterAuth
import RosterStore

/// `/api/v1/admin/roles` and their grants. A credential creates and grants only what it holds itself.
extension AdminUsersHandler {
    func listRoles(_ input: Operations.ListRoles.Input) async throws -> Operations.ListRoles.Output {
        _ = try AuthenticatedAdmin.require(.adminUsers)
        let after = try AdminPaging.position(input.query.cursor, RolePosition.init(cursor:))
        let page = try await identity.roles.page(after: after, limit: try AdminPaging.limit(input.query.limit))
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.Role.init), nextCursor: page.next?.cursor))))
    }

    func createRole(_ input: Operations.CreateRole.Input) async throws -> Operations.CreateRole.Output {
        let principal = try AuthenticatedAdmin.requireGlobal(.adminUsers)
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        guard AdminRoles.isValidName(body.name) else {
            throw AdminError.invalidRequest("'name' must be lowercase letters, digits, '_' and '-', at most 63 characters, e.g. \"provisioning\".")
        }
        let scopes = try Self.grantable(Self.scopes(body.scopes), by: principal)
        let role = try await identity.roles.create(
            name: body.name, description: body.description, scopes: scopes, by: AuthenticatedAdmin.auditContext())
        return .created(.init(body: .json(.init(role))))
    }

    func getRole(_ input: Operations.GetRole.Input) async throws -> Operations.GetRole.Output {
        _ = try AuthenticatedAdmin.require(.adminUsers)
        return .ok(.init(body: .json(.init(try await role(input.path.role)))))
    }

    func updateRole(_ input: Operations.UpdateRole.Input) async throws -> Operations.UpdateRole.Output {
        let principal = try AuthenticatedAdmin.requireGlobal(.adminUsers)
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        let existing = try await role(input.path.role)
        guard !existing.builtin else { throw AdminError.invalidRequest("The built-in role '\(existing.name)' cannot change.") }
        let scopes = try body.scopes.map { try Self.grantable(Self.scopes($0), by: principal) }
        guard let role = try await identity.roles.update(
            id: existing.id, description: body.description.map { .some($0) }, scopes: scopes, by: AuthenticatedAdmin.auditContext())
        else { throw Self.noSuchRole }
        identity.cache.invalidate()
        return .ok(.init(body: .json(.init(role))))
    }

    func deleteRole(_ input: Operations.DeleteRole.Input) async throws -> Operations.DeleteRole.Output {
        _ = try AuthenticatedAdmin.requireGlobal(.adminUsers)
        let existing = try await role(input.path.role)
        guard !existing.builtin else { throw AdminError.invalidRequest("The built-in role '\(existing.name)' cannot be deleted.") }
        guard try await identity.roles.delete(id: existing.id, by: AuthenticatedAdmin.auditContext()) else { throw Self.noSuchRole }
        identity.cache.invalidate()
        return .noContent(.init())
    }

    func listRoleGrants(_ input: Operations.ListRoleGrants.Input) async throws -> Operations.ListRoleGrants.Output {
        let principal = try AuthenticatedAdmin.require(.adminUsers)
        let role = try await role(input.path.role)
        let after = try AdminPaging.position(input.query.cursor) { CreatedPosition(cursor: $0, .roleGrants, scope: role.id) }
        // Only what this credential could grant itself: a tenant-bound holder sees its tenants' grants (on its tenants, to
        // users or to its tenants' groups), not the others'.
        let page = try await identity.roles.grantPage(
            role: role.id, after: after, limit: try AdminPaging.limit(input.query.limit), visible: principal.tenants(holding: .adminUsers))
        return .ok(.init(body: .json(.init(
            data: page.items.map(Components.Schemas.RoleGrant.init), nextCursor: page.next?.cursor(.roleGrants, scope: role.id)))))
    }

    func grantRole(_ input: Operations.GrantRole.Input) async throws -> Operations.GrantRole.Output {
        let principal = try AuthenticatedAdmin.requireGlobal(.adminUsers)
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        var on: UUID?
        if let reference = body.tenant { on = try await tenants.tenant(named: reference, for: principal, scope: .adminUsers).id }
        let role = try await grantableRole(input.path.role, by: principal, on: on)
        let holder: RoleHolder
        switch (body.userId, body.group) {
        case (let user?, nil):
            guard let id = UUID(uuidString: user), try await identity.users.get(id: id) != nil else {
                throw AdminError.notFound("No such admin user.")
            }
            holder = .user(id)
        case (nil, let group?):
            let tenant = try await tenants.tenant(named: group.tenant, for: principal, scope: .adminUsers)
            let found = try await groups.find(tenant: tenant.id, idOrDisplayName: group.group)
            guard let id = found.first else { throw AdminError.notFound("No group '\(group.group)' in tenant '\(tenant.name)'.") }
            guard found.count == 1 else {
                throw AdminError.invalidRequest("Several groups of tenant '\(tenant.name)' are named '\(group.group)'; name the group by its id.")
            }
            holder = .group(tenant: tenant.id, id: id)
            // Whoever writes a tenant's directory decides who is in its groups: their roles stay in that tenant.
            guard on == tenant.id || tenant.operatorDirectory else {
                throw AdminError.invalidRequest(
                    "A role granted to a group of tenant '\(tenant.name)' holds on that tenant only (send \"tenant\": \"\(tenant.name)\"): whoever holds its SCIM tokens decides who is in its groups. Only the operator's directory (a tenant an owner marks with PATCH /api/v1/tenants/{tenant}) grants roles on other tenants.")
            }
        default:
            throw AdminError.invalidRequest("Name exactly one of 'user_id' or 'group' ({\"tenant\": …, \"group\": id or displayName}).")
        }
        let grant = try await identity.roles.grant(role, to: holder, on: on, by: AuthenticatedAdmin.auditContext())
        identity.cache.invalidate()
        return .created(.init(body: .json(.init(grant))))
    }

    func revokeRoleGrant(_ input: Operations.RevokeRoleGrant.Input) async throws -> Operations.RevokeRoleGrant.Output {
        _ = try AuthenticatedAdmin.requireGlobal(.adminUsers)
        guard let id = UUID(uuidString: input.path.id), try await identity.roles.revokeGrant(id: id, by: AuthenticatedAdmin.auditContext()) else {
            throw AdminError.notFound("No such grant.")
        }
        identity.cache.invalidate()
        return .noContent(.init())
    }

    // MARK: Shared

    func role(_ reference: String) async throws -> AdminRoleRecord {
        guard reference.count <= 64, let role = try await identity.roles.find(reference) else { throw Self.noSuchRole }
        return role
    }

    /// A role the principal may hand out on `tenant` (nil: every tenant): it holds every scope of it there.
    func grantableRole(_ reference: String, by principal: AdminPrincipal, on tenant: UUID?) async throws -> AdminRoleRecord {
        let role = try await role(reference)
        if let missing = role.scopes.first(where: { !principal.allows($0, in: tenant) }) {
            throw AdminError.forbidden("This credential cannot grant the role '\(role.name)': it lacks its '\(missing.rawValue)' scope.")
        }
        return role
    }

    static func scopes(_ scopes: [Components.Schemas.AdminScope]) throws -> [AdminScope] {
        var unique: [AdminScope] = []
        for scope in scopes.compactMap({ AdminScope(rawValue: $0.rawValue) }) where !unique.contains(scope) { unique.append(scope) }
        guard !unique.isEmpty else {
            throw AdminError.invalidRequest("'scopes' needs at least one of \(AdminScope.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        return unique
    }

    /// Scopes the principal holds on every tenant, so a role made of them escalates nobody.
    static func grantable(_ scopes: [AdminScope], by principal: AdminPrincipal) throws -> [AdminScope] {
        if let missing = scopes.first(where: { !principal.allowsGlobally($0) }) {
            throw AdminError.forbidden("This credential cannot put the '\(missing.rawValue)' scope in a role: it does not hold it globally.")
        }
        return scopes
    }

    private static var noSuchRole: AdminError { .notFound("No such role.") }
}

extension AdminAPI {
    func listRoles(_ input: Operations.ListRoles.Input) async throws -> Operations.ListRoles.Output {
        try await adminUsers.listRoles(input)
    }

    func createRole(_ input: Operations.CreateRole.Input) async throws -> Operations.CreateRole.Output {
        try await adminUsers.createRole(input)
    }

    func getRole(_ input: Operations.GetRole.Input) async throws -> Operations.GetRole.Output {
        try await adminUsers.getRole(input)
    }

    func updateRole(_ input: Operations.UpdateRole.Input) async throws -> Operations.UpdateRole.Output {
        try await adminUsers.updateRole(input)
    }

    func deleteRole(_ input: Operations.DeleteRole.Input) async throws -> Operations.DeleteRole.Output {
        try await adminUsers.deleteRole(input)
    }

    func listRoleGrants(_ input: Operations.ListRoleGrants.Input) async throws -> Operations.ListRoleGrants.Output {
        try await adminUsers.listRoleGrants(input)
    }

    func grantRole(_ input: Operations.GrantRole.Input) async throws -> Operations.GrantRole.Output {
        try await adminUsers.grantRole(input)
    }

    func revokeRoleGrant(_ input: Operations.RevokeRoleGrant.Input) async throws -> Operations.RevokeRoleGrant.Output {
        try await adminUsers.revokeRoleGrant(input)
    }
}

extension Components.Schemas.Role {
    init(_ role: AdminRoleRecord) {
        self.init(
            id: role.id.lowercasedString, name: role.name, description: role.description,
            scopes: role.scopes.compactMap { .init(rawValue: $0.rawValue) }, builtin: role.builtin, created: role.created)
    }
}

extension Components.Schemas.RoleGrant {
    init(_ grant: RoleGrantRecord) {
        var user: String?
        var group: GroupPayload?
        switch grant.holder {
        case .user(let id): user = id.lowercasedString
        case .group(let tenant, let id): group = .init(tenantId: tenant.lowercasedString, id: id.lowercasedString)
        }
        self.init(
            id: grant.id.lowercasedString, role: grant.role, userId: user, group: group, tenantId: grant.tenant?.lowercasedString,
            created: grant.created)
    }
}
