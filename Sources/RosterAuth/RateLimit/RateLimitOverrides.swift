public import Foundation

/// A stored rate limit: `requests` per `windowSeconds` (0011_rate_limits.sql bounds both).
public struct RateLimitSetting: Sendable, Hashable {
    public var requests: Int
    public var windowSeconds: Int

    public init(requests: Int, windowSeconds: Int) {
        self.requests = requests
        self.windowSeconds = windowSeconds
    }
}

/// The API a tenant's default applies to: its SCIM tokens, or its bound admin keys.
public enum RateLimitedAPI: String, Sendable, CaseIterable {
    case scim, admin
}

/// Every override, as each process holds them in memory.
public struct RateLimitOverrides: Sendable, Equatable {
    public var tenants: [UUID: [RateLimitedAPI: RateLimitSetting]] = [:]
    public var scimTokens: [UUID: RateLimitSetting] = [:]
    public var adminKeys: [UUID: RateLimitSetting] = [:]

    public init() {}
}
