import Foundation
import RosterAuth
import RosterStore
import SCIM
import Synchronization

/// Rights resolved from the database, kept for a few seconds so a burst of requests by one identity costs
/// one resolution: a grant, a role or a SCIM membership change reaches every replica within `lifetime`.
final class GrantCache: Sendable {
    struct Key: Hashable {
        var identity: AdminPrincipal.Identity
        /// A session's access token: the session must still be live.
        var session: UUID? = nil
        var activeGroup: String?
    }

    private struct Entry {
        var outcome: RoleResolution.Outcome?
        var expires: ContinuousClock.Instant
    }

    let lifetime: Duration
    private let entries = Mutex<[Key: Entry]>([:])
    private static let capacity = 10_000

    init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    /// The cached outcome, or the resolved one (cached); nil outcome means "no such live identity".
    func outcome(for key: Key, resolve: () async throws -> RoleResolution.Outcome?) async throws -> RoleResolution.Outcome? {
        let now = ContinuousClock.now
        if lifetime > .zero, let entry = entries.withLock({ $0[key] }), entry.expires > now { return entry.outcome }
        let outcome = try await resolve()
        guard lifetime > .zero else { return outcome }
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries = entries.filter { $0.value.expires > now } }
            if entries.count < Self.capacity { entries[key] = Entry(outcome: outcome, expires: now + lifetime) }
        }
        return outcome
    }

    /// Forgets everything: this process just changed a user, role, grant or session.
    func invalidate() {
        entries.withLock { $0.removeAll() }
    }
}

/// Turns the credential an admin request presents into its principal: the bootstrap key, an admin key
/// (bounded by its owner's rights), or a session's access token; the active group narrows a user's roles.
struct AdminAuthenticator: Sendable {
    let keys: AdminKeyRepository
    let roles: RoleResolution
    let sessions: AdminSessions
    let bootstrapKey: BootstrapAdminKey?
    /// Which SCIM user attribute an admin user's email matches, for roles granted to groups.
    let directoryMatch: DirectoryMatch.Attribute
    let cache: GrantCache
    /// Roster's own access tokens.
    let tokens: AccessTokenAuthority
    /// Trusted issuers' access tokens: the runtime settings' verifier, read per request so a PUT /api/v1/config applies without a restart.
    let settings: RuntimeSettingsHolder
    /// Where a subject's resolved rights are kept for the keys it makes.
    let oidcRights: OIDCRightsRepository

    /// A refused credential: the error the client sees and the reason metrics count.
    struct Rejection: Error {
        var error: AdminError
        var reason: String
    }

    static let required = "An admin credential is required: send 'X-Admin-API-Key: radm_…' or 'Authorization: Bearer <admin key or access token>'."
    static let invalidKey = Rejection(error: .unauthorized("The admin API key is invalid, expired or revoked."), reason: "invalid")

    func principal(presented: String?, authorizationSent: Bool, activeGroup: String?) async throws -> AdminPrincipal {
        guard let presented else {
            throw Rejection(error: .unauthorized(Self.required), reason: authorizationSent ? "malformed" : "missing")
        }
        if let issuer = UnverifiedJWT.issuer(of: presented) {
            return try await principal(jwt: presented, issuer: issuer, activeGroup: activeGroup)
        }
        if presented.hasPrefix("eyJ") {
            throw Rejection(error: .unauthorized("The access token is malformed or names no issuer."), reason: "invalid_token")
        }
        if let bootstrapKey, bootstrapKey.matches(presented) {
            try refuseActiveGroup(activeGroup, for: "the bootstrap key")
            return AdminPrincipal(keyID: nil, tenantID: nil, scopes: [.all])
        }
        let secret = Secret(presented: presented)
        switch secret?.kind {
        case .scimToken:
            throw Rejection(
                error: .unauthorized(
                    "A SCIM token was sent to the admin API. /api/v1 expects an admin API key (radm_…) in 'X-Admin-API-Key' or 'Authorization: Bearer', or an access token."),
                reason: "wrong_credential_type")
        case .refreshToken:
            throw Rejection(
                error: .unauthorized("A refresh token was sent as a credential: exchange it at POST /api/v1/auth/refresh for an access token."),
                reason: "wrong_credential_type")
        case .adminKey:
            guard let secret, let key = try await keys.authenticate(secret) else {
                let reason = if let secret { (try? await keys.rejection(of: secret))?.rawValue ?? "unknown" } else { "malformed" }
                throw Rejection(error: Self.invalidKey.error, reason: reason)
            }
            return try await principal(for: key, session: nil, activeGroup: activeGroup)
        case nil:
            throw Rejection(error: Self.invalidKey.error, reason: "malformed")
        }
    }

    /// A session's access token (Roster's) or a trusted issuer's; neither costs a database round trip to verify.
    private func principal(jwt: String, issuer: String, activeGroup: String?) async throws -> AdminPrincipal {
        do {
            if issuer == tokens.issuer {
                return try await principal(session: try await tokens.verify(jwt), activeGroup: activeGroup)
            }
            guard let oidc = settings.oidc else { throw TokenError.unknownIssuer }
            return try await principal(oidc: try await oidc.verify(jwt), activeGroup: activeGroup)
        } catch let error as TokenError {
            throw Rejection(error: .unauthorized(error.description), reason: "invalid_token")
        }
    }

    private func principal(session claims: AccessTokenClaims, activeGroup: String?) async throws -> AdminPrincipal {
        let subject: AdminPrincipal.Identity =
            switch claims.subject {
            case .user(let id): .user(id)
            case .key(let id): .key(id)
            }
        let outcome = try await cache.outcome(for: .init(identity: subject, session: claims.sessionID, activeGroup: activeGroup)) {
            guard try await sessions.isActive(claims.sessionID) else { return nil }
            switch claims.subject {
            case .user(let id):
                return try await roles.resolve(adminUser: id, attribute: directoryMatch, activeGroup: activeGroup)
            case .key(let id):
                guard let key = try await keys.live(id: id) else { return nil }
                return .granted(try await principal(for: key, session: claims.sessionID, activeGroup: activeGroup).grants)
            }
        }
        var result = AdminPrincipal(identity: subject, session: claims.sessionID, grants: try Self.grants(outcome, activeGroup: activeGroup))
        if case .user(let id) = claims.subject { result.owner = id }
        return result
    }

    /// A trusted issuer's subject: the roles its claims map to, plus those of its directory user's groups, where
    /// the user is looked for only in the issuer's `directoryTenants` (none: no directory roles at all).
    private func principal(oidc token: VerifiedOIDCToken, activeGroup: String?) async throws -> AdminPrincipal {
        let identity = AdminPrincipal.Identity.oidc(token.issuer + " " + token.subject)
        let named = token.roleGrants.map { NamedRole(role: $0.role, tenant: $0.tenant?.description) }
        let match = token.user.flatMap { user in
            DirectoryMatch.Attribute(rawValue: user.attribute.rawValue).map { DirectoryMatch(attribute: $0, value: user.value) }
        }
        let tenants = token.user?.tenants.map(\.description) ?? []
        let outcome = try await cache.outcome(for: .init(identity: identity, activeGroup: activeGroup)) {
            let outcome = try await roles.resolve(user: nil, match: match, matchTenants: tenants, named: named, activeGroup: activeGroup)
            // The subject's keys act within its latest full rights, only while its latest token could still be used.
            if activeGroup == nil, case .granted(let grants) = outcome {
                let bound = min(token.expires, Date().addingTimeInterval(AdminSessions.seconds(tokens.lifetime)))
                try await oidcRights.record(OIDCRights(subject: token.issuer + " " + token.subject, grants: grants, validUntil: bound))
            }
            return outcome
        }
        return AdminPrincipal(identity: identity, grants: try Self.grants(outcome, activeGroup: activeGroup))
    }

    /// A key's principal: its own scopes, and no more than its owner holds now, nor any key it descends from
    /// (each bounded by its own owners in turn), nor the recorded rights of the OIDC subject that made one of them.
    func principal(for key: AuthenticatedKey, session: UUID?, activeGroup: String?) async throws -> AdminPrincipal {
        var principal = AdminPrincipal(identity: .key(key.id), session: session, grants: key.grants)
        principal.owner = key.owner
        if key.owner == nil { try refuseActiveGroup(activeGroup, for: "a key no admin user owns") }
        for link in [key] + key.ancestors {
            principal.grants = principal.grants.intersection(link.grants)
            if let owner = link.owner { principal.grants = principal.grants.intersection(try await grants(ofUser: owner, activeGroup: activeGroup)) }
            if let subject = link.ownerSubject { principal.grants = principal.grants.intersection(subject.grants) }
        }
        return principal
    }

    /// An admin user's current rights (their grants and their directory groups'), from the cache.
    func grants(ofUser user: UUID, activeGroup: String?) async throws -> AdminGrants {
        let outcome = try await cache.outcome(for: .init(identity: .user(user), activeGroup: activeGroup)) {
            try await roles.resolve(adminUser: user, attribute: directoryMatch, activeGroup: activeGroup)
        }
        return try Self.grants(outcome, activeGroup: activeGroup)
    }

    static func grants(_ outcome: RoleResolution.Outcome?, activeGroup: String?) throws -> AdminGrants {
        switch outcome {
        case .granted(let grants): return grants
        case .notAMember:
            throw Rejection(
                error: .forbidden("You are not a member of the active group '\(activeGroup ?? "")' (X-Roster-Active-Group)."),
                reason: "not_a_member")
        case nil:
            throw Rejection(error: .unauthorized("This admin user is disabled or no longer exists."), reason: "disabled")
        }
    }

    private func refuseActiveGroup(_ activeGroup: String?, for credential: String) throws {
        guard activeGroup != nil else { return }
        throw Rejection(
            error: .invalidRequest("X-Roster-Active-Group applies to an admin user's credentials; \(credential) has no group memberships."),
            reason: "active_group")
    }
}

extension AdminPrincipal {
    /// The credential as log lines name it: an id, never a secret.
    var logName: String {
        switch identity {
        case .bootstrap: "bootstrap"
        case .key(let id): "key:" + id.uuidString.lowercased()
        case .user(let id): "user:" + id.uuidString.lowercased()
        case .oidc(let subject): "oidc:" + subject
        }
    }
}
