import Foundation
package import PostgresNIO

/// The admin actions the audit log records beside the change feed's SCIM changes.
public enum AdminAction: String, Sendable, CaseIterable, Codable {
    case tenantCreated = "tenant.created"
    case tenantUpdated = "tenant.updated"
    case scimTokenCreated = "scim_token.created"
    case scimTokenRevoked = "scim_token.revoked"
    case adminKeyCreated = "admin_key.created"
    case adminKeyRevoked = "admin_key.revoked"
    case webhookCreated = "webhook.created"
    case webhookUpdated = "webhook.updated"
    case webhookDeleted = "webhook.deleted"
    case webhookSecretRotated = "webhook.secret_rotated"
    case webhookReplayed = "webhook.replayed"
    case webhookTestSent = "webhook.test_sent"
    case adminUserCreated = "admin_user.created"
    case adminUserUpdated = "admin_user.updated"
    case adminUserDeleted = "admin_user.deleted"
    case roleCreated = "admin_role.created"
    case roleUpdated = "admin_role.updated"
    case roleDeleted = "admin_role.deleted"
    case roleGranted = "admin_role.granted"
    case roleGrantRevoked = "admin_role.grant_revoked"
    case signedIn = "auth.login"
    case loginFailed = "auth.login_failed"
    case sessionRevoked = "auth.session_revoked"
    case refreshReused = "auth.refresh_reused"
    case tenantRateLimitSet = "tenant.rate_limit_set"
    case tenantRateLimitRemoved = "tenant.rate_limit_removed"
    case scimTokenRateLimitSet = "scim_token.rate_limit_set"
    case scimTokenRateLimitRemoved = "scim_token.rate_limit_removed"
    case adminKeyRateLimitSet = "admin_key.rate_limit_set"
    case adminKeyRateLimitRemoved = "admin_key.rate_limit_removed"
    case configUpdated = "config.updated"
    case setupLinkCreated = "setup_link.created"
    case setupLinkRevoked = "setup_link.revoked"

    /// What the action is about, as an audit entry's `target.type` names it.
    public var targetType: String {
        switch self {
        case .tenantCreated, .tenantUpdated, .tenantRateLimitSet, .tenantRateLimitRemoved: "tenant"
        case .scimTokenCreated, .scimTokenRevoked, .scimTokenRateLimitSet, .scimTokenRateLimitRemoved: "scim_token"
        case .adminKeyCreated, .adminKeyRevoked, .adminKeyRateLimitSet, .adminKeyRateLimitRemoved: "admin_key"
        case .webhookCreated, .webhookUpdated, .webhookDeleted, .webhookSecretRotated, .webhookReplayed, .webhookTestSent: "webhook"
        case .adminUserCreated, .adminUserUpdated, .adminUserDeleted, .loginFailed: "admin_user"
        case .roleCreated, .roleUpdated, .roleDeleted, .roleGranted, .roleGrantRevoked: "admin_role"
        case .signedIn, .sessionRevoked, .refreshReused: "admin_session"
        case .configUpdated: "config"
        case .setupLinkCreated, .setupLinkRevoked: "setup_link"
        }
    }
}

/// Who performs an admin action, as its audit entry records it.
public struct AuditContext: Sendable, Equatable {
    /// An admin key (nil id: the bootstrap key), or `.system` for the CLI.
    public var actor: Actor
    /// The admin API request's `X-Request-Id`.
    public var requestID: String?
    /// The client's address, as the server saw it.
    public var sourceAddress: String?

    public init(actor: Actor, requestID: String? = nil, sourceAddress: String? = nil) {
        self.actor = actor
        self.requestID = requestID
        self.sourceAddress = sourceAddress
    }

    /// Roster itself: the CLI and `roster dev`.
    public static let system = AuditContext(actor: .system)
}

extension PostgresQuery.StringInterpolation {
    /// An admin action's audit entry as `INSERT INTO admin_actions … SELECT … FROM row`, for a
    /// data-modifying CTE of the action's own statement: one entry when `row` (the CTE holding the
    /// row acted on) has it, none when the action found nothing, and none when the statement fails.
    /// `tenant`, `target` and `details` are SQL over `row`, written by the repository (never input);
    /// the actor and request id are bound.
    mutating func appendInterpolation(
        audit action: AdminAction, by context: AuditContext, from row: String, tenant: String, target: String, details: String
    ) {
        appendLiteral(
            "INSERT INTO admin_actions (tenant_id, actor_type, actor_id, actor_subject, source_address, request_id, action, target_type, target_id, details) SELECT \(tenant), ")
        appendInterpolation(context.actor.type)
        appendLiteral(", ")
        appendInterpolation(context.actor.id)
        appendLiteral("::uuid, ")
        appendInterpolation(context.actor.subject)
        appendLiteral("::text, ")
        appendInterpolation(context.sourceAddress)
        appendLiteral("::text, ")
        appendInterpolation(context.requestID)
        appendLiteral("::text, ")
        appendInterpolation(action.rawValue)
        appendLiteral(", ")
        appendInterpolation(action.targetType)
        appendLiteral(", \(target), \(details) FROM \(row)")
    }
}

/// SQL expressions for audit details.
public enum AuditSQL {
    /// A timestamptz column as the admin API writes dates (RFC 3339, UTC, milliseconds); NULL stays NULL.
    public static func date(_ column: String) -> String {
        #"to_char(\#(column) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"#
    }
}
