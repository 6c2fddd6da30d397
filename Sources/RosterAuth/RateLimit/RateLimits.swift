public import Foundation
import Synchronization

/// The limits every credential gets unless an override says otherwise (docs/operators/rate-limits.md); nil: off.
public struct RateLimitDefaults: Sendable, Equatable {
    /// Per SCIM token: 50 requests/s sustained, twice the 25/s a SCIM app is commonly sized for with Entra,
    /// and a minute's worth at once for Entra's GET-then-PATCH bursts and Okta's paged imports.
    public var scim: RateLimitPolicy? = RateLimitPolicy(limit: 3000, windowSeconds: 60)
    /// Per admin key: 20 requests/s sustained, 1200 at once (scripts, portals asking membership questions).
    public var admin: RateLimitPolicy? = RateLimitPolicy(limit: 1200, windowSeconds: 60)
    /// How often each process re-reads the overrides from PostgreSQL.
    public var refreshInterval: Duration = .seconds(2)

    public init() {}
}

/// Where the overrides are kept (RosterStore's `RateLimitRepository`).
public protocol RateLimitOverrideSource: Sendable {
    /// Every override; each process polls this.
    func all() async throws -> RateLimitOverrides
}

/// Which limit a request gets: its credential's own, else its tenant's for that API, else the default.
/// Overrides are held in memory (see `reload`), so deciding never touches the database.
public final class RateLimits: Sendable {
    public let limiter: RateLimiter
    /// The defaults now: the runtime settings' (PUT /api/v1/config), else ROSTER_RATE_LIMIT_*.
    private let currentDefaults: @Sendable () -> RateLimitDefaults
    public let refreshInterval: Duration
    private let source: any RateLimitOverrideSource
    private let state = Mutex(State())

    private struct State {
        var table = PolicyTable()
        /// Each reload takes a ticket when it starts; an older read never replaces a newer one.
        var issued = 0
        var applied = 0
    }

    /// The overrides as policies, converted once per reload rather than per request.
    struct PolicyTable {
        var tenants: [RateLimitedAPI: [UUID: RateLimitPolicy]] = [:]
        var scimTokens: [UUID: RateLimitPolicy] = [:]
        var adminKeys: [UUID: RateLimitPolicy] = [:]

        init() {}

        init(_ overrides: RateLimitOverrides) {
            for (tenant, settings) in overrides.tenants {
                for (api, setting) in settings { tenants[api, default: [:]][tenant] = setting.policy }
            }
            scimTokens = overrides.scimTokens.compactMapValues(\.policy)
            adminKeys = overrides.adminKeys.compactMapValues(\.policy)
        }
    }

    public init(
        defaults: @escaping @Sendable () -> RateLimitDefaults, refreshInterval: Duration, source: any RateLimitOverrideSource,
        limiter: RateLimiter = RateLimiter()
    ) {
        currentDefaults = defaults
        self.refreshInterval = refreshInterval
        self.source = source
        self.limiter = limiter
    }

    public convenience init(defaults: RateLimitDefaults, source: any RateLimitOverrideSource, limiter: RateLimiter = RateLimiter()) {
        self.init(defaults: { defaults }, refreshInterval: defaults.refreshInterval, source: source, limiter: limiter)
    }

    public var defaults: RateLimitDefaults { currentDefaults() }

    public func policy(for principal: ScimPrincipal) -> RateLimitPolicy? {
        state.withLock { state in
            state.table.scimTokens[principal.tokenID] ?? state.table.tenants[.scim]?[principal.tenantID]
        } ?? defaults.scim
    }

    public func policy(for principal: AdminPrincipal) -> RateLimitPolicy? {
        state.withLock { state in
            principal.keyID.flatMap { state.table.adminKeys[$0] } ?? principal.tenantID.flatMap { state.table.tenants[.admin]?[$0] }
        } ?? defaults.admin
    }

    /// A setup link's: its tenant's admin-API limit, else the server's admin default.
    public func policy(forSetupLinkOf tenant: UUID) -> RateLimitPolicy? {
        state.withLock { state in state.table.tenants[.admin]?[tenant] } ?? defaults.admin
    }

    /// Re-reads every override; a change made through this process's admin API calls it at once,
    /// other processes see it at their next poll.
    public func reload() async throws {
        let ticket = state.withLock { state in
            state.issued += 1
            return state.issued
        }
        let table = PolicyTable(try await source.all())
        state.withLock { state in
            guard ticket > state.applied else { return }
            state.applied = ticket
            state.table = table
        }
    }
}

extension RateLimitSetting {
    /// nil only for a row the migration's checks would have refused.
    var policy: RateLimitPolicy? { RateLimitPolicy(limit: requests, windowSeconds: windowSeconds) }
}
