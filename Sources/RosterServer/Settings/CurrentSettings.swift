import Foundation
import Logging
import RosterAuth
import RosterFeed
import SCIM

/// The runtime settings this process acts on: each section the database document's, else the process
/// configuration's (PUT /api/v1/config over ROSTER_* variables and flags over built-in defaults).
struct CurrentSettings: Sendable {
    /// The database row's version (0: never set); the ETag.
    var version: Int64
    /// The sections the database document sets; the others are the process configuration's.
    var overridden: [String]
    var rateLimits: RateLimitSettings
    /// `rateLimits` as the limiter takes them, parsed once here rather than per request.
    var rateLimitDefaults: RateLimitDefaults
    var pageSizes: Pagination.Limits
    var retrySchedule: RetrySchedule
    var trustedIssuers: [TrustedIssuer]
    /// Verifies `trustedIssuers`' access tokens; nil when there are none.
    var oidc: OIDCVerifier?

    /// `document` over `baseline`, every value checked. Throws a 400 naming the first wrong field.
    /// `previous`' verifier is kept while the issuers stay the same, and with it the JWKS keys it has fetched.
    init(_ document: RuntimeSettings, version: Int64, baseline: SettingsBaseline, previous: CurrentSettings? = nil) throws {
        self.version = version
        overridden = document.sections
        rateLimits = document.rateLimits ?? baseline.rateLimits
        rateLimitDefaults = RateLimitDefaults()
        rateLimitDefaults.scim = try RateLimitSettings.parse(rateLimits.scim, field: "rate_limits.scim")
            .flatMap { RateLimitPolicy(limit: $0.requests, windowSeconds: $0.seconds) }
        rateLimitDefaults.admin = try RateLimitSettings.parse(rateLimits.admin, field: "rate_limits.admin")
            .flatMap { RateLimitPolicy(limit: $0.requests, windowSeconds: $0.seconds) }
        pageSizes = try document.listPageSize.map(Self.pageSizes) ?? baseline.pageSizes
        retrySchedule = try document.webhookRetrySchedule.map(Self.retrySchedule) ?? baseline.retrySchedule
        trustedIssuers = document.trustedIssuers ?? baseline.trustedIssuers
        if let previous, previous.trustedIssuers == trustedIssuers {
            oidc = previous.oidc
        } else {
            oidc = try Self.verifier(trustedIssuers, allowInsecureLoopback: baseline.allowInsecureLoopbackJWKS, logger: baseline.logger)
        }
    }

    /// Every section as it holds now, for GET's answer.
    var document: RuntimeSettings {
        RuntimeSettings(
            rateLimits: rateLimits, listPageSize: ListPageSize(default: pageSizes.defaultCount, max: pageSizes.maximumCount),
            webhookRetrySchedule: retrySchedule.seconds, trustedIssuers: trustedIssuers)
    }

    static func pageSizes(_ sizes: ListPageSize) throws -> Pagination.Limits {
        let ceiling = Pagination.Limits.ceiling
        guard (1...ceiling).contains(sizes.default) else {
            throw AdminError.invalidRequest("'list_page_size.default' must be 1…\(ceiling), e.g. 100.")
        }
        guard (sizes.default...ceiling).contains(sizes.max) else {
            throw AdminError.invalidRequest("'list_page_size.max' must be at least 'list_page_size.default' (\(sizes.default)) and at most \(ceiling).")
        }
        return Pagination.Limits(defaultCount: sizes.default, maximumCount: sizes.max)
    }

    static func retrySchedule(_ seconds: [Double]) throws -> RetrySchedule {
        if let schedule = RetrySchedule(seconds: seconds) { return schedule }
        let rule = "a number of seconds, 0…\(Int(RetrySchedule.longestDelay))"
        if let index = seconds.firstIndex(where: { RetrySchedule(seconds: [$0]) == nil }) {
            throw AdminError.invalidRequest("'webhook_retry_schedule[\(index)]' must be \(rule).")
        }
        throw AdminError.invalidRequest("'webhook_retry_schedule' must list at least one delay (\(rule)), e.g. [0, 5, 300, 1800, 7200].")
    }

    /// Each issuer as TrustedIssuer.validate checks it, then all of them as the verifier takes them (an issuer twice).
    static func verifier(_ issuers: [TrustedIssuer], allowInsecureLoopback: Bool, logger: Logger) throws -> OIDCVerifier? {
        for (index, issuer) in issuers.enumerated() {
            if let problem = issuer.validate(allowInsecureLoopback: allowInsecureLoopback).first {
                throw AdminError.invalidRequest("'trusted_issuers[\(index)]' (issuer '\(issuer.issuer)'): \(problem)")
            }
        }
        guard !issuers.isEmpty else { return nil }
        do {
            return try OIDCVerifier(issuers: issuers, allowInsecureLoopback: allowInsecureLoopback, logger: logger)
        } catch let error as OIDCConfigurationError {
            throw AdminError.invalidRequest("'trusted_issuers': \(error.problems.joined(separator: " "))")
        }
    }
}

/// What a section the database leaves out falls back to: the process configuration, read at start.
struct SettingsBaseline: Sendable {
    /// ROSTER_RATE_LIMIT_SCIM and ROSTER_RATE_LIMIT_ADMIN.
    var rateLimits: RateLimitSettings
    /// SCIM's own (100 per page, at most 1000); no variable sets them.
    var pageSizes = Pagination.Limits.standard
    /// ROSTER_WEBHOOK_RETRY_SCHEDULE.
    var retrySchedule: RetrySchedule
    /// ROSTER_OIDC_ISSUERS.
    var trustedIssuers: [TrustedIssuer]
    /// Whether a trusted issuer's JWKS may be fetched over http from loopback (`roster dev`, tests); never set at run time.
    var allowInsecureLoopbackJWKS: Bool
    /// Where the verifier logs what it keeps from responses (why an issuer's keys could not be fetched).
    var logger: Logger

    init(_ configuration: RosterConfiguration, logger: Logger = Logger(label: "roster.auth.oidc")) {
        self.logger = logger
        let text = { (policy: RateLimitPolicy?) in policy.map { "\($0.limit)/\($0.windowSeconds)s" } ?? "off" }
        rateLimits = RateLimitSettings(scim: text(configuration.rateLimits.scim), admin: text(configuration.rateLimits.admin))
        retrySchedule = configuration.webhooks.schedule
        trustedIssuers = configuration.identity.trustedIssuers
        allowInsecureLoopbackJWKS = configuration.identity.allowInsecureLoopbackJWKS
    }
}
