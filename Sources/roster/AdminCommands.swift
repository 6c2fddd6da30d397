import ArgumentParser
import Foundation
import Logging
import RosterAuth
import RosterServer
import RosterStore

struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Manage tenants.", subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Tenant name: lowercase letters, digits and '-'.") var name: String

        func run() async throws {
            guard TenantRepository.isValidName(name) else {
                throw ValidationError("Tenant names use lowercase letters, digits and '-', at most 63 characters.")
            }
            let tenant = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                try await TenantRepository(database: db).create(name: name, by: .system)
            }
            say("Created tenant \(tenant.name) (\(tenant.id.uuidString.lowercased())).")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let tenants = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                try await TenantRepository(database: db).list()
            }
            for tenant in tenants { say("\(tenant.id.uuidString.lowercased())  \(tenant.name)") }
        }
    }
}

/// Resolves `--tenant` (name or id; `default` when omitted) inside a database session.
func resolveTenant(_ reference: String, _ db: RosterDatabase) async throws -> Tenant {
    guard let tenant = try await TenantRepository(database: db).find(reference) else {
        throw CLIFailure("No tenant '\(reference)'. List them with `roster tenant list`.")
    }
    return tenant
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Manage SCIM bearer tokens.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a SCIM token; its secret is printed once.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Tenant name or id.") var tenant = TenantRepository.defaultName
        @Option(help: "What the token is for, e.g. \"Entra ID production\".") var name: String
        @Option(name: .customLong("expires-in-days"), help: "Days until the token expires (default: never).") var expiresInDays: Int?

        func run() async throws {
            if let days = expiresInDays, days < 1 { throw ValidationError("--expires-in-days must be at least 1.") }
            let expires = expiresInDays.map { Date().addingTimeInterval(Double($0) * 86_400) }
            let (tenantName, secret) = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                let tenant = try await resolveTenant(tenant, db)
                let (_, secret) = try await ScimTokenRepository(database: db).create(tenant: tenant.id, name: name, expires: expires, by: .system)
                return (tenant.name, secret)
            }
            say("SCIM token for tenant \(tenantName) (shown once; store it now):")
            say(secret.reveal())
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's SCIM tokens (never their secrets).")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Tenant name or id.") var tenant = TenantRepository.defaultName

        func run() async throws {
            let tokens = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                try await ScimTokenRepository(database: db).list(tenant: resolveTenant(tenant, db).id)
            }
            for token in tokens {
                let state = token.revoked != nil ? "revoked" : (token.expires.map { $0 < Date() } == true ? "expired" : "active")
                say("\(token.id.uuidString.lowercased())  \(token.prefix)…  \(state)  \(token.name)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a SCIM token; its next request gets 401.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Tenant name or id.") var tenant = TenantRepository.defaultName
        @Argument(help: "Token id (from `roster token list`).") var id: String

        func run() async throws {
            guard let tokenID = UUID(uuidString: id) else { throw ValidationError("'\(id)' is not a token id.") }
            let revoked = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                try await ScimTokenRepository(database: db).revoke(tenant: resolveTenant(tenant, db).id, id: tokenID, by: .system)
            }
            guard revoked != nil else { throw CLIFailure("No token \(id) in tenant \(tenant).") }
            say("Revoked token \(id).")
        }
    }
}

struct AdminKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin-key", abstract: "Manage admin API keys.", subcommands: [Create.self, List.self, Revoke.self, Generate.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an admin API key; its secret is printed once.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "What the key is for.") var name: String
        @Option(help: "Bind the key to one tenant (name or id); omit for a global key.") var tenant: String?
        @Option(
            name: [.customLong("scopes"), .customLong("scope")],
            help: "Scopes, comma-separated or repeated: \(AdminScope.allCases.map(\.rawValue).joined(separator: ", ")) (default *).")
        var scopes: [String] = []
        @Option(help: "When the key stops working: \(Expiry.help). Default: never.") var expires: String?
        @Option(help: "The admin user (email or id) who owns the key: its scopes must be within their roles, and it stops working when they are disabled.")
        var owner: String?

        func validate() throws {
            _ = try AdminScope.parse(scopes)
            _ = try expires.map { try Expiry.parse($0) }
        }

        func run() async throws {
            let parsed = try AdminScope.parse(scopes)
            let expiry = try expires.map { try Expiry.parse($0) }
            // Only an owned key needs the directory setting roles are resolved with.
            let match = try owner.map { _ in try environmentSettings().identity.directoryMatch } ?? .userName
            let (record, secret, ownerEmail) = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                var tenantID: UUID?
                if let tenant { tenantID = try await resolveTenant(tenant, db).id }
                var ownerRecord: AdminUserRecord?
                if let owner {
                    let user = try await findAdminUser(owner, db)
                    try await requireRights(of: user, for: parsed, on: tenantID, tenantName: tenant, match: match, db)
                    ownerRecord = user
                }
                let (record, secret) = try await AdminKeyRepository(database: db).create(
                    name: name, tenant: tenantID, scopes: parsed, expires: expiry, owner: ownerRecord?.id, by: .system)
                return (record, secret, ownerRecord?.email)
            }
            var about = "Admin API key \(record.id.uuidString.lowercased())"
            if let ownerEmail { about += ", owned by \(ownerEmail)" }
            about += record.expires.map { ", expires \($0.formatted(.iso8601))" } ?? ", never expires"
            say(about + " (shown once; store it now):")
            say(secret.reveal())
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List admin API keys (never their secrets).")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let (keys, users) = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                try await (AdminKeyRepository(database: db).list(), AdminUsers(database: db).list())
            }
            let emails = Dictionary(uniqueKeysWithValues: users.map { ($0.id, $0.email) })
            for key in keys {
                let scope = key.tenantID.map { "tenant \($0.uuidString.lowercased())" } ?? "global"
                let state = key.revoked != nil ? "revoked" : (key.expires.map { $0 <= Date() } == true ? "expired" : "active")
                var line = "\(key.id.uuidString.lowercased())  \(key.prefix)…  \(state)  \(scope)  [\(key.scopes.map(\.rawValue).joined(separator: ","))]"
                if let expires = key.expires { line += "  expires \(expires.formatted(.iso8601))" }
                if let owner = key.owner { line += "  owner \(emails[owner] ?? owner.uuidString.lowercased())" }
                say(line + "  \(key.name)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an admin API key.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Key id (from `roster admin-key list`).") var id: String

        func run() async throws {
            guard let keyID = UUID(uuidString: id) else { throw ValidationError("'\(id)' is not a key id.") }
            let revoked = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                try await AdminKeyRepository(database: db).revoke(id: keyID, by: .system)
            }
            guard revoked != nil else { throw CLIFailure("No admin key \(id).") }
            say("Revoked admin key \(id).")
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a new random key for ROSTER_ADMIN_KEY (nothing is stored).")

        func run() {
            say(Secret.generate(.adminKey).reveal())
        }
    }
}
