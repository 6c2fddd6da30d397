import Foundation
import RosterAuth
import RosterStore

/// What the admin API needs to manage admin users, roles and sessions.
struct AdminIdentity: Sendable {
    let users: AdminUsers
    let roles: AdminRoles
    let sessions: AdminSessions
    let passwords: PasswordHasher
    /// The process-wide cap on password checks running at once.
    let passwordChecks: PasswordCheckGate
    let attempts: LoginAttempts
    let authenticator: AdminAuthenticator
    let configuration: AdminIdentityConfiguration

    var cache: GrantCache { authenticator.cache }
    var tokens: AccessTokenAuthority { authenticator.tokens }

    init(database: RosterDatabase, authenticator: AdminAuthenticator, configuration: AdminIdentityConfiguration) {
        users = AdminUsers(database: database)
        roles = AdminRoles(database: database)
        sessions = AdminSessions(database: database)
        passwords = PasswordHasher(cost: configuration.passwordCost, verifier: configuration.passwordVerifier)
        passwordChecks = PasswordCheckGate(limit: configuration.concurrentPasswordChecks)
        attempts = LoginAttempts(database: database)
        self.authenticator = authenticator
        self.configuration = configuration
    }

    /// A new password's bcrypt hash, once it is long enough and not too long.
    func hash(_ password: String) async throws -> String {
        if let problem = PasswordHasher.problem(with: password) { throw AdminError.invalidRequest(problem) }
        return await passwords.hash(password)
    }
}
