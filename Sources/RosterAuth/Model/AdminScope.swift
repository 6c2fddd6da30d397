import Foundation

/// What an admin key may do. A route declares the scope it needs; `*` grants all.
public enum AdminScope: String, Sendable, CaseIterable, Codable {
    case all = "*"
    case tenants
    case scimTokens = "scim-tokens"
    case adminKeys = "admin-keys"
    /// Reads `/metrics` (with a global key).
    case metrics
    /// Reads the directory: whether a user belongs to a group.
    case directoryRead = "directory:read"
    /// Reads the change feed.
    case feedRead = "feed:read"
    /// Manages webhook subscriptions.
    case webhooks
    /// Reads the audit log.
    case auditRead = "audit:read"
    /// Reads a tenant's provisioning log: what its SCIM clients sent and were answered.
    case provisioningRead = "provisioning:read"
    /// Manages admin users, roles and role grants.
    case adminUsers = "admin-users"
    /// Reads and changes runtime settings: rate limits, page sizes, retry schedule (trusted issuers need `*`).
    case config
}
