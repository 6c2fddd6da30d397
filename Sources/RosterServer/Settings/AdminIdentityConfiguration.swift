import Configuration
import Foundation
public import RosterAuth
import RosterStore

/// How admins sign in: session lifetimes, password hashing, login throttling, directory roles.
public struct AdminIdentityConfiguration: Sendable {
    /// The `aud` of Roster's own access tokens.
    public static let accessTokenAudience = "roster-admin"
    /// An access JWT's lifetime (`ROSTER_ACCESS_TOKEN_SECONDS`, 3600).
    public var accessTokenLifetime: Duration = .seconds(3600)
    /// A refresh token's lifetime from its issue (`ROSTER_REFRESH_TOKEN_SECONDS`, 86400).
    public var refreshTokenLifetime: Duration = .seconds(86_400)
    /// bcrypt's cost for admin passwords (`ROSTER_PASSWORD_BCRYPT_COST`, 12).
    public var passwordCost: UInt8 = PasswordHasher.defaultCost
    /// Which SCIM user attribute an admin user's email matches, for roles granted to groups
    /// (`ROSTER_ADMIN_DIRECTORY_MATCH`: userName, emails or externalId).
    public var directoryMatch: DirectoryMatch.Attribute = .userName
    /// How long resolved rights are reused before the database is asked again (`ROSTER_ADMIN_GRANT_CACHE_SECONDS`, 10).
    public var grantCacheLifetime: Duration = .seconds(10)
    /// Failed logins allowed per account, and per client address, within `loginWindow`, before 429.
    public var loginFailuresPerAccount = 5
    public var loginFailuresPerAddress = 20
    public var loginWindow: Duration = .seconds(900)
    /// Password checks running at once in this process; past it a sign-in is 429 (`ROSTER_PASSWORD_CHECKS_MAX`, twice the cores).
    public var concurrentPasswordChecks = max(2, 2 * ProcessInfo.processInfo.activeProcessorCount)
    /// How a password is checked against its stored hash: bcrypt (a test may wrap it to count or slow it).
    public var passwordVerifier: PasswordHasher.Verifier = PasswordHasher.bcrypt
    /// Identity providers whose access tokens the admin API accepts (`ROSTER_OIDC_ISSUERS`: a JSON array).
    public var trustedIssuers: [TrustedIssuer] = []
    /// Lets a trusted issuer's JWKS be fetched over plain http from a loopback host (`roster dev`, tests).
    public var allowInsecureLoopbackJWKS = false

    public init() {}

    init(reader config: ConfigReader) throws(RosterConfiguration.Invalid) {
        typealias Invalid = RosterConfiguration.Invalid
        if let seconds = config.int(forKey: "access.token.seconds") {
            guard (60...86_400).contains(seconds) else { throw Invalid(description: "ROSTER_ACCESS_TOKEN_SECONDS must be 60…86400.") }
            accessTokenLifetime = .seconds(seconds)
        }
        if let seconds = config.int(forKey: "refresh.token.seconds") {
            guard (300...(90 * 86_400)).contains(seconds) else {
                throw Invalid(description: "ROSTER_REFRESH_TOKEN_SECONDS must be 300…7776000 (90 days).")
            }
            refreshTokenLifetime = .seconds(seconds)
        }
        if let cost = config.int(forKey: "password.bcrypt.cost") {
            guard (4...16).contains(cost) else { throw Invalid(description: "ROSTER_PASSWORD_BCRYPT_COST must be 4…16 (12 by default).") }
            passwordCost = UInt8(cost)
        }
        if let checks = config.int(forKey: "password.checks.max") {
            guard (1...1024).contains(checks) else { throw Invalid(description: "ROSTER_PASSWORD_CHECKS_MAX must be 1…1024 (twice the cores by default).") }
            concurrentPasswordChecks = checks
        }
        if let text = config.string(forKey: "admin.directory.match") {
            guard let attribute = DirectoryMatch.Attribute(rawValue: text) else {
                throw Invalid(description: "ROSTER_ADMIN_DIRECTORY_MATCH must be userName, emails or externalId.")
            }
            directoryMatch = attribute
        }
        if let seconds = config.int(forKey: "admin.grant.cache.seconds") {
            guard (0...300).contains(seconds) else { throw Invalid(description: "ROSTER_ADMIN_GRANT_CACHE_SECONDS must be 0…300.") }
            grantCacheLifetime = .seconds(seconds)
        }
        if let text = config.string(forKey: "oidc.issuers"), !text.isEmpty {
            do {
                trustedIssuers = try JSONDecoder().decode([TrustedIssuer].self, from: Data(text.utf8))
            } catch {
                throw Invalid(description: "ROSTER_OIDC_ISSUERS must be a JSON array of trusted issuers (see docs/admin-api/admin-users.md): \(error)")
            }
        }
        do {
            _ = try oidcVerifier()
        } catch {
            throw Invalid(description: "\(error)")
        }
    }

    /// The verifier of the trusted issuers' tokens; nil when there are none.
    func oidcVerifier() throws -> OIDCVerifier? {
        trustedIssuers.isEmpty ? nil : try OIDCVerifier(issuers: trustedIssuers, allowInsecureLoopback: allowInsecureLoopbackJWKS)
    }
}
