import Foundation
import RosterAuth
import RosterStore

/// `/api/v1/…/rate-limit` (scope `config`): a tenant's defaults, one SCIM token's and one admin key's
/// limit. Answers say what applies now and where it comes from, read from the database; a change
/// reloads this process's overrides at once (others poll).
struct RateLimitsHandler: Sendable {
    let tenants: TenantRepository
    /// For an admin key's tenant, whose limit applies to it.
    let keys: AdminKeyRepository
    /// Overrides change here, then apply at once in this process (others re-read them within seconds).
    let rateLimits: RateLimits
    /// Where the overrides are kept.
    let rateLimitStore: RateLimitRepository

    func getTenantRateLimit(_ input: Operations.GetTenantRateLimit.Input) async throws -> Operations.GetTenantRateLimit.Output {
        let tenant = try await tenants.tenant(named: input.path.tenant, for: AuthenticatedAdmin.require(.config), scope: .config)
        return .ok(.init(body: .json(tenantStatus(try await rateLimitStore.tenant(tenant.id)))))
    }

    func setTenantRateLimit(_ input: Operations.SetTenantRateLimit.Input) async throws -> Operations.SetTenantRateLimit.Output {
        let tenant = try await tenants.tenant(named: input.path.tenant, for: AuthenticatedAdmin.require(.config), scope: .config)
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        var settings: [RateLimitedAPI: RateLimitSetting] = [:]
        if let scim = body.scim { settings[.scim] = try Self.validRateLimit(scim, field: "scim.") }
        if let admin = body.admin { settings[.admin] = try Self.validRateLimit(admin, field: "admin.") }
        guard !settings.isEmpty else {
            throw AdminError.invalidRequest(
                #"Give 'scim', 'admin' or both, e.g. {"scim": {"requests": 6000, "window_seconds": 60}}; DELETE removes the tenant's limits."#)
        }
        let stored = try await rateLimitStore.setTenant(tenant.id, settings, by: AuthenticatedAdmin.auditContext())
        await reloadRateLimits()
        return .ok(.init(body: .json(tenantStatus(stored))))
    }

    func removeTenantRateLimit(_ input: Operations.RemoveTenantRateLimit.Input) async throws -> Operations.RemoveTenantRateLimit.Output {
        let tenant = try await tenants.tenant(named: input.path.tenant, for: AuthenticatedAdmin.require(.config), scope: .config)
        try await rateLimitStore.removeTenant(tenant.id, by: AuthenticatedAdmin.auditContext())
        await reloadRateLimits()
        return .ok(.init(body: .json(tenantStatus([:]))))
    }

    enum Change {
        case set(Components.Schemas.RateLimit)
        case remove
    }

    /// Reads, sets or removes a token's own limit, then answers what applies to it now.
    func tokenRateLimit(_ id: String, tenant reference: String?, change: Change?) async throws -> Components.Schemas.RateLimitStatus {
        let principal = try AuthenticatedAdmin.require(.config)
        let tenant = try await tenants.tenant(named: reference, for: principal, scope: .config)
        let store = rateLimitStore
        guard let id = UUID(uuidString: id), try await store.scimToken(tenant: tenant.id, id: id) != nil else {
            throw AdminError.notFound("No such SCIM token in tenant '\(tenant.name)'.")
        }
        switch change {
        case .set(let body):
            let setting = try Self.validRateLimit(body, field: "")
            guard try await store.setScimToken(tenant: tenant.id, id: id, setting, by: AuthenticatedAdmin.auditContext()) else {
                throw AdminError.notFound("No such SCIM token in tenant '\(tenant.name)'.")
            }
            await reloadRateLimits()
        case .remove:
            try await store.removeScimToken(tenant: tenant.id, id: id, by: AuthenticatedAdmin.auditContext())
            await reloadRateLimits()
        case nil: break
        }
        let own = try await store.scimToken(tenant: tenant.id, id: id)?.override
        return Self.status(own: own, ownSource: .scimToken, tenant: try await store.tenant(tenant.id)[.scim], default: rateLimits.defaults.scim)
    }

    /// Reads, sets or removes a key's own limit, then answers what applies to it now.
    func keyRateLimit(_ id: String, change: Change?) async throws -> Components.Schemas.RateLimitStatus {
        let principal = try AuthenticatedAdmin.require(.config)
        // A global key's limit needs 'config' globally, a tenant's key's on that tenant; others are 404, so ids do not leak.
        guard let id = UUID(uuidString: id), let key = try await keys.get(id: id), principal.allows(.config, in: key.tenantID) else {
            throw AdminError.notFound("No such admin key.")
        }
        let store = rateLimitStore
        switch change {
        case .set(let body):
            let setting = try Self.validRateLimit(body, field: "")
            guard try await store.setAdminKey(id, setting, by: AuthenticatedAdmin.auditContext()) else { throw AdminError.notFound("No such admin key.") }
            await reloadRateLimits()
        case .remove:
            try await store.removeAdminKey(id, by: AuthenticatedAdmin.auditContext())
            await reloadRateLimits()
        case nil: break
        }
        let tenantLimit = try await key.tenantID.asyncFlatMap { try await store.tenant($0)[.admin] }
        return Self.status(own: try await store.adminKey(id), ownSource: .adminKey, tenant: tenantLimit, default: rateLimits.defaults.admin)
    }

    private func tenantStatus(_ settings: [RateLimitedAPI: RateLimitSetting]) -> Components.Schemas.TenantRateLimit {
        .init(
            scim: Self.status(own: nil, ownSource: .tenant, tenant: settings[.scim], default: rateLimits.defaults.scim),
            admin: Self.status(own: nil, ownSource: .tenant, tenant: settings[.admin], default: rateLimits.defaults.admin))
    }

    /// The first of the credential's own limit, its tenant's and the default; no numbers when that is off.
    private static func status(
        own: RateLimitSetting?, ownSource: Components.Schemas.RateLimitStatus.SourcePayload, tenant: RateLimitSetting?,
        default fallback: RateLimitPolicy?
    ) -> Components.Schemas.RateLimitStatus {
        if let own { return .init(source: ownSource, requests: own.requests, windowSeconds: own.windowSeconds) }
        if let tenant { return .init(source: .tenant, requests: tenant.requests, windowSeconds: tenant.windowSeconds) }
        return .init(source: ._default, requests: fallback?.limit, windowSeconds: fallback?.windowSeconds)
    }

    /// A limit within the bounds RateLimitPolicy (and the table's checks) allow; `field` prefixes the names in the message.
    private static func validRateLimit(_ limit: Components.Schemas.RateLimit, field: String) throws -> RateLimitSetting {
        guard RateLimitPolicy(limit: limit.requests, windowSeconds: limit.windowSeconds) != nil else {
            throw AdminError.invalidRequest(
                "'\(field)requests' must be 1…\(RateLimitPolicy.limits.upperBound) and '\(field)window_seconds' 1…\(RateLimitPolicy.windows.upperBound) (seconds), e.g. {\"requests\": 6000, \"window_seconds\": 60}.")
        }
        return RateLimitSetting(requests: limit.requests, windowSeconds: limit.windowSeconds)
    }

    /// The change is committed; if re-reading fails now, the next poll picks it up.
    private func reloadRateLimits() async {
        try? await rateLimits.reload()
    }
}

/// A SCIM token's routes and their `{tenant}` twins share `tokenRateLimit` (`tenant` nil for the credential's), an admin key's `keyRateLimit`.
extension AdminAPI {
    // MARK: Tenants

    func getTenantRateLimit(_ input: Operations.GetTenantRateLimit.Input) async throws -> Operations.GetTenantRateLimit.Output {
        try await rateLimits.getTenantRateLimit(input)
    }

    func setTenantRateLimit(_ input: Operations.SetTenantRateLimit.Input) async throws -> Operations.SetTenantRateLimit.Output {
        try await rateLimits.setTenantRateLimit(input)
    }

    func removeTenantRateLimit(_ input: Operations.RemoveTenantRateLimit.Input) async throws -> Operations.RemoveTenantRateLimit.Output {
        try await rateLimits.removeTenantRateLimit(input)
    }

    // MARK: SCIM tokens

    func getScimTokenRateLimit(_ input: Operations.GetScimTokenRateLimit.Input) async throws -> Operations.GetScimTokenRateLimit.Output {
        .ok(.init(body: .json(try await rateLimits.tokenRateLimit(input.path.id, tenant: nil, change: nil))))
    }

    func getTenantScimTokenRateLimit(_ input: Operations.GetTenantScimTokenRateLimit.Input) async throws -> Operations.GetTenantScimTokenRateLimit.Output {
        .ok(.init(body: .json(try await rateLimits.tokenRateLimit(input.path.id, tenant: input.path.tenant, change: nil))))
    }

    func setScimTokenRateLimit(_ input: Operations.SetScimTokenRateLimit.Input) async throws -> Operations.SetScimTokenRateLimit.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        return .ok(.init(body: .json(try await rateLimits.tokenRateLimit(input.path.id, tenant: nil, change: .set(body)))))
    }

    func setTenantScimTokenRateLimit(_ input: Operations.SetTenantScimTokenRateLimit.Input) async throws -> Operations.SetTenantScimTokenRateLimit.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        return .ok(.init(body: .json(try await rateLimits.tokenRateLimit(input.path.id, tenant: input.path.tenant, change: .set(body)))))
    }

    func removeScimTokenRateLimit(_ input: Operations.RemoveScimTokenRateLimit.Input) async throws -> Operations.RemoveScimTokenRateLimit.Output {
        .ok(.init(body: .json(try await rateLimits.tokenRateLimit(input.path.id, tenant: nil, change: .remove))))
    }

    func removeTenantScimTokenRateLimit(_ input: Operations.RemoveTenantScimTokenRateLimit.Input) async throws
        -> Operations.RemoveTenantScimTokenRateLimit.Output
    {
        .ok(.init(body: .json(try await rateLimits.tokenRateLimit(input.path.id, tenant: input.path.tenant, change: .remove))))
    }

    // MARK: Admin keys

    func getAdminKeyRateLimit(_ input: Operations.GetAdminKeyRateLimit.Input) async throws -> Operations.GetAdminKeyRateLimit.Output {
        .ok(.init(body: .json(try await rateLimits.keyRateLimit(input.path.id, change: nil))))
    }

    func setAdminKeyRateLimit(_ input: Operations.SetAdminKeyRateLimit.Input) async throws -> Operations.SetAdminKeyRateLimit.Output {
        guard case .json(let body) = input.body else { throw AdminError.invalidRequest("The body must be JSON.") }
        return .ok(.init(body: .json(try await rateLimits.keyRateLimit(input.path.id, change: .set(body)))))
    }

    func removeAdminKeyRateLimit(_ input: Operations.RemoveAdminKeyRateLimit.Input) async throws -> Operations.RemoveAdminKeyRateLimit.Output {
        .ok(.init(body: .json(try await rateLimits.keyRateLimit(input.path.id, change: .remove))))
    }
}

extension Optional {
    fileprivate func asyncFlatMap<T>(_ transform: (Wrapped) async throws -> T?) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
