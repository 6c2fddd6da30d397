import Foundation
import OpenAPIRuntime
import RosterAuth
import RosterStore

/// `/api/v1/auth`: signing in for a short-lived access JWT and a rotating refresh token, and the JWKS.
extension AdminAPI {
    func signIn(_ input: Operations.SignIn.Input) async throws -> Operations.SignIn.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        let context = AuditContext(actor: .system, requestID: AuthenticatedAdmin.requestID, sourceAddress: AuthenticatedAdmin.sourceAddress)
        let subject: SessionSubject
        switch (body.email, body.password, body.adminKey) {
        case (let email?, let password?, nil):
            subject = .user(try await passwordLogin(email: email, password: password, context: context))
        case (nil, nil, let key?):
            guard let secret = Secret(presented: key), secret.kind == .adminKey, let key = try await keys.authenticate(secret) else {
                throw AdminError.unauthorized("The admin API key is invalid, expired or revoked.")
            }
            subject = .key(key.id)
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

    // MARK: Shared

    /// Checks a password, throttled per account and per address before bcrypt runs; every failure is audited.
    private func passwordLogin(email: String, password: String, context: AuditContext) async throws -> UUID {
        let configuration = identity.configuration
        let failures = try await identity.sessions.recentFailures(email: email, address: context.sourceAddress, window: configuration.loginWindow)
        if failures.account >= configuration.loginFailuresPerAccount || failures.address >= configuration.loginFailuresPerAddress {
            let window = AdminSessions.seconds(configuration.loginWindow)
            let waited = failures.oldest.map { Date().timeIntervalSince($0) } ?? 0
            throw AdminError.throttled(
                "Too many failed logins for this account or from this address; try again later.", retryAfter: max(1, Int(window - waited)))
        }
        let found = try await identity.users.credentials(email: email)
        // An unknown email costs a bcrypt check too, so timing does not tell which emails exist.
        let hash: String = if let stored = found?.passwordHash { stored } else { await identity.passwords.decoy() }
        let matches = await identity.passwords.verify(password, hash: hash)
        guard let user = found?.user, found?.passwordHash != nil, matches, user.disabled == nil else {
            try await identity.sessions.recordFailedLogin(email: email, user: found?.user.id, by: context)
            throw AdminError.unauthorized("The email or password is wrong, or the account is disabled.")
        }
        return user.id
    }

    private func tokens(for subject: SessionSubject, session: UUID, refresh: Secret) async throws -> Components.Schemas.Session {
        let accessSubject: AccessSubject =
            switch subject {
            case .user(let id): .user(id)
            case .key(let id): .key(id)
            }
        let (token, _) = try await identity.tokens.issue(subject: accessSubject, sessionID: session)
        return .init(
            accessToken: token, tokenType: .bearer, expiresIn: Int(AdminSessions.seconds(identity.tokens.lifetime)),
            refreshToken: refresh.reveal(), refreshExpiresIn: Int(AdminSessions.seconds(identity.configuration.refreshTokenLifetime)))
    }

    private static var invalidRefresh: AdminError {
        .unauthorized("The refresh token is invalid, expired, or its session has ended: sign in again.")
    }
}
