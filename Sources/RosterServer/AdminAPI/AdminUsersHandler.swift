import Foundation
import RosterAuth
import RosterStore

/// `/api/v1/admin/users`: people who administer Roster. Managing them needs `admin-users` globally:
/// whoever manages admins can make themselves one, so it is never a tenant's right. Roles and grants are in
/// AdminUsersHandler+Roles.swift (the same tag).
struct AdminUsersHandler: Sendable {
    /// For the tenant a role is granted on.
    let tenants: TenantRepository
    /// For the group a role is granted to.
    let groups: GroupRepository
    let identity: AdminIdentity

    func listAdminUsers(_ input: Operations.ListAdminUsers.Input) async throws -> Operations.ListAdminUsers.Output {
        _ = try AuthenticatedAdmin.requireGlobal(.adminUsers)
        let after = try AdminPaging.position(input.query.cursor) { CreatedPosition(cursor: $0, .adminUsers) }
        let page = try await identity.users.page(after: after, limit: try AdminPaging.limit(input.query.limit))
        return .ok(.init(body: .json(.init(data: page.items.map(Components.Schemas.AdminUser.init), nextCursor: page.next?.cursor(.adminUsers)))))
    }

    func createAdminUser(_ input: Operations.CreateAdminUser.Input) async throws -> Operations.CreateAdminUser.Output {
        let principal = try AuthenticatedAdmin.requireGlobal(.adminUsers)
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        let email = try Self.validEmail(body.email)
        let displayName = try body.displayName.map { try AdminInput.validName($0, example: "Ada Lovelace") }
        let roles = try await (body.roles ?? []).asyncMap { name in
            // A role named in the body that does not exist is a bad body, not a missing route.
            guard name.count <= 64, try await identity.roles.find(name) != nil else {
                throw AdminError.invalidRequest("'roles' names the unknown role '\(name.prefix(64))'; see GET /api/v1/admin/roles.")
            }
            return try await grantableRole(name, by: principal, on: nil)
        }
        let hash: String? = if let password = body.password { try await identity.hash(password) } else { nil }
        // One statement: the user never exists without the roles asked for.
        let user = try await identity.users.create(
            email: email, displayName: displayName, passwordHash: hash, roles: roles, by: AuthenticatedAdmin.auditContext())
        return .created(.init(body: .json(.init(user))))
    }

    func getAdminUser(_ input: Operations.GetAdminUser.Input) async throws -> Operations.GetAdminUser.Output {
        _ = try AuthenticatedAdmin.requireGlobal(.adminUsers)
        guard let id = UUID(uuidString: input.path.id), let user = try await identity.users.get(id: id) else { throw Self.noSuchUser }
        return .ok(.init(body: .json(.init(user))))
    }

    func updateAdminUser(_ input: Operations.UpdateAdminUser.Input) async throws -> Operations.UpdateAdminUser.Output {
        let principal = try AuthenticatedAdmin.requireGlobal(.adminUsers)
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        guard let id = UUID(uuidString: input.path.id) else { throw Self.noSuchUser }
        // Changing one's own password through a session keeps that session; every other one ends.
        let keeping = principal.identity == .user(id) ? principal.session : nil
        var change = AdminUserChange(disabled: body.disabled)
        if let name = body.displayName { change.displayName = .some(try AdminInput.validName(name, example: "Ada Lovelace")) }
        if let password = body.password { change.passwordHash = .some(try await identity.hash(password)) }
        guard let user = try await identity.users.update(id: id, change, keeping: keeping, by: AuthenticatedAdmin.auditContext()) else { throw Self.noSuchUser }
        identity.cache.invalidate()
        return .ok(.init(body: .json(.init(user))))
    }

    func deleteAdminUser(_ input: Operations.DeleteAdminUser.Input) async throws -> Operations.DeleteAdminUser.Output {
        let principal = try AuthenticatedAdmin.requireGlobal(.adminUsers)
        guard let id = UUID(uuidString: input.path.id) else { throw Self.noSuchUser }
        if principal.owner == id { throw AdminError.invalidRequest("You cannot delete yourself; another admin can.") }
        guard try await identity.users.delete(id: id, by: AuthenticatedAdmin.auditContext()) else { throw Self.noSuchUser }
        identity.cache.invalidate()
        return .noContent(.init())
    }

    static func validEmail(_ email: String) throws -> String {
        guard let valid = AdminUsers.validEmail(email) else {
            throw AdminError.invalidRequest("'email' must be an address, e.g. \"ada@example.com\".")
        }
        return valid
    }

    private static var noSuchUser: AdminError { .notFound("No such admin user.") }
}

extension AdminAPI {
    func listAdminUsers(_ input: Operations.ListAdminUsers.Input) async throws -> Operations.ListAdminUsers.Output {
        try await adminUsers.listAdminUsers(input)
    }

    func createAdminUser(_ input: Operations.CreateAdminUser.Input) async throws -> Operations.CreateAdminUser.Output {
        try await adminUsers.createAdminUser(input)
    }

    func getAdminUser(_ input: Operations.GetAdminUser.Input) async throws -> Operations.GetAdminUser.Output {
        try await adminUsers.getAdminUser(input)
    }

    func updateAdminUser(_ input: Operations.UpdateAdminUser.Input) async throws -> Operations.UpdateAdminUser.Output {
        try await adminUsers.updateAdminUser(input)
    }

    func deleteAdminUser(_ input: Operations.DeleteAdminUser.Input) async throws -> Operations.DeleteAdminUser.Output {
        try await adminUsers.deleteAdminUser(input)
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

extension Components.Schemas.AdminUser {
    init(_ user: AdminUserRecord) {
        self.init(
            id: user.id.lowercasedString, email: user.email, displayName: user.displayName, hasPassword: user.hasPassword,
            created: user.created, lastLogin: user.lastLogin, disabled: user.disabled != nil, disabledAt: user.disabled)
    }
}
