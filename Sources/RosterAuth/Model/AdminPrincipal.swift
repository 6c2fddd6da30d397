public import Foundation

/// The scopes a credential holds: on every tenant, and on particular tenants.
public struct AdminGrants: Sendable, Equatable {
    public var global: Set<AdminScope>
    public var tenants: [UUID: Set<AdminScope>]

    public init(global: Set<AdminScope> = [], tenants: [UUID: Set<AdminScope>] = [:]) {
        self.global = global
        self.tenants = tenants
    }

    public static let none = AdminGrants()

    /// A key's scopes: global, or on its one tenant.
    public init(scopes: Set<AdminScope>, tenant: UUID?) {
        if let tenant { self.init(tenants: [tenant: scopes]) } else { self.init(global: scopes) }
    }

    /// Adds a role's scopes, globally (tenant nil) or on one tenant.
    public mutating func add(_ scopes: Set<AdminScope>, tenant: UUID?) {
        if let tenant { self.tenants[tenant, default: []].formUnion(scopes) } else { global.formUnion(scopes) }
    }

    /// Whether `scope` is held on `tenant` (nil: on every tenant, i.e. globally).
    public func allows(_ scope: AdminScope, in tenant: UUID?) -> Bool {
        if Self.covers(global, scope) { return true }
        guard let tenant, let scopes = tenants[tenant] else { return false }
        return Self.covers(scopes, scope)
    }

    /// Whether `scope` is held on some tenant or globally.
    public func allowsSomewhere(_ scope: AdminScope) -> Bool {
        Self.covers(global, scope) || tenants.values.contains { Self.covers($0, scope) }
    }

    /// Only what both hold: a user's key never exceeds the user.
    public func intersection(_ other: AdminGrants) -> AdminGrants {
        func meet(_ a: Set<AdminScope>, _ b: Set<AdminScope>) -> Set<AdminScope> {
            if a.contains(.all) { return b }
            if b.contains(.all) { return a }
            return a.intersection(b)
        }
        var result = AdminGrants(global: meet(global, other.global))
        for tenant in Set(tenants.keys).union(other.tenants.keys) {
            let mine = meet(global, other.tenants[tenant] ?? []).union(meet(tenants[tenant] ?? [], other.global))
                .union(meet(tenants[tenant] ?? [], other.tenants[tenant] ?? []))
            if !mine.isEmpty { result.tenants[tenant] = mine }
        }
        return result
    }

    /// The tenants on which anything is held; nil when something is held globally (every tenant).
    public var visibleTenants: Set<UUID>? {
        global.isEmpty ? Set(tenants.filter { !$0.value.isEmpty }.keys) : nil
    }

    private static func covers(_ scopes: Set<AdminScope>, _ scope: AdminScope) -> Bool {
        scopes.contains(.all) || scopes.contains(scope)
    }
}

/// Who an admin API request acts as, and with which rights.
public struct AdminPrincipal: Sendable, Equatable {
    public enum Identity: Sendable, Hashable {
        /// The bootstrap key from configuration.
        case bootstrap
        case key(UUID)
        case user(UUID)
        /// A trusted OIDC issuer's subject, as "issuer subject".
        case oidc(String)
    }

    public var identity: Identity
    /// The admin session (a Roster access token's `sid`), if any.
    public var session: UUID?
    public var grants: AdminGrants

    public init(identity: Identity, session: UUID? = nil, grants: AdminGrants) {
        self.identity = identity
        self.session = session
        self.grants = grants
    }

    /// A key's principal (nil id: the bootstrap key).
    public init(keyID: UUID?, tenantID: UUID?, scopes: Set<AdminScope>) {
        self.init(identity: keyID.map(Identity.key) ?? .bootstrap, grants: AdminGrants(scopes: scopes, tenant: tenantID))
    }

    /// Whether `scope` is held on some tenant or globally: the first check of every route.
    public func allows(_ scope: AdminScope) -> Bool { grants.allowsSomewhere(scope) }

    public func allows(_ scope: AdminScope, in tenant: UUID?) -> Bool { grants.allows(scope, in: tenant) }

    /// The one tenant a principal is confined to, when it holds nothing globally and exactly one tenant:
    /// routes that name no tenant act on it.
    public var tenantID: UUID? {
        guard grants.global.isEmpty, let visible = grants.visibleTenants, visible.count == 1 else { return nil }
        return visible.first
    }

    /// Whether `scope` is held on every tenant.
    public func allowsGlobally(_ scope: AdminScope) -> Bool { grants.allows(scope, in: nil) }

    /// Whether a tenant's objects exist for this principal at all (others answer 404).
    public func sees(tenant: UUID) -> Bool { grants.visibleTenants?.contains(tenant) ?? true }

    /// The admin user whose rights bound this principal's keys: a session's user, or the owner of the key in use.
    public var owner: UUID?

    public var keyID: UUID? {
        if case .key(let id) = identity { id } else { nil }
    }

    /// The rate limiter's bucket, one per identity however many sessions it opens: `key:<id>` (the key and
    /// every session signed in with it), `user:<id>` (all of a user's sessions), `oidc:<issuer subject>`, or `bootstrap`.
    public var rateLimitKey: String {
        switch identity {
        case .bootstrap: return "bootstrap"
        case .key(let id): return "key:" + id.uuidString.lowercased()
        case .user(let id): return "user:" + id.uuidString.lowercased()
        case .oidc(let subject): return "oidc:" + subject
        }
    }
}
