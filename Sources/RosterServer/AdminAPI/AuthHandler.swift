import Foundation
import OpenAPIRuntime
import RosterAuth
import RosterStore

/// `/api/v1/auth`: signing in for a short-lived access JWT and a rotating refresh token, and the JWKS.
struct AuthHandler: Sendable {
    let identity: AdminIdentity
    /// For signing in with an admin key.
    let keys: AdminKeyRepository

    func signIn(_ input: Operations.SignIn.Input) async throws -> Operations.SignIn.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        let context = AuditContext(actor: .system, requestID: AuthenticatedAdmin.requestID, sourceAddress: AuthenticatedAdmin.sourceAddress)
        let subject: SessionSubject
        switch (body.email, body.password, body.adminKey) {
        case (let email?, let password?, nil):
            subject = .user(try await passwordLogin(email: email, password: password, context: context))
        case (nil, nil, let key?):
            subject = .key(try await keyLogin(key, context: context))
        default:
            throw AdminError.invalidRequest("Send either 'email' and 'password', or 'admin_key'.")
        }
        var signedIn = context
        signedIn.actor = if case .user(let id) = subject { .adminUser(id) } else if case .key(let id) = subject { .adminKey(id) } else { .system }
        let (session, refresh) = try await identity.sessions.start(
            subject, refreshLifetime: identity.configuration.refreshTokenLifetime, sourceAddress: context.sourceAddress, by: signedIn)
        return .ok(.init(headers: .init(cacheControl: "no-store"), body: .json(try await tokens(for: subject, session: session, refresh: refresh))))
    }

    func refreshSession(_ input: Operations.RefreshSession.Input) async throws -> Operations.RefreshSession.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        let context = AuditContext(actor: .system, requestID: AuthenticatedAdmin.requestID, sourceAddress: AuthenticatedAdmin.sourceAddress)
        guard let presented = Secret(presented: body.refreshToken) else { throw Self.invalidRefresh }
        switch try await identity.sessions.refresh(presented, lifetime: identity.configuration.refreshTokenLifetime, by: context) {
        case .rotated(let session, let subject, let refresh):
            return .ok(.init(headers: .init(cacheControl: "no-store"), body: .json(try await tokens(for: subject, session: session, refresh: refresh))))
        case .reused:
            identity.cache.invalidate()
            throw AdminError.unauthorized("This refresh token was already used, so its session has ended: sign in again.")
        case .invalid:
            throw Self.invalidRefresh
        }
    }

    func revokeSession(_ input: Operations.RevokeSession.Input) async throws -> Operations.RevokeSession.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        let context = AuditContext(actor: .system, requestID: AuthenticatedAdmin.requestID, sourceAddress: AuthenticatedAdmin.sourceAddress)
        if let presented = Secret(presented: body.refreshToken), try await identity.sessions.revoke(refresh: presented, by: context) {
            identity.cache.invalidate()
        }
        return .noContent(.init())
    }

    func getJWKS(_ input: Operations.GetJWKS.Input) async throws -> Operations.GetJWKS.Output {
        let document = try await identity.tokens.jwks()
        return .ok(.init(body: .json(try JSONDecoder().decode(Components.Schemas.Jwks.self, from: document))))
    }

    /// Checks a password: within the process-wide cap on checks running at once, and only once the attempt is
    /// counted against the account and the address (so parallel guesses cannot all pass); every failure is audited.
    private func passwordLogin(email: String, password: String, context: AuditContext) async throws -> UUID {
        let checked = try await identity.passwordChecks.withSlot {
            try await admit(email: email, context: context)
            let found = try await identity.users.credentials(email: email)
            // An unknown email costs a bcrypt check too, so timing does not tell which emails exist.
            let hash: String = if let stored = found?.passwordHash { stored } else { await identity.passwords.decoy() }
            let matches = await identity.passwords.verify(password, hash: hash)
            guard let user = found?.user, found?.passwordHash != nil, matches, user.disabled == nil else {
                try await identity.sessions.recordFailedLogin(email: email, user: found?.user.id, by: context)
                throw AdminError.unauthorized("The email or password is wrong, or the account is disabled.")
            }
            try await identity.attempts.succeeded(email: email, address: context.sourceAddress)
            return user.id
        }
        guard let checked else {
            throw AdminError.throttled("Too many sign-ins are being checked right now; try again in a moment.", retryAfter: 1)
        }
        return checked
    }

    /// An admin key for a session: counted per address like a password, since anyone may guess keys here too.
    private func keyLogin(_ presented: String, context: AuditContext) async throws -> UUID {
        try await admit(email: nil, context: context)
        guard let secret = Secret(presented: presented), secret.kind == .adminKey, let key = try await keys.authenticate(secret) else {
            try await identity.sessions.recordFailedLogin(email: nil, user: nil, by: context)
            throw AdminError.unauthorized("The admin API key is invalid, expired or revoked.")
        }
        try await identity.attempts.succeeded(email: nil, address: context.sourceAddress)
        return key.id
    }

    /// Counts a sign-in attempt before it is checked; over the account's or the address's limit, 429.
    private func admit(email: String?, context: AuditContext) async throws {
        let configuration = identity.configuration
        let limits = LoginAttempts.Limits(
            perAccount: configuration.loginFailuresPerAccount, perAddress: configuration.loginFailuresPerAddress, window: configuration.loginWindow)
        if case .refused(let retryAfter) = try await identity.attempts.admit(email: email, address: context.sourceAddress, limits: limits) {
            throw AdminError.throttled("Too many sign-in attempts for this account or from this address; try again later.", retryAfter: retryAfter)
        }
    }

    private func tokens(for subject: SessionSubject, session: UUID, refresh: Secret) async throws -> Components.Schemas.Session {
        let accessSubject: AccessSubject =
            switch subject {
            case .user(let id): .user(id)
            case .key(let id): .key(id)
            }
        let (token, _) = try await identity.tokens.issue(subject: accessSubject, sessionID: session)
        return .init(
            accessToken: token, tokenType: .bearer, expiresIn: Int(identity.tokens.lifetime.timeInterval),
            refreshToken: refresh.reveal(), refreshExpiresIn: Int(identity.configuration.refreshTokenLifetime.timeInterval))
    }

    /// `GET /api/v1/auth/me`: the credential's identity and its scopes, globally and per tenant.
    func me() async throws -> Components.Schemas.CurrentPrincipal {
        guard let principal = AuthenticatedAdmin.principal else { throw AdminError.unauthorized("An admin credential is required.") }
        typealias Identity = Components.Schemas.CurrentPrincipal.IdentityPayload
        let identity: Identity =
            switch principal.identity {
            case .bootstrap: Identity(_type: .bootstrap)
            case .key(let id): Identity(_type: .adminKey, id: id.lowercasedString)
            case .user(let id): Identity(_type: .adminUser, id: id.lowercasedString, email: try await self.identity.users.get(id: id)?.email)
            case .oidc(let subject): Identity(_type: .oidc, subject: subject)
            }
        func scopes(_ set: Set<AdminScope>) -> [Components.Schemas.AdminScope] {
            AdminScope.allCases.filter(set.contains).compactMap { Components.Schemas.AdminScope(rawValue: $0.rawValue) }
        }
        let global = principal.grants.global
        let tenants = principal.grants.tenants
            .map { (tenant: $0.key, scopes: $0.value.subtracting(global)) }
            .filter { !$0.scopes.isEmpty && !global.contains(.all) }
            .sorted { $0.tenant.uuidString < $1.tenant.uuidString }
        return .init(
            identity: identity, session: principal.session?.lowercasedString, globalScopes: scopes(global),
            tenantScopes: tenants.map { .init(tenantId: $0.tenant.lowercasedString, scopes: scopes($0.scopes)) })
    }

    private static var invalidRefresh: AdminError {
        .unauthorized("The refresh token is invalid, expired, or its session has ended: sign in again.")
    }
}

extension AdminAPI {
    func signIn(_ input: Operations.SignIn.Input) async throws -> Operations.SignIn.Output {
        try await auth.signIn(input)
    }

    func refreshSession(_ input: Operations.RefreshSession.Input) async throws -> Operations.RefreshSession.Output {
        try await auth.refreshSession(input)
    }

    func revokeSession(_ input: Operations.RevokeSession.Input) async throws -> Operations.RevokeSession.Output {
        try await auth.revokeSession(input)
    }

    func getJWKS(_ input: Operations.GetJWKS.Input) async throws -> Operations.GetJWKS.Output {
        try await auth.getJWKS(input)
    }

    func getCurrentPrincipal(_ input: Operations.GetCurrentPrincipal.Input) async throws -> Operations.GetCurrentPrincipal.Output {
        .ok(.init(body: .json(try await auth.me())))
    }
}
