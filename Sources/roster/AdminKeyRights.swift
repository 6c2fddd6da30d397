import ArgumentParser
import Foundation
import RosterAuth
import RosterStore

extension AdminScope {
    /// `--scopes`: comma-separated, repeatable, each once; `*` when none are given.
    static func parse(_ values: [String]) throws -> [AdminScope] {
        let names = values.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if names.isEmpty && !values.isEmpty { throw ValidationError("--scopes names no scope.") }
        var scopes: [AdminScope] = []
        for name in names {
            guard let scope = AdminScope(rawValue: name) else {
                throw ValidationError("Unknown scope '\(name)'; use one of \(AdminScope.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            if !scopes.contains(scope) { scopes.append(scope) }
        }
        return scopes.isEmpty ? [.all] : scopes
    }
}

/// Refuses a key whose scopes its owner does not hold where it acts, resolved as the server resolves them
/// (their grants and their directory groups' roles), so a key never starts out wider than its owner.
func requireRights(
    of user: AdminUserRecord, for scopes: [AdminScope], on tenant: UUID?, tenantName: String?, match: DirectoryMatch.Attribute,
    _ db: RosterDatabase
) async throws {
    guard case .granted(let grants)? = try await RoleResolution(database: db).resolve(adminUser: user.id, attribute: match) else {
        throw CLIFailure("\(user.email) is disabled: a key they own would not work. `roster admin-user enable` enables them.")
    }
    if let missing = scopes.first(where: { !grants.allows($0, in: tenant) }) {
        let place = tenantName.map { "on tenant \($0)" } ?? "on every tenant"
        throw CLIFailure("\(user.email) does not hold the '\(missing.rawValue)' scope \(place) through their roles, so a key they own cannot have it.")
    }
}
