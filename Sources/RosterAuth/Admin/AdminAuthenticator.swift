public import Foundation

import Foundation

/// Turns the credential an admin request presents into its principal: the bootstrap key, an admin key
/// (bounded by its owner's rights), or a session's access token; the active group narrows a user's roles.
public struct AdminAuthenticator: Sendable {
    let keys: any AdminKeyLookup
    let roles: any RoleResolving
    let sessions: any SessionLiveness
    let bootstrapKey: BootstrapAdminKey?
    /// Which SCIM user attribute an admin user's email matches, for roles granted to groups.
    let directoryMatch: DirectoryMatch.Attribute
    public let cache: GrantCache
    /// Roster's own access tokens.
    public let tokens: AccessTokenAuthority
    /// Trusted issuers' access tokens: the runtime settings' verifier, read per request so a PUT /api/v1/config applies without a restart.
    let oidc: @Sendable () -> OIDCVerifier?
    /// Where a subject's resolved rights are kept for the keys it makes.
    let oidcRights: any OIDCRightsRecording

    public init(
        keys: any AdminKeyLookup, roles: any RoleResolving, sessions: any SessionLiveness, bootstrapKey: BootstrapAdminKey?,
        directoryMatch: DirectoryMatch.Attribute, cache: GrantCache, tokens: AccessTokenAuthority,
        oidc: @escaping @Sendable () -> OIDCVerifier?, oidcRights: any OIDCRightsRecording
    ) {
        self.keys = keys
        self.roles = roles
        self.sessions = sessions
        self.bootstrapKey = bootstrapKey
        self.directoryMatch = directoryMatch
        self.cache = cache
        self.tokens = tokens
        self.oidc = oidc
        self.oidcRights = oidcRights
    }

    static let required = "An admin credential is required: send 'X-Admin-API-Key: radm_…' or 'Authorization: Bearer <admin key or access token>'."
    static let invalidKey = AuthError(.unauthorized, "The admin API key is invalid, expired or revoked.", reason: "invalid")

    /// The principal a presented credential acts as; throws `AuthError` (with the reason metrics count) when it is refused.
    public func principal(presented: String?, authorizationSent: Bool, activeGroup: String?) async throws -> AdminPrincipal {
        guard let presented else {
            throw AuthError(.unauthorized, Self.required, reason: authorizationSent ? "malformed" : "missing")
        }
        if let issuer = UnverifiedJWT.issuer(of: presented) {
            return try await principal(jwt: presented, issuer: issuer, activeGroup: activeGroup)
        }
        if presented.hasPrefix("eyJ") {
            throw AuthError(.unauthorized, "The access token is malformed or names no issuer.", reason: "invalid_token")
        }
        if let bootstrapKey, bootstrapKey.matches(presented) {
            try refuseActiveGroup(activeGroup, for: "the bootstrap key")
            return AdminPrincipal(keyID: nil, tenantID: nil, scopes: [.all])
        }
        let secret = Secret(presented: presented)
        switch secret?.kind {
        case .scimToken:
            throw AuthError(
                .unauthorized,
                "A SCIM token was sent to the admin API. /api/v1 expects an admin API key (radm_…) in 'X-Admin-API-Key' or 'Authorization: Bearer', or an access token.",
                reason: "wrong_credential_type")
        case .refreshToken:
            throw AuthError(
                .unauthorized, "A refresh token was sent as a credential: exchange it at POST /api/v1/auth/refresh for an access token.",
                reason: "wrong_credential_type")
        case .setupLink:
            throw AuthError(
                .unauthorized, "A setup link's secret works only on the setup API (/api/v1/setup); the admin API expects an admin credential.",
                reason: "wrong_credential_type")
        case .adminKey:
            guard let secret, let key = try await keys.authenticate(secret) else {
                let reason = if let secret { (try? await keys.rejection(of: secret))?.rawValue ?? "unknown" } else { "malformed" }
                throw AuthError(.unauthorized, Self.invalidKey.message, reason: reason)
            }
            return try await principal(for: key, session: nil, activeGroup: activeGroup)
        case nil:
            throw AuthError(.unauthorized, Self.invalidKey.message, reason: "malformed")
        }
    }

    /// A session's access token (Roster's) or a trusted issuer's; neither costs a database round trip to verify.
    private func principal(jwt: String, issuer: String, activeGroup: String?) async throws -> AdminPrincipal {
        do {
            if issuer == tokens.issuer {
                return try await principal(session: try await tokens.verify(jwt), activeGroup: activeGroup)
            }
            guard let oidc = oidc() else { throw TokenError.unknownIssuer }
            return try await principal(oidc: try await oidc.verify(jwt), activeGroup: activeGroup)
        } catch let error as TokenError {
            throw AuthError(.unauthorized, error.description, reason: "invalid_token")
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
                let bound = min(token.expires, Date().addingTimeInterval(tokens.lifetime.timeInterval))
                try await oidcRights.record(OIDCRights(subject: token.issuer + " " + token.subject, grants: grants, validUntil: bound))
            }
            return outcome
        }
        return AdminPrincipal(identity: identity, grants: try Self.grants(outcome, activeGroup: activeGroup))
    }

    /// A key's principal: its own scopes, and no more than its owner holds now, nor any key it descends from
    /// (each bounded by its own owners in turn), nor the recorded rights of the OIDC subject that made one of them.
    public func principal(for key: AuthenticatedKey, session: UUID?, activeGroup: String?) async throws -> AdminPrincipal {
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
    public func grants(ofUser user: UUID, activeGroup: String?) async throws -> AdminGrants {
        let outcome = try await cache.outcome(for: .init(identity: .user(user), activeGroup: activeGroup)) {
            try await roles.resolve(adminUser: user, attribute: directoryMatch, activeGroup: activeGroup)
        }
        return try Self.grants(outcome, activeGroup: activeGroup)
    }

    static func grants(_ outcome: RoleOutcome?, activeGroup: String?) throws -> AdminGrants {
        switch outcome {
        case .granted(let grants): return grants
        case .notAMember:
            throw AuthError(
                .forbidden, "You are not a member of the active group '\(activeGroup ?? "")' (X-Roster-Active-Group).", reason: "not_a_member")
        case nil:
            throw AuthError(.unauthorized, "This admin user is disabled or no longer exists.", reason: "disabled")
        }
    }

    private func refuseActiveGroup(_ activeGroup: String?, for credential: String) throws {
        guard activeGroup != nil else { return }
        throw AuthError(
            .invalidRequest, "X-Roster-Active-Group applies to an admin user's credentials; \(credential) has no group memberships.",
            reason: "active_group")
    }
}

extension AdminPrincipal {
    /// The credential as log lines name it: an id, never a secret.
    public var logName: String {
        switch identity {
        case .bootstrap: "bootstrap"
        case .key(let id): "key:" + id.uuidString.lowercased()
        case .user(let id): "user:" + id.uuidString.lowercased()
        case .oidc(let subject): "oidc:" + subject
        }
    }
}
