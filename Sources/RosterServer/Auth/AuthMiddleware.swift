import Foundation
import Hummingbird
import Logging
import NIOCore
import RosterAuth
import RosterStore
import SCIM
import ServiceLifecycle

/// `/scim/v2` resource routes: a SCIM token decides the tenant; an admin key is turned away by name.
///
/// A read (GET, HEAD, POST …/.search) whose token is in `cache` costs no lookup of its own: it runs with
/// `CredentialCheck.current` set, and the statement that reads its data re-checks the token in the same round trip
/// (a revoked or expired token is 401, however fresh the cache). A read that ran no such statement (an error before
/// any read, an empty page counted only) is confirmed by one lookup before it is answered. Writes, and tokens the
/// cache does not hold, are looked up in the database first, as before; a valid one is then cached.
struct ScimAuthMiddleware: RouterMiddleware {
    typealias Context = ScimRequestContext
    let tokens: ScimTokenRepository
    let bootstrapKey: BootstrapAdminKey?
    let metrics: RosterMetrics?
    /// nil: every request looks its token up (no cache).
    var cache: ScimTokenCache? = nil

    static let missingToken = ScimError.unauthorized(
        "A SCIM bearer token is required: send 'Authorization: Bearer scim_…'.")

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let presented = PresentedCredential.bearer(request) else {
            reject(request.headers[.authorization] == nil ? "missing" : "malformed")
            throw Self.missingToken
        }
        let secret = Secret(presented: presented)
        if secret?.kind == .setupLink {
            reject("wrong_credential_type")
            throw ScimError.unauthorized(
                "A setup link's secret was sent to the SCIM API. /scim/v2 expects a SCIM bearer token (scim_…): create one on the setup page.")
        }
        if secret?.kind == .adminKey || secret?.kind == .refreshToken || presented.hasPrefix("eyJ") || bootstrapKey?.matches(presented) == true {
            reject("wrong_credential_type")
            throw ScimError.unauthorized(
                "An admin API key or admin access token was sent to the SCIM API. /scim/v2 expects a SCIM bearer token (scim_…); create one with 'roster token create' or POST /api/v1/scim/tokens.")
        }
        guard let secret else {
            reject("malformed")
            throw Self.invalidToken
        }
        if let cache, secret.kind == .scimToken, Self.isRead(request), let hit = cache.lookup(secret.hash) {
            // last_used, when due, is written by `ScimTokenCacheService`, off the request's path.
            return try await checked(request, context: context, principal: hit.principal, secret: secret, cache: cache, next: next)
        }
        let generation = cache?.generation() ?? 0
        guard let (principal, expires) = try await tokens.lookup(secret) else {
            if metrics != nil { reject((try? await tokens.rejection(of: secret))?.rawValue ?? "unknown") }
            throw Self.invalidToken
        }
        cache?.insert(secret.hash, principal: principal, expires: expires, generation: generation)
        return try await next(request, authenticated(context, principal, method: request.method))
    }

    /// GET and HEAD, and the POST of a search: the requests whose statements re-check a cached token.
    static func isRead(_ request: Request) -> Bool {
        switch request.method {
        case .get, .head: true
        case .post: request.uri.path.hasSuffix("/.search")
        default: false
        }
    }

    /// A read authenticated from the cache: answered only once a statement of it (or a lookup) found the token live.
    private func checked(
        _ request: Request, context: Context, principal: ScimPrincipal, secret: Secret, cache: ScimTokenCache,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let credential = LiveCredential(principal)
        let context = authenticated(context, principal, method: request.method)
        do {
            let response = try await CredentialCheck.$current.withValue(credential) { try await next(request, context) }
            if !credential.confirmed { try await confirm(principal, secret: secret, cache: cache) }
            return response
        } catch is CredentialNotLive {
            try await refuse(principal, secret: secret, cache: cache)
        } catch {
            if !credential.confirmed { try await confirm(principal, secret: secret, cache: cache) }
            throw error
        }
    }

    /// One lookup, for a cached read that ran no checking statement.
    private func confirm(_ principal: ScimPrincipal, secret: Secret, cache: ScimTokenCache) async throws {
        guard try await tokens.lookup(secret)?.principal == principal else {
            try await refuse(principal, secret: secret, cache: cache)
        }
    }

    private func refuse(_ principal: ScimPrincipal, secret: Secret, cache: ScimTokenCache) async throws -> Never {
        cache.evict(tokenID: principal.tokenID)
        if metrics != nil { reject((try? await tokens.rejection(of: secret))?.rawValue ?? "unknown") }
        throw Self.invalidToken
    }

    private func authenticated(_ context: Context, _ principal: ScimPrincipal, method: HTTPRequest.Method) -> Context {
        var context = context
        context.principal = principal
        context.logger[metadataKey: "tenant_id"] = .string(principal.tenantID.uuidString.lowercased())
        context.logger[metadataKey: "credential_id"] = .string(principal.tokenID.uuidString.lowercased())
        context.logger.debug("SCIM request authenticated", metadata: ["method": .string(method.rawValue)])
        return context
    }

    private static let invalidToken = ScimError.unauthorized("The SCIM bearer token is invalid, expired or revoked.")

    private func reject(_ reason: String) {
        metrics?.recordRejection(expected: "scim_token", reason: reason)
    }
}

/// Keeps `ScimTokenCache` in step with revocations on every replica (LISTEN), and writes the last_used of
/// cached tokens every `touchInterval` (one statement), for the life of the application. (A stop loses at most
/// one interval's last_used of cached tokens; a later use writes it again.)
struct ScimTokenCacheService: Service, CustomStringConvertible {
    /// What service-lifecycle logs at start: never the fields (the connection configuration holds the database password).
    var description: String { "ScimTokenCacheService" }

    let cache: ScimTokenCache
    let tokens: ScimTokenRepository
    let endpoint: ListenEndpoint
    let logger: Logger
    var touchInterval: Duration = .seconds(10)

    func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await cache.listen(endpoint, logger: logger) }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: touchInterval)
                        await touch()
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }

    private func touch() async {
        let due = cache.drainTouches()
        guard !due.isEmpty else { return }
        do {
            try await tokens.touch(due)
        } catch {
            logger.warning("SCIM token cache: could not write last_used", metadata: ["error": "\(String(reflecting: type(of: error)))"])
        }
    }
}

/// The admin principal of the request being handled, for the generated admin API's handlers
/// (the generator's recommended hand-over: a task-local, never re-parsing headers in a handler).
enum AuthenticatedAdmin {
    @TaskLocal static var principal: AdminPrincipal?
    /// The request's `X-Request-Id`, for the audit entries of its actions.
    @TaskLocal static var requestID: String?
    /// The client's address, for the audit entries of its actions.
    @TaskLocal static var sourceAddress: String?
    /// The setup link a setup-API request acts as (and then no principal).
    @TaskLocal static var setupLink: SetupLinkPrincipal?

    /// The principal, checked for the scope the operation needs.
    static func require(_ scope: AdminScope) throws -> AdminPrincipal {
        guard let principal else { throw AdminError.unauthorized("An admin API key is required.") }
        guard principal.allows(scope) else {
            throw AdminError.forbidden("This credential lacks the '\(scope.rawValue)' scope this route needs.")
        }
        return principal
    }

    /// Who the request's admin actions are recorded as, with its request id and source address.
    static func auditContext() throws -> AuditContext {
        guard let principal else { throw AdminError.unauthorized("An admin API key is required.") }
        return AuditContext(actor: principal.actor, requestID: requestID, sourceAddress: sourceAddress)
    }
}

/// `/api/v1` routes: an admin key (header `X-Admin-API-Key` or bearer), or an admin access token; a SCIM
/// token is turned away by name. Public routes (signing in, the JWKS) pass without a credential.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext
    let authenticator: AdminAuthenticator
    /// Each operation's declared scope (openapi.yaml).
    let access: RouteAccess
    let setupLinks: SetupLinkAuthentication
    let metrics: RosterMetrics?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let requestID: String? =
            if case .string(let id) = context.logger[metadataKey: "request_id"] { id } else { nil }
        let requirement = context.endpointPath.flatMap { access.requirement(method: request.method.rawValue, route: $0) }
        if requirement == .open {
            let request = try await Self.limitedBody(request, context: context)
            return try await AuthenticatedAdmin.$requestID.withValue(requestID) {
                try await AuthenticatedAdmin.$sourceAddress.withValue(context.sourceAddress) { try await next(request, context) }
            }
        }
        if requirement == .setupLink {
            let link = try await setupLinks.link(for: request, metrics: metrics)
            var context = context
            context.setupLink = link
            context.logger[metadataKey: "tenant_id"] = .string(link.tenantID.uuidString.lowercased())
            context.logger[metadataKey: "credential_id"] = .string("setup_link:" + link.linkID.uuidString.lowercased())
            let request = try await Self.limitedBody(request, context: context)
            return try await AuthenticatedAdmin.$setupLink.withValue(link) {
                try await AuthenticatedAdmin.$requestID.withValue(requestID) {
                    try await AuthenticatedAdmin.$sourceAddress.withValue(context.sourceAddress) { try await next(request, context) }
                }
            }
        }
        let principal: AdminPrincipal
        do {
            principal = try await authenticator.principal(
                presented: PresentedCredential.adminKey(request), authorizationSent: request.headers[.authorization] != nil,
                activeGroup: request.headers[.activeGroup])
        } catch let rejection as AuthError {
            metrics?.recordRejection(expected: "admin_key", reason: rejection.reason)
            throw rejection
        }
        // Least privilege by construction: the document names each route's scope (or that any credential may ask
        // about itself); a route that names neither is refused.
        switch requirement {
        case .scope(let scope):
            guard principal.allows(scope) else {
                throw AdminError.forbidden("This credential lacks the '\(scope.rawValue)' scope this route needs.")
            }
        case .authenticated:
            break
        case .open, .setupLink, nil:
            throw AdminError.forbidden("This route declares no scope, so no credential may use it.")
        }
        var context = context
        context.principal = principal
        context.logger[metadataKey: "tenant_id"] = .string(principal.tenantID?.uuidString.lowercased() ?? "global")
        context.logger[metadataKey: "credential_id"] = .string(principal.logName)
        context.logger.debug("Admin request authenticated", metadata: ["method": .string(request.method.rawValue)])
        let request = try await Self.limitedBody(request, context: context)
        return try await AuthenticatedAdmin.$principal.withValue(principal) {
            try await AuthenticatedAdmin.$requestID.withValue(requestID) {
                try await AuthenticatedAdmin.$sourceAddress.withValue(context.sourceAddress) { try await next(request, context) }
            }
        }
    }

    /// The generated handlers read bodies without a limit; admin bodies are small, so cap them here.
    private static func limitedBody(_ request: Request, context: Context) async throws -> Request {
        var request = request
        do {
            _ = try await request.collectBody(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw AdminError(
                status: .contentTooLarge, code: "too_large", message: "The request body is larger than \(context.maxUploadSize / 1024) KiB.")
        }
        return request
    }
}
