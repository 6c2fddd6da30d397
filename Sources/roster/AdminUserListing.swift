import Foundation
import RosterServer
import RosterStore

/// `roster admin-user list`: each user with the roles granted to them, as a table or as JSON.
struct AdminUserListing: Sendable {
    struct Role: Encodable, Sendable {
        var role: String
        /// The tenant's name; absent for a role held on every tenant.
        var tenant: String?
    }

    /// One user, named as the admin API names its fields.
    struct User: Encodable, Sendable {
        var id: String
        var email: String
        var displayName: String?
        var hasPassword: Bool
        var created: Date
        var lastLogin: Date?
        var disabled: Bool
        var disabledAt: Date?
        var roles: [Role]

        enum CodingKeys: String, CodingKey {
            case id, email, created, disabled, roles
            case displayName = "display_name", hasPassword = "has_password", lastLogin = "last_login", disabledAt = "disabled_at"
        }
    }

    var users: [User]

    static func read(_ db: RosterDatabase) async throws -> AdminUserListing {
        async let users = AdminUsers(database: db).list()
        async let grants = AdminRoles(database: db).grants()
        async let tenants = TenantRepository(database: db).list()
        let names = Dictionary(uniqueKeysWithValues: try await tenants.map { ($0.id, $0.name) })
        var roles: [UUID: [Role]] = [:]
        for grant in try await grants {
            guard case .user(let user) = grant.holder else { continue }
            roles[user, default: []].append(Role(role: grant.role, tenant: grant.tenant.map { names[$0] ?? $0.uuidString.lowercased() }))
        }
        return AdminUserListing(users: try await users.map { user in
            User(
                id: user.id.uuidString.lowercased(), email: user.email, displayName: user.displayName, hasPassword: user.hasPassword,
                created: user.created, lastLogin: user.lastLogin, disabled: user.disabled != nil, disabledAt: user.disabled,
                roles: roles[user.id] ?? [])
        })
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(users), as: UTF8.self)
    }

    /// A header and one line per user, in aligned columns.
    func table() -> [String] {
        let rows = [["ID", "EMAIL", "STATE", "SIGN-IN", "ROLES", "NAME"]] + users.map { user in
            let roles = user.roles.map { $0.role + ($0.tenant.map { "@" + $0 } ?? "") }.joined(separator: ",")
            return [user.id, user.email, user.disabled ? "disabled" : "active", user.hasPassword ? "password" : "oidc",
                    roles.isEmpty ? "-" : roles, user.displayName ?? ""]
        }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
    }
}
