import Foundation
import HTTPTypes
import PostgresNIO
import RosterAuth
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

/// What the admin lists are read in: a tenant with nothing of its own yet, a key bound to it, one webhook
/// subscription of it (for its delivery log) and a custom role (for its grants).
struct PagingScope: Sendable {
    let name: String
    let tenant: UUID
    let boundKey: String
    let subscription: UUID
    let role: UUID
    let roleName: String

    static func make(_ roster: Roster, name: String = "paging") async throws -> PagingScope {
        let tenant = try await roster.admin(.post, "/tenants", body: #"{"name":"\#(name)"}"#)
        #expect(tenant.status == .created, "\(tenant.body)")
        let tenantID = try #require(UUID(uuidString: tenant.json["id"]?.stringValue ?? ""))
        let key = try await roster.sql { db in
            try await AdminKeyRepository(database: db).create(
                name: "\(name)-bound", tenant: tenantID, scopes: [.tenants, .scimTokens, .adminKeys, .webhooks], by: .system
            ).1.reveal()
        }
        let webhook = try await roster.admin(.post, "/tenants/\(name)/webhooks", body: #"{"url":"http://127.0.0.1:9/\#(name)"}"#)
        #expect(webhook.status == .created, "\(webhook.body)")
        let role = try await roster.admin(.post, "/admin/roles", body: #"{"name":"\#(name)-role","scopes":["feed:read"]}"#)
        #expect(role.status == .created, "\(role.body)")
        return PagingScope(
            name: name, tenant: tenantID, boundKey: key, subscription: try #require(UUID(uuidString: webhook.json["id"]?.stringValue ?? "")),
            role: try #require(UUID(uuidString: role.json["id"]?.stringValue ?? "")), roleName: "\(name)-role")
    }
}

/// Where a made item goes in its list's order.
enum Placement: Sendable {
    /// Seeded: rank r sorts after rank r - 1; ranks 3k, 3k+1 and 3k+2 tie on the list's key, so the id decides among them.
    case rank(Int)
    /// Made between page reads, sorting before the page already read: never shown.
    case behind
    /// Made between page reads, sorting after everything: shown last.
    case ahead
}

/// An admin list as the paging tests drive it: its path and credential, how an item of it is made where its order wants it,
/// and the order seeded items must come back in.
enum PagedList: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case tenants, scimTokens, tenantScimTokens, adminKeys, webhooks, tenantWebhooks, deliveries, tenantDeliveries, adminUsers, roles, roleGrants

    var testDescription: String { rawValue }

    func path(_ scope: PagingScope) -> String {
        switch self {
        case .tenants: "/tenants"
        case .scimTokens: "/scim/tokens"
        case .tenantScimTokens: "/tenants/\(scope.name)/scim/tokens"
        case .adminKeys: "/admin-keys"
        case .webhooks: "/webhooks"
        case .tenantWebhooks: "/tenants/\(scope.name)/webhooks"
        case .deliveries: "/webhooks/\(scope.subscription.uuidString.lowercased())/deliveries"
        case .tenantDeliveries: "/tenants/\(scope.name)/webhooks/\(scope.subscription.uuidString.lowercased())/deliveries"
        case .adminUsers: "/admin/users"
        case .roles: "/admin/roles"
        case .roleGrants: "/admin/roles/\(scope.roleName)/grants"
        }
    }

    /// The credential that reads it: the routes without a tenant in the path read the bound key's tenant.
    func key(_ roster: Roster, _ scope: PagingScope) -> String {
        switch self {
        case .scimTokens, .webhooks, .deliveries: scope.boundKey
        default: roster.adminKey
        }
    }

    /// The table and column of a list in creation order (nil for the others).
    var createdColumn: (table: String, column: String)? {
        switch self {
        case .tenants: ("tenants", "created")
        case .scimTokens, .tenantScimTokens: ("scim_tokens", "created")
        case .adminKeys: ("admin_keys", "created")
        case .webhooks, .tenantWebhooks: ("webhook_subscriptions", "created")
        case .adminUsers: ("admin_users", "created")
        case .roleGrants: ("admin_role_grants", "created")
        case .deliveries, .tenantDeliveries, .roles: nil
        }
    }

    /// Makes one item placed as asked; returns its id as the list shows it.
    func make(_ roster: Roster, _ scope: PagingScope, _ placement: Placement) async throws -> String {
        let label = switch placement {
        case .rank(let rank): "r\(rank)"
        case .behind: "behind"
        case .ahead: "ahead"
        }
        let id: String
        switch self {
        case .tenants:
            id = try await Self.created(roster, "/tenants", #"{"name":"\#(scope.name)-\#(label)"}"#)
        case .scimTokens, .tenantScimTokens:
            id = try await Self.created(roster, "/tenants/\(scope.name)/scim/tokens", #"{"name":"\#(label)"}"#)
        case .adminKeys:
            id = try await Self.created(roster, "/admin-keys", #"{"name":"\#(label)","scopes":["feed:read"]}"#)
        case .webhooks, .tenantWebhooks:
            id = try await Self.created(roster, "/tenants/\(scope.name)/webhooks", #"{"url":"http://127.0.0.1:9/\#(label)"}"#)
        case .adminUsers:
            id = try await Self.created(roster, "/admin/users", #"{"email":"\#(label)@\#(scope.name).test"}"#)
        case .roleGrants:
            let user = try await Self.created(roster, "/admin/users", #"{"email":"holder-\#(label)@\#(scope.name).test"}"#)
            id = try await Self.created(roster, "/admin/roles/\(scope.roleName)/grants", #"{"user_id":"\#(user)"}"#)
        case .roles:
            // Built-in roles sort first, then custom ones by name: the name is the placement.
            let name = switch placement {
            case .rank(let rank): "\(scope.name)-r" + String(format: "%02d", rank)
            case .behind: "a-\(scope.name)-behind"
            case .ahead: "zz-\(scope.name)-ahead"
            }
            return try await Self.created(roster, "/admin/roles", #"{"name":"\#(name)","scopes":["feed:read"]}"#)
        case .deliveries, .tenantDeliveries:
            let delivery = RosterStore.WebhookDelivery(
                eventSequence: nil, eventID: UUID(), attempt: 1, statusCode: 204, outcome: .succeeded, error: nil, latencyMilliseconds: 1,
                nextRetryAt: nil)
            try await roster.sql { db in
                // The days the seeded attempts are moved to ("2020", and a year before) need partitions of their own.
                for day in [Self.base.addingTimeInterval(-365 * 86_400), Self.base] {
                    try await FeedPartitions(database: db).create(
                        .deliveries, from: day.addingTimeInterval(-2 * 86_400), through: day.addingTimeInterval(86_400), days: 1,
                        lockWait: .seconds(1))
                }
                try await WebhookSubscriptions(database: db).recordTest(delivery, tenant: scope.tenant, subscription: scope.subscription, by: .system)
            }
            // The latest first: seeded attempts are older than now, a rank older than the rank before it; one made now
            // sorts before them (behind), one a year older after them (ahead).
            switch placement {
            case .rank(let rank):
                try await roster.sql(
                    "UPDATE webhook_deliveries SET attempted_at = \(Self.base) - \(Int64(rank / 3)) * interval '1 microsecond' WHERE id = \(delivery.id)")
            case .behind: break
            case .ahead:
                try await roster.sql("UPDATE webhook_deliveries SET attempted_at = \(Self.base) - interval '1 year' WHERE id = \(delivery.id)")
            }
            return delivery.id.uuidString.lowercased()
        }
        // Oldest first: seeded items were made "in 2020", ranks a microsecond apart; one made now sorts after them all
        // (ahead), one moved a day before them before them (behind).
        guard let (table, column) = createdColumn, let uuid = UUID(uuidString: id) else { return id }
        switch placement {
        case .rank(let rank):
            try await roster.sql(
                "UPDATE \(unescaped: table) SET \(unescaped: column) = \(Self.base) + \(Int64(rank / 3)) * interval '1 microsecond' WHERE id = \(uuid)")
        case .behind:
            try await roster.sql("UPDATE \(unescaped: table) SET \(unescaped: column) = \(Self.base) - interval '1 day' WHERE id = \(uuid)")
        case .ahead: break
        }
        return id
    }

    /// The order seeded items come back in: their rank's group, then the id (both reversed for the delivery log,
    /// latest first), or the name for roles.
    func expected(_ seeded: [(rank: Int, id: String)]) -> [String] {
        switch self {
        case .roles: seeded.sorted { $0.rank < $1.rank }.map(\.id)
        case .deliveries, .tenantDeliveries: seeded.sorted { ($0.rank / 3, $1.id) < ($1.rank / 3, $0.id) }.map(\.id)
        default: seeded.sorted { ($0.rank / 3, $0.id) < ($1.rank / 3, $1.id) }.map(\.id)
        }
    }

    /// 2020-01-01, before anything a test makes now.
    static let base = Date(timeIntervalSince1970: 1_577_836_800)

    private static func created(_ roster: Roster, _ path: String, _ body: String) async throws -> String {
        let reply = try await roster.admin(.post, path, body: body)
        #expect(reply.status == .created, "\(path): \(reply.body)")
        return try #require(reply.json["id"]?.stringValue)
    }
}

/// One page of a list.
struct ListPageReply {
    let reply: Reply
    var ids: [String] { reply.json["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? [] }
    var next: String? { reply.json["next_cursor"]?.stringValue }
}

extension Roster {
    /// A page of `path` (`query` without the leading `?`), which must be a 200.
    func listPage(_ path: String, _ query: String = "", key: String? = nil) async throws -> ListPageReply {
        let reply = try await admin(.get, query.isEmpty ? path : "\(path)?\(query)", key: key)
        #expect(reply.status == .ok, "\(path)?\(query): \(reply.body)")
        return ListPageReply(reply: reply)
    }

    /// Every id of `path`, `limit` a page, following `next_cursor`; `between` runs after page `pause`.
    /// Each page but the last must be full, and the last must say so by having no `next_cursor`.
    func walk(_ path: String, key: String? = nil, limit: Int, pause: Int = 2, between: () async throws -> Void = {}) async throws -> [String] {
        var ids: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try await listPage(path, "limit=\(limit)" + (cursor.map { "&cursor=\($0)" } ?? ""), key: key)
            try #require(page.reply.status == .ok)
            cursor = page.next
            #expect(cursor == nil ? page.ids.count <= limit : page.ids.count == limit, "page \(pages + 1): \(page.reply.body)")
            ids += page.ids
            pages += 1
            if pages == pause { try await between() }
            guard pages <= 100 else {
                Issue.record("paging \(path) by \(limit) does not end")
                break
            }
        } while cursor != nil
        return ids
    }
}
