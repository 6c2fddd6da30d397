import Foundation
import HTTPTypes
import Hummingbird
import Logging
import RosterAuth
import RosterStore
import SCIM

/// A request context whose credential is rate limited; the auth middleware before this one set it.
protocol RateLimitedContext: RequestContext {
    /// The credential's bucket and limit; nil: not limited.
    func rateLimit(_ limits: RateLimits) -> (key: String, policy: RateLimitPolicy)?
    /// The policy's name in the `RateLimit-Policy` and `RateLimit` fields.
    static var rateLimitPolicyName: String { get }
    /// A 429 in this API's error format.
    static func tooManyRequests(retryAfter seconds: Int, policy: RateLimitPolicy) -> any Error
}

/// Spends one token of the authenticated credential's bucket per request: over the limit, 429 with
/// `Retry-After`, before any handler (so before any database work). Every answer of a limited
/// request, errors included, carries `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-11).
struct RateLimitMiddleware<Context: RateLimitedContext>: RouterMiddleware {
    let limits: RateLimits

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let (key, policy) = context.rateLimit(limits) else { return try await next(request, context) }
        let decision = limits.limiter.consume(key, policy)
        let fields = RateLimitFields.fields(name: Context.rateLimitPolicyName, policy: policy, decision: decision)
        guard decision.allowed else {
            context.logger.debug("Rate limited", metadata: ["retry_after": "\(decision.retryAfterSeconds)"])
            throw ErrorWithHeaders(Context.tooManyRequests(retryAfter: decision.retryAfterSeconds, policy: policy), headers: fields)
        }
        do {
            var response = try await next(request, context)
            response.headers.append(contentsOf: fields)
            return response
        } catch {
            throw ErrorWithHeaders(error, headers: fields)
        }
    }
}

enum RateLimitFields {
    static let policy = HTTPField.Name("RateLimit-Policy")!
    static let current = HTTPField.Name("RateLimit")!

    /// `RateLimit-Policy: "<name>";q=<limit>;w=<window>` and `RateLimit: "<name>";r=<remaining>;t=<seconds>`:
    /// `t` is when the whole quota is back, or on a 429 the `Retry-After` (which must not end before it).
    static func fields(name: String, policy: RateLimitPolicy, decision: RateLimitDecision) -> HTTPFields {
        var fields = HTTPFields()
        fields.append(HTTPField(name: Self.policy, value: "\"\(name)\";q=\(policy.limit);w=\(policy.windowSeconds)"))
        if decision.allowed {
            fields.append(HTTPField(name: current, value: "\"\(name)\";r=\(decision.remaining);t=\(decision.resetSeconds)"))
        } else {
            fields.append(HTTPField(name: current, value: "\"\(name)\";r=0;t=\(decision.retryAfterSeconds)"))
            fields.append(HTTPField(name: .retryAfter, value: String(decision.retryAfterSeconds)))
        }
        return fields
    }

    static func message(retryAfter seconds: Int, policy: RateLimitPolicy) -> String {
        "Too many requests: this credential may send \(policy.limit) requests per \(policy.windowSeconds) s. Retry after \(seconds) s."
    }
}

extension ScimRequestContext: RateLimitedContext {
    func rateLimit(_ limits: RateLimits) -> (key: String, policy: RateLimitPolicy)? {
        guard let principal, let policy = limits.policy(for: principal) else { return nil }
        return ("token:" + principal.tokenID.uuidString, policy)
    }

    static var rateLimitPolicyName: String { "scim" }

    static func tooManyRequests(retryAfter seconds: Int, policy: RateLimitPolicy) -> any Error {
        ScimError(status: 429, detail: RateLimitFields.message(retryAfter: seconds, policy: policy))
    }
}

extension AdminRequestContext: RateLimitedContext {
    func rateLimit(_ limits: RateLimits) -> (key: String, policy: RateLimitPolicy)? {
        if let setupLink {
            return limits.policy(forSetupLinkOf: setupLink.tenantID).map { ("setup:" + setupLink.linkID.uuidString, $0) }
        }
        guard let principal, let policy = limits.policy(for: principal) else { return nil }
        return (principal.rateLimitKey, policy)
    }

    static var rateLimitPolicyName: String { "admin" }

    static func tooManyRequests(retryAfter seconds: Int, policy: RateLimitPolicy) -> any Error {
        AdminError(status: .tooManyRequests, code: "rate_limited", message: RateLimitFields.message(retryAfter: seconds, policy: policy))
    }
}
