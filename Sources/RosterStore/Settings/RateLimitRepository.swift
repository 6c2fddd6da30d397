public import Foundation
import PostgresNIO
public import RosterAuth

/// Rate-limit overrides: a tenant's defaults, one SCIM token's, one admin key's. Each change writes
/// its audit entry in the same statement; nothing here is read per request (see `all()`).
public struct RateLimitRepository: RateLimitOverrideSource {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// Every override; processes poll this, so it stays one small statement.
    public func all() async throws -> RateLimitOverrides {
        let rows = try await database.query(
            """
            SELECT 'tenant', tenant_id, api, requests, window_seconds FROM tenant_rate_limits
            UNION ALL SELECT 'scim_token', token_id, NULL, requests, window_seconds FROM scim_token_rate_limits
            UNION ALL SELECT 'admin_key', key_id, NULL, requests, window_seconds FROM admin_key_rate_limits
            """)
        var overrides = RateLimitOverrides()
        for row in rows {
            let (kind, id, api, requests, window) = try row.decode((String, UUID, RateLimitedAPI?, Int, Int).self)
            let setting = RateLimitSetting(requests: requests, windowSeconds: window)
            switch kind {
            case "tenant":
                guard let api else { throw StoreError.invalidValue("a tenant rate limit without its API") }
                overrides.tenants[id, default: [:]][api] = setting
            case "scim_token": overrides.scimTokens[id] = setting
            default: overrides.adminKeys[id] = setting
            }
        }
        return overrides
    }

    // MARK: Tenants

    public func tenant(_ tenant: UUID) async throws -> [RateLimitedAPI: RateLimitSetting] {
        let rows = try await database.query(
            "SELECT api, requests, window_seconds FROM tenant_rate_limits WHERE tenant_id = \(tenant)")
        return try Self.byAPI(rows)
    }

    /// Replaces the tenant's defaults with `settings` (an API left out: the server's default), with one
    /// `tenant.rate_limit_set` entry; returns what is stored now.
    public func setTenant(
        _ tenant: UUID, _ settings: [RateLimitedAPI: RateLimitSetting], by context: AuditContext
    ) async throws -> [RateLimitedAPI: RateLimitSetting] {
        let ordered = settings.sorted { $0.key.rawValue < $1.key.rawValue }
        let apis = ordered.map(\.key.rawValue), requests = ordered.map(\.value.requests), windows = ordered.map(\.value.windowSeconds)
        let rows = try await database.query(
            """
            WITH tenant AS (SELECT id, name FROM tenants WHERE id = \(tenant)),
            wanted AS (SELECT * FROM unnest(\(apis)::text[], \(requests)::integer[], \(windows)::integer[]) AS w (api, requests, window_seconds)),
            removed AS (DELETE FROM tenant_rate_limits WHERE tenant_id = \(tenant) AND api <> ALL (\(apis)::text[])),
            stored AS (
                INSERT INTO tenant_rate_limits (tenant_id, api, requests, window_seconds)
                SELECT tenant.id, wanted.api, wanted.requests, wanted.window_seconds FROM tenant CROSS JOIN wanted
                ON CONFLICT (tenant_id, api) DO UPDATE
                    SET requests = excluded.requests, window_seconds = excluded.window_seconds, updated_at = now()
                RETURNING api, requests, window_seconds),
            audit AS (\(audit: .tenantRateLimitSet, by: context, from: "tenant", tenant: "tenant.id", target: "tenant.id",
                          details: "jsonb_build_object('name', tenant.name) || \(Self.limitsJSON(from: "wanted"))"))
            SELECT api, requests, window_seconds FROM stored
            """)
        return try Self.byAPI(rows)
    }

    /// Removes the tenant's defaults, with a `tenant.rate_limit_removed` entry when there were any.
    public func removeTenant(_ tenant: UUID, by context: AuditContext) async throws {
        try await database.query(
            """
            WITH removed AS (DELETE FROM tenant_rate_limits WHERE tenant_id = \(tenant) RETURNING tenant_id, api, requests, window_seconds),
            gone AS (
                SELECT tenant_id, jsonb_object_agg(api, jsonb_build_object('requests', requests, 'window_seconds', window_seconds)) AS limits
                FROM removed GROUP BY tenant_id),
            audit AS (\(audit: .tenantRateLimitRemoved, by: context, from: "gone JOIN tenants t ON t.id = gone.tenant_id", tenant: "gone.tenant_id",
                          target: "gone.tenant_id", details: "jsonb_build_object('name', t.name) || gone.limits"))
            SELECT 1
            """)
    }

    // MARK: SCIM tokens

    /// The token's own limit; nil when the tenant has no such token.
    public func scimToken(tenant: UUID, id: UUID) async throws -> CredentialRateLimit? {
        let rows = try await database.query(
            """
            SELECT r.requests, r.window_seconds FROM scim_tokens t
            LEFT JOIN scim_token_rate_limits r ON r.tenant_id = t.tenant_id AND r.token_id = t.id
            WHERE t.tenant_id = \(tenant) AND t.id = \(id)
            """)
        return try rows.first.map { try CredentialRateLimit(row: $0) }
    }

    /// Sets the token's own limit, with a `scim_token.rate_limit_set` entry; false when the tenant has no such token.
    public func setScimToken(tenant: UUID, id: UUID, _ setting: RateLimitSetting, by context: AuditContext) async throws -> Bool {
        let rows = try await database.query(
            """
            WITH token AS (SELECT tenant_id, id, name FROM scim_tokens WHERE tenant_id = \(tenant) AND id = \(id)),
            stored AS (
                INSERT INTO scim_token_rate_limits (tenant_id, token_id, requests, window_seconds)
                SELECT tenant_id, id, \(setting.requests), \(setting.windowSeconds) FROM token
                ON CONFLICT (tenant_id, token_id) DO UPDATE
                    SET requests = excluded.requests, window_seconds = excluded.window_seconds, updated_at = now()
                RETURNING tenant_id, token_id, requests, window_seconds),
            audit AS (\(audit: .scimTokenRateLimitSet, by: context, from: "stored JOIN token ON token.id = stored.token_id",
                          tenant: "stored.tenant_id", target: "stored.token_id", details: Self.settingJSON("stored", name: "token.name")))
            SELECT 1 FROM stored
            """)
        return !rows.isEmpty
    }

    /// Removes the token's own limit, with a `scim_token.rate_limit_removed` entry when it had one.
    public func removeScimToken(tenant: UUID, id: UUID, by context: AuditContext) async throws {
        try await database.query(
            """
            WITH removed AS (
                DELETE FROM scim_token_rate_limits WHERE tenant_id = \(tenant) AND token_id = \(id)
                RETURNING tenant_id, token_id, requests, window_seconds),
            audit AS (\(audit: .scimTokenRateLimitRemoved, by: context,
                          from: "removed JOIN scim_tokens token ON token.tenant_id = removed.tenant_id AND token.id = removed.token_id",
                          tenant: "removed.tenant_id", target: "removed.token_id", details: Self.settingJSON("removed", name: "token.name")))
            SELECT 1
            """)
    }

    // MARK: Admin keys

    /// The key's own limit, if it has one (the caller has found the key).
    public func adminKey(_ id: UUID) async throws -> RateLimitSetting? {
        let rows = try await database.query("SELECT requests, window_seconds FROM admin_key_rate_limits WHERE key_id = \(id)")
        return try rows.first.flatMap { try CredentialRateLimit(row: $0).override }
    }

    /// Sets the key's own limit, with an `admin_key.rate_limit_set` entry (global for a global key); false when there is no such key.
    public func setAdminKey(_ id: UUID, _ setting: RateLimitSetting, by context: AuditContext) async throws -> Bool {
        let rows = try await database.query(
            """
            WITH admin_key AS (SELECT id, tenant_id, name FROM admin_keys WHERE id = \(id)),
            stored AS (
                INSERT INTO admin_key_rate_limits (key_id, tenant_id, requests, window_seconds)
                SELECT id, tenant_id, \(setting.requests), \(setting.windowSeconds) FROM admin_key
                ON CONFLICT (key_id) DO UPDATE
                    SET requests = excluded.requests, window_seconds = excluded.window_seconds, updated_at = now()
                RETURNING key_id, tenant_id, requests, window_seconds),
            audit AS (\(audit: .adminKeyRateLimitSet, by: context, from: "stored JOIN admin_key ON admin_key.id = stored.key_id",
                          tenant: "stored.tenant_id", target: "stored.key_id", details: Self.settingJSON("stored", name: "admin_key.name")))
            SELECT 1 FROM stored
            """)
        return !rows.isEmpty
    }

    /// Removes the key's own limit, with an `admin_key.rate_limit_removed` entry when it had one.
    public func removeAdminKey(_ id: UUID, by context: AuditContext) async throws {
        try await database.query(
            """
            WITH removed AS (DELETE FROM admin_key_rate_limits WHERE key_id = \(id) RETURNING key_id, tenant_id, requests, window_seconds),
            audit AS (\(audit: .adminKeyRateLimitRemoved, by: context, from: "removed JOIN admin_keys admin_key ON admin_key.id = removed.key_id",
                          tenant: "removed.tenant_id", target: "removed.key_id", details: Self.settingJSON("removed", name: "admin_key.name")))
            SELECT 1
            """)
    }

    // MARK: Rows and audit details

    /// `{"name", "requests", "window_seconds"}` of a limit row, for an audit entry.
    static func settingJSON(_ row: String, name: String) -> String {
        "jsonb_build_object('name', \(name), 'requests', \(row).requests, 'window_seconds', \(row).window_seconds)"
    }

    /// `{"scim": {"requests", "window_seconds"}, "admin": …}` aggregated over tenant limit rows.
    static func limitsJSON(from rows: String) -> String {
        "(SELECT coalesce(jsonb_object_agg(api, jsonb_build_object('requests', requests, 'window_seconds', window_seconds)), '{}') FROM \(rows))"
    }

    static func byAPI(_ rows: [PostgresRow]) throws -> [RateLimitedAPI: RateLimitSetting] {
        var settings: [RateLimitedAPI: RateLimitSetting] = [:]
        for row in rows {
            let (api, requests, window) = try row.decode((RateLimitedAPI, Int, Int).self)
            settings[api] = RateLimitSetting(requests: requests, windowSeconds: window)
        }
        return settings
    }
}

/// A credential that exists, and its own limit if it has one.
public struct CredentialRateLimit: Sendable, Equatable {
    public var override: RateLimitSetting?

    init(row: PostgresRow) throws {
        let (requests, window) = try row.decode((Int?, Int?).self)
        if let requests, let window { override = RateLimitSetting(requests: requests, windowSeconds: window) }
    }
}
