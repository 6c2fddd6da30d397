import Foundation
import RosterAuth
import RosterStore

/// The first-owner bootstrap: an admin user holding `owner` on a fresh install, and nothing once any admin
/// user exists, so it is safe to run at every container start (`roster admin-user bootstrap`, `roster serve`).
struct FirstOwner: Sendable {
    static let emailVariable = "ROSTER_BOOTSTRAP_OWNER_EMAIL"
    static let nameVariable = "ROSTER_BOOTSTRAP_OWNER_NAME"
    static let passwordVariable = "ROSTER_BOOTSTRAP_OWNER_PASSWORD"
    static let passwordFileVariable = "ROSTER_BOOTSTRAP_OWNER_PASSWORD_FILE"

    var email: String
    var displayName: String?
    /// Read only when the owner is about to be created: once one exists, the password may be removed.
    var password: @Sendable () throws -> String

    enum Outcome: Equatable {
        case created(AdminUserRecord)
        /// An admin user existed already (or another process created the owner first).
        case alreadySetUp
    }

    init(email: String, displayName: String?, password: @escaping @Sendable () throws -> String) throws {
        guard let valid = AdminUsers.validEmail(email) else { throw CLIFailure("'\(email)' is not an email address, e.g. ada@example.com.") }
        self.email = valid
        self.displayName = try displayName.map(validDisplayName)
        self.password = password
    }

    /// From `ROSTER_BOOTSTRAP_OWNER_*`; nil when no email is set (nothing to bootstrap).
    static func fromEnvironment() throws -> FirstOwner? {
        guard let email = variable(emailVariable) else { return nil }
        return try FirstOwner(email: email, displayName: variable(nameVariable), password: passwordFromEnvironment)
    }

    /// A variable's value; nil when it is unset or empty (compose's `${VAR:-}` sets it empty).
    static func variable(_ name: String) -> String? {
        CommandIO.current.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `ROSTER_BOOTSTRAP_OWNER_PASSWORD`, or the file `ROSTER_BOOTSTRAP_OWNER_PASSWORD_FILE` names (a compose secret).
    @Sendable static func passwordFromEnvironment() throws -> String {
        let environment = CommandIO.current.environment
        if let path = environment[passwordFileVariable], !path.isEmpty { return try PasswordSource.file(path).read() }
        if environment[passwordVariable]?.isEmpty == false { return try PasswordSource.environment(passwordVariable).read() }
        throw CLIFailure("Creating the first owner needs a password: set \(passwordVariable) or \(passwordFileVariable), or pass --password-stdin.")
    }

    func run(on database: RosterDatabase, passwordCost: UInt8) async throws -> Outcome {
        let users = AdminUsers(database: database)
        guard try await users.isEmpty() else { return .alreadySetUp }
        let hash = await PasswordHasher(cost: passwordCost).hash(try password())
        guard let owner = try await users.createFirstOwner(email: email, displayName: displayName, passwordHash: hash, by: .system) else {
            return .alreadySetUp
        }
        return .created(owner)
    }
}

/// An admin user's display name: not blank, at most 200 characters, no control or invisible characters.
func validDisplayName(_ name: String) throws -> String {
    guard !name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, name.count <= 200,
        name.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) })
    else {
        throw CLIFailure("A name is 1 to 200 characters without control characters, e.g. \"Ada Lovelace\".")
    }
    return name
}
