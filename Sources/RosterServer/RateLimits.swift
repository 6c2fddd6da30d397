import Foundation
import RosterAuth
import RosterStore
import Synchronization

/// The limits every credential gets unless an override says otherwise (README "Rate limits"); nil: off.
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

/// Which limit a request gets: its credential's own, else its tenant's for that API, else the default.
/// Overrides are held in memory (see `reload`), so deciding never touches the database.
final class RateLimits: Sendable {
    let limiter: RateLimiter
    /// The defaults now: the runtime settings' (PUT /api/v1/config), else ROSTER_RATE_LIMIT_*.
    private let currentDefaults: @Sendable () -> RateLimitDefaults
    let refreshInterval: Duration
    let repository: RateLimitRepository
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

    init(
        defaults: @escaping @Sendable () -> RateLimitDefaults, refreshInterval: Duration, repository: RateLimitRepository,
        limiter: RateLimiter = RateLimiter()
    ) {
        currentDefaults = defaults
        self.refreshInterval = refreshInterval
        self.repository = repository
        self.limiter = limiter
    }

    convenience init(defaults: RateLimitDefaults, repository: RateLimitRepository, limiter: RateLimiter = RateLimiter()) {
        self.init(defaults: { defaults }, refreshInterval: defaults.refreshInterval, repository: repository, limiter: limiter)
    }

    var defaults: RateLimitDefaults { currentDefaults() }

    func policy(for principal: ScimPrincipal) -> RateLimitPolicy? {
        state.withLock { state in
            state.table.scimTokens[principal.tokenID] ?? state.table.tenants[.scim]?[principal.tenantID]
        } ?? defaults.scim
    }

    func policy(for principal: AdminPrincipal) -> RateLimitPolicy? {
        state.withLock { state in
            principal.keyID.flatMap { state.table.adminKeys[$0] } ?? principal.tenantID.flatMap { state.table.tenants[.admin]?[$0] }
        } ?? defaults.admin
    }

    /// Re-reads every override; a change made through this process's admin API calls it at once,
    /// other processes see it at their next poll.
    func reload() async throws {
        let ticket = state.withLock { state in
            state.issued += 1
            return state.issued
        }
        let table = PolicyTable(try await repository.all())
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
