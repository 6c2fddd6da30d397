import Foundation
import Hummingbird
import Logging
import RosterAuth
import RosterStore
import SCIM

/// A request context whose credential belongs to one tenant (or to none: an operator's).
protocol TenantBoundContext: RequestContext {
    /// The tenant whose share the request spends; nil: not counted against any tenant.
    var shareTenant: UUID? { get }
    /// The tenant is over its share: a 429 in this API's error format.
    static func overShare(retryAfter seconds: Int) -> any Error
}

/// Runs each authenticated request under its API's statement limit, in one of its tenant's slots.
struct WorkLimitMiddleware<Context: TenantBoundContext>: RouterMiddleware {
    let slots: TenantSlots
    let statementTimeout: Duration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await StatementTimeout.$override.withValue(statementTimeout) {
            guard let tenant = context.shareTenant else { return try await next(request, context) }
            do {
                return try await slots.run(tenant: tenant) { try await next(request, context) }
            } catch is TenantSlots.Full {
                context.logger.notice("Tenant over its share of the connection pool", metadata: ["slots": "\(slots.perTenant)"])
                throw ErrorWithHeaders(Context.overShare(retryAfter: 1), headers: [.retryAfter: "1"])
            }
        }
    }
}

extension ScimRequestContext: TenantBoundContext {
    var shareTenant: UUID? { principal?.tenantID }

    static func overShare(retryAfter seconds: Int) -> any Error {
        ScimError(status: 429, detail: "This tenant has as many requests in progress as its share of the server allows; retry after \(seconds) s.")
    }
}

extension AdminRequestContext: TenantBoundContext {
    /// A tenant's admin key spends its tenant's share; a global credential (the operator's) spends none.
    var shareTenant: UUID? { principal?.tenantID ?? setupLink?.tenantID }

    static func overShare(retryAfter seconds: Int) -> any Error {
        AdminError(status: .tooManyRequests, code: "tenant_busy",
            message: "This tenant has as many requests in progress as its share of the server allows; retry after \(seconds) s.")
    }
}
