import ArgumentParser
import Foundation
import Logging
import RosterAuth
import RosterServer
import RosterStore

struct AdminUserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin-user", abstract: "Manage admin users: the people who administer Roster.",
        discussion: passwordNote,
        subcommands: [Create.self, List.self, Disable.self, Enable.self, SetPassword.self, Bootstrap.self])

    static let passwordNote = """
        Passwords are read from standard input (--password-stdin), an environment variable (--password-env VAR) or a \
        file (--password-file PATH), never from a flag's own value: that would stay in shell history and show in `ps`.
        """

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an admin user, with roles held on every tenant and optionally a password.", discussion: passwordNote)
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Their email, which they sign in with.") var email: String
        @Option(help: "Their display name.") var name: String?
        @Option(name: .customLong("role"), help: "A role they hold on every tenant: owner, admin, auditor, viewer or a custom role (repeatable).")
        var roles: [String] = []
        @OptionGroup var password: PasswordOptions

        func run() async throws {
            guard let email = AdminUsers.validEmail(email) else { throw CLIFailure("'\(email)' is not an email address, e.g. ada@example.com.") }
            let displayName = try name.map(validDisplayName)
            let cost = try environmentSettings().identity.passwordCost
            let (source, roles) = (password.source, roles)
            let (user, granted) = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                let granted = try await resolveRoles(roles, db)
                let users = AdminUsers(database: db)
                if try await users.find(email: email) != nil { throw emailTaken(email) }
                let hash: String? = if let source { await PasswordHasher(cost: cost).hash(try source.read()) } else { nil }
                do {
                    return (try await users.create(email: email, displayName: displayName, passwordHash: hash, roles: granted, by: .system), granted)
                } catch StoreError.uniqueness {
                    throw emailTaken(email)
                }
            }
            let held = granted.isEmpty ? "no role" : "the role(s) " + granted.map(\.name).joined(separator: ", ")
            say("Created admin user \(user.email) (\(user.id.uuidString.lowercased())) with \(held).")
            if !user.hasPassword {
                say("They have no password: they sign in through a trusted OIDC issuer, or once `roster admin-user set-password` gives them one.")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List admin users with the roles granted to them (roles their SCIM groups hold are not shown); never a password.")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "Print a JSON array instead of a table.") var json = false

        func run() async throws {
            let listing = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                try await AdminUserListing.read(db)
            }
            if json { return say(try listing.json()) }
            if listing.users.isEmpty { return say("No admin users yet; `roster admin-user bootstrap` creates the first owner.") }
            for line in listing.table() { say(line) }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable an admin user: they can no longer sign in, and their sessions and the keys they own stop working.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Their email or id.") var user: String

        func run() async throws { try await setDisabled(true, user: user, database: database) }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled admin user again.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Their email or id.") var user: String

        func run() async throws { try await setDisabled(false, user: user, database: database) }
    }

    struct SetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-password", abstract: "Give an admin user a new password, e.g. when the only owner has lost theirs.",
            discussion: passwordNote)
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Their email or id.") var user: String
        @OptionGroup var password: PasswordOptions

        func validate() throws {
            guard password.source != nil else { throw ValidationError("Give the password with --password-stdin, --password-env VAR or --password-file PATH.") }
        }

        func run() async throws {
            let cost = try environmentSettings().identity.passwordCost
            let (reference, source) = (user, password.source ?? .standardInput)
            let updated = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
                let user = try await findAdminUser(reference, db)
                let hash = await PasswordHasher(cost: cost).hash(try source.read())
                return try await AdminUsers(database: db).update(id: user.id, AdminUserChange(passwordHash: .some(hash)), by: .system)
            }
            guard let updated else { throw noAdminUser(user) }
            say("Set a new password for \(updated.email).")
        }
    }

    struct Bootstrap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the first admin user, an owner, on a fresh install; once any admin user exists, do nothing and exit 0.",
            discussion: """
                Safe in a container entrypoint: it applies pending migrations, then creates the owner only when there is no admin \
                user, atomically (replicas starting together create one owner). Without flags it reads \(FirstOwner.emailVariable), \
                \(FirstOwner.nameVariable) and \(FirstOwner.passwordVariable) (or \(FirstOwner.passwordFileVariable)); the \
                password is read only when the owner is created. `roster serve` does the same at start when \
                \(FirstOwner.emailVariable) is set.

                \(passwordNote)
                """)
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The owner's email (env \(FirstOwner.emailVariable)).") var email: String?
        @Option(help: "The owner's display name (env \(FirstOwner.nameVariable)).") var name: String?
        @OptionGroup var password: PasswordOptions

        func run() async throws {
            guard let email = email ?? FirstOwner.variable(FirstOwner.emailVariable) else {
                throw CLIFailure("Name the owner with --email or \(FirstOwner.emailVariable).")
            }
            let source = password.source
            let owner = try FirstOwner(email: email, displayName: name ?? FirstOwner.variable(FirstOwner.nameVariable)) {
                try source?.read() ?? FirstOwner.passwordFromEnvironment()
            }
            let cost = try environmentSettings().identity.passwordCost
            let (url, logger) = (try database.url(), makeLogger(level: .warning))
            _ = try await migrateDatabase(url: url, logger: logger)
            switch try await withDatabase(url: url, logger: logger, { try await owner.run(on: $0, passwordCost: cost) }) {
            case .created(let user):
                say("Created the first admin user, \(user.email) (\(user.id.uuidString.lowercased())), with the owner role.")
            case .alreadySetUp:
                say("An admin user exists already: the bootstrap did nothing.")
            }
        }
    }
}

/// An admin user by id or email.
func findAdminUser(_ reference: String, _ db: RosterDatabase) async throws -> AdminUserRecord {
    let users = AdminUsers(database: db)
    let found = if let id = UUID(uuidString: reference) { try await users.get(id: id) } else { try await users.find(email: reference) }
    guard let found else { throw noAdminUser(reference) }
    return found
}

/// The roles `--role` names, each once; an unknown one is an error listing those there are.
func resolveRoles(_ names: [String], _ db: RosterDatabase) async throws -> [AdminRoleRecord] {
    let roles = AdminRoles(database: db)
    var found: [AdminRoleRecord] = []
    for name in names {
        guard name.count <= 64, let role = try await roles.find(name) else {
            let known = try await roles.list().map(\.name).joined(separator: ", ")
            throw CLIFailure("No role '\(name)'; the roles are \(known).")
        }
        if !found.contains(role) { found.append(role) }
    }
    return found
}

private func setDisabled(_ disabled: Bool, user reference: String, database: DatabaseOptions) async throws {
    let (user, changed) = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning)) { db in
        let user = try await findAdminUser(reference, db)
        guard (user.disabled != nil) != disabled else { return (user, false) }
        guard let updated = try await AdminUsers(database: db).update(id: user.id, AdminUserChange(disabled: disabled), by: .system) else {
            throw noAdminUser(reference)
        }
        return (updated, true)
    }
    switch (disabled, changed) {
    case (true, true): say("Disabled \(user.email): they can no longer sign in, and their sessions and keys stop working.")
    case (false, true): say("Enabled \(user.email) again.")
    case (true, false): say("\(user.email) was disabled already.")
    case (false, false): say("\(user.email) is not disabled.")
    }
}

private func noAdminUser(_ reference: String) -> CLIFailure {
    CLIFailure("No admin user '\(reference)'. List them with `roster admin-user list`.")
}

private func emailTaken(_ email: String) -> CLIFailure {
    CLIFailure("An admin user with the email \(email) exists already.")
}
