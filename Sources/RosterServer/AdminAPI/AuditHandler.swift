import Foundation
import OpenAPIRuntime
import RosterAuth
import RosterStore
import SCIM

/// `/api/v1/audit` (every tenant for a global key, its own for a bound one) and
/// `/api/v1/tenants/{tenant}/audit`: SCIM changes and admin actions, by time, by cursor. Scope `audit:read`.
struct AuditHandler: Sendable {
    let tenants: TenantRepository
    let audit: AuditLog

    /// Every action name the log can hold: the change feed's event types, then the admin actions.
    static let auditActions = EventType.allCases.map(\.rawValue) + AdminAction.allCases.map(\.rawValue)

    /// Both routes' entries, `tenant` nil for the credential's (a global key's: every tenant's).
    func list(
        tenant reference: String?, cursor: String?, limit: Int?, actor: String?, actions: String?, since: Date?
    ) async throws -> Components.Schemas.AuditLog {
        let principal = try AuthenticatedAdmin.require(.auditRead)
        var query = AuditLog.Query()
        // Without a tenant in the path: a bound key's own tenant, a global key's whole log (global entries too).
        if reference != nil || !principal.allowsGlobally(.auditRead) {
            query.tenant = try await tenants.tenant(named: reference, for: principal, scope: .auditRead).id
        }
        if let cursor {
            guard let position = AuditPosition(cursor: cursor) else {
                throw AdminError.invalidRequest("'cursor' must be the next_cursor of an earlier answer.")
            }
            query.after = position
        }
        if let limit {
            guard (1...1000).contains(limit) else { throw AdminError.invalidRequest("'limit' must be between 1 and 1000.") }
            query.limit = limit
        }
        switch actor {
        case nil: break
        case "system": query.actor = .system
        case "bootstrap": query.actor = .bootstrap
        case let id?:
            guard let id = UUID(uuidString: id) else {
                throw AdminError.invalidRequest("'actor' must be an admin key's or SCIM token's id, 'bootstrap' or 'system'.")
            }
            query.actor = .id(id)
        }
        if let actions {
            query.actions = try actions.split(separator: ",", omittingEmptySubsequences: false).map { name in
                let name = name.trimmingCharacters(in: .whitespaces)
                guard Self.auditActions.contains(name) else {
                    throw AdminError.invalidRequest("'action' lists actions, comma-separated: \(Self.auditActions.joined(separator: ", ")).")
                }
                return name
            }
        }
        query.since = since
        let (entries, more) = try await audit.read(query)
        return .init(data: try entries.map(Components.Schemas.AuditEntry.init), nextCursor: more ? entries.last?.position.cursor : nil)
    }
}

extension AdminAPI {
    func listAuditEntries(_ input: Operations.ListAuditEntries.Input) async throws -> Operations.ListAuditEntries.Output {
        let q = input.query
        return .ok(.init(body: .json(try await audit.list(
            tenant: nil, cursor: q.cursor, limit: q.limit, actor: q.actor, actions: q.action, since: q.since))))
    }

    func listTenantAuditEntries(_ input: Operations.ListTenantAuditEntries.Input) async throws -> Operations.ListTenantAuditEntries.Output {
        let q = input.query
        return .ok(.init(body: .json(try await audit.list(
            tenant: input.path.tenant, cursor: q.cursor, limit: q.limit, actor: q.actor, actions: q.action, since: q.since))))
    }
}

extension Components.Schemas.AuditEntry {
    init(_ entry: RosterStore.AuditEntry) throws {
        guard let action = Components.Schemas.AuditAction(rawValue: entry.action),
            let targetType = TargetPayload._TypePayload(rawValue: entry.targetType)
        else { throw StoreError.unavailable("audit entry \(entry.id) has an unknown action or target") }
        let actor: ActorPayload._TypePayload =
            switch entry.actor {
            case .scimToken: .scimToken
            case .adminKey: .adminKey
            case .adminUser: .adminUser
            case .oidc: .oidc
            case .setupLink: .setupLink
            case .system: .system
            }
        self.init(
            id: entry.id.lowercasedString, source: entry.source == .scim ? .scim : .admin, action: action,
            tenantId: entry.tenant?.lowercasedString, actor: .init(_type: actor, id: entry.actor.id?.lowercasedString, subject: entry.actor.subject),
            target: .init(_type: targetType, id: entry.targetID?.lowercasedString), sourceAddress: entry.sourceAddress, occurredAt: entry.occurred,
            transactionId: entry.transaction?.lowercasedString, requestId: entry.requestID,
            details: .init(additionalProperties: try OpenAPIObjectContainer(unvalidatedValue: entry.details.mapValues(\.unvalidated))))
    }
}
