import Foundation
import HTTPTypes
import RosterAuth
import RosterServer
@testable import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Admin lists page by cursor: every item once, in order; a tampered or foreign cursor is a 400")
    struct AdminListPagingTests {
        /// No dispatcher: the subscriptions made here point nowhere.
        static func adminOnly(_ configuration: inout RosterConfiguration) {
            configuration.webhooksEnabled = false
            // Seeded delivery attempts are dated 2020: retention, a minute after start, would delete them mid-test
            // on a slow run (it did, in a CI run taking 123 s).
            configuration.eventRetention = .seconds(100 * 365 * 86_400)
        }

        @Test(
            "paging by 3 shows every item once, in the list's order, ties broken by id; of two items made between pages, the one behind the cursor is not shown and the one ahead is",
            arguments: PagedList.allCases)
        func pagesEveryItemOnce(_ list: PagedList) async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                let scope = try await PagingScope.make(roster)
                var seeded: [(rank: Int, id: String)] = []
                for rank in 0..<8 { seeded.append((rank, try await list.make(roster, scope, .rank(rank)))) }
                let path = list.path(scope)
                let key = list.key(roster, scope)
                var behind = ""
                var ahead = ""
                let ids = try await roster.walk(path, key: key, limit: 3) {
                    behind = try await list.make(roster, scope, .behind)
                    ahead = try await list.make(roster, scope, .ahead)
                }
                #expect(Set(ids).count == ids.count, "an item shown twice: \(ids)")
                let made = Set(seeded.map(\.id) + [behind, ahead])
                #expect(ids.filter(made.contains) == list.expected(seeded) + [ahead])
                // Read again from the start, one default page (100) holds the whole list, the item made behind included.
                let whole = try await roster.listPage(path, key: key)
                #expect(whole.next == nil)
                #expect(whole.ids.count == ids.count + 1 && Set(whole.ids) == Set(ids + [behind]))
            }
        }

        @Test(
            "a tampered cursor, another list's, another scope's, and a limit outside 1…500 are each a 400 invalid_request, never a 500",
            arguments: PagedList.allCases)
        func refusesBadPaging(_ list: PagedList) async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                let scope = try await PagingScope.make(roster)
                for rank in 0..<2 { _ = try await list.make(roster, scope, .rank(rank)) }
                let path = list.path(scope)
                let key = list.key(roster, scope)
                let cursor = try #require(try await roster.listPage(path, "limit=1", key: key).next)
                #expect(try await roster.listPage(path, "limit=1&cursor=\(cursor)", key: key).ids.count == 1)
                let tampered = [
                    "", "garbage", String(cursor.dropLast(4)), cursor + "A", "%21" + cursor, String(cursor.reversed()),
                    String(repeating: "A", count: 300),
                ]
                let refused = tampered.map { "cursor=\($0)" } + Self.foreignCursors(list, scope).map { "cursor=\($0)" }
                    + ["limit=0", "limit=501", "limit=-1", "limit=abc", "limit=1.5", "limit=100000000000000000000"]
                for query in refused {
                    let reply = try await roster.admin(.get, "\(path)?\(query)", key: key)
                    #expect(reply.status == .badRequest, "\(query): \(reply.body)")
                    reply.expectAdminError(.badRequest)
                    #expect(reply.json["error"]?["code"] == "invalid_request", "\(query): \(reply.body)")
                }
                #expect(try await roster.listPage(path, "limit=500", key: key).next == nil)
            }
        }

        @Test("a cursor of one tenant's list is refused on another tenant's; with the other tenant's key, no list shows the first tenant's rows")
        func crossTenant() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                let alpha = try await PagingScope.make(roster, name: "alpha")
                let beta = try await PagingScope.make(roster, name: "beta")
                // Each tenant's list by its path, and the same list by the route of the key's own tenant.
                let routes: [(named: PagedList, own: PagedList)] = [(.tenantScimTokens, .scimTokens), (.tenantWebhooks, .webhooks), (.tenantDeliveries, .deliveries)]
                for (named, own) in routes {
                    for rank in 0..<3 {
                        _ = try await named.make(roster, alpha, .rank(rank))
                        _ = try await named.make(roster, beta, .rank(rank))
                    }
                    let cursor = try #require(try await roster.listPage(named.path(alpha), "limit=1").next)
                    let betaCursor = try #require(try await roster.listPage(own.path(beta), "limit=1", key: beta.boundKey).next)
                    #expect(try await roster.listPage(own.path(beta), "cursor=\(betaCursor)", key: beta.boundKey).ids.count >= 2, "its own cursor pages on")
                    // Alpha's cursor on beta's list, by either route and with either key: refused.
                    for (path, key) in [(named.path(beta), beta.boundKey), (own.path(beta), beta.boundKey), (named.path(beta), roster.adminKey)] {
                        try await roster.admin(.get, "\(path)?cursor=\(cursor)", key: key).expectAdminError(.badRequest)
                    }
                    // On alpha's own path, beta's key finds no tenant alpha.
                    try await roster.admin(.get, "\(named.path(alpha))?cursor=\(cursor)", key: beta.boundKey).expectAdminError(.notFound)
                }
                // The lists of everything a credential sees take the cursors a global key was given, and show beta's key
                // only beta's rows from each of them.
                for (path, tenantField) in [("/tenants", "id"), ("/admin-keys", "tenant_id")] {
                    var cursor: String? = nil
                    var seen = 0
                    repeat {
                        let global = try await roster.listPage(path, "limit=1" + (cursor.map { "&cursor=\($0)" } ?? ""))
                        cursor = global.next
                        guard let cursor else { break }
                        let page = try await roster.listPage(path, "cursor=\(cursor)", key: beta.boundKey)
                        let tenants = Set(page.reply.json["data"]?.arrayValue?.map { $0[tenantField]?.stringValue ?? "global" } ?? [])
                        #expect(tenants.isSubset(of: [beta.tenant.uuidString.lowercased()]), "\(path): \(page.reply.body)")
                        seen += 1
                    } while true
                    #expect(seen >= 2, "\(path) was read from several places")
                }
            }
        }

        @Test("the audit log refuses an edited cursor whose time PostgreSQL cannot read as a cursor, before any statement runs")
        func auditCursorTime() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                for microseconds in [Int64.max, Int64.min] {
                    let edited = ListCursor.encode(.audit, [String(microseconds), "1", UUID().uuidString.lowercased(), "0"])
                    let reply = try await roster.admin(.get, "/audit?cursor=\(edited)")
                    reply.expectAdminError(.badRequest)
                    #expect(reply.json["error"]?["code"] == "invalid_request", "\(reply.body)")
                    // Not the database's "A value was refused: interval out of range", which it answered before.
                    #expect(reply.json["error"]?["message"]?.stringValue?.contains("'cursor'") == true, "\(reply.body)")
                }
            }
        }

        /// Cursors the list must refuse: every other list's in this list's scope, this list's in another scope, and this
        /// list's with a time PostgreSQL cannot add to 'epoch'.
        static func foreignCursors(_ list: PagedList, _ scope: PagingScope) -> [String] {
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
            let id = UUID()
            let (own, ownScope): (ListCursor.List, UUID?) =
                switch list {
                case .tenants: (.tenants, nil)
                case .scimTokens, .tenantScimTokens: (.scimTokens, scope.tenant)
                case .adminKeys: (.adminKeys, nil)
                case .webhooks, .tenantWebhooks: (.webhooks, scope.tenant)
                case .deliveries, .tenantDeliveries: (.webhookDeliveries, scope.tenant)
                case .adminUsers: (.adminUsers, nil)
                case .roles: (.roles, nil)
                case .roleGrants: (.roleGrants, scope.role)
                }
            var cursors: [String] = []
            for other in [ListCursor.List.tenants, .scimTokens, .adminKeys, .webhooks, .adminUsers, .roleGrants] where other != own {
                cursors.append(CreatedPosition(microseconds: now, id: id).cursor(other, scope: ownScope))
            }
            if own != .webhookDeliveries {
                cursors.append(DeliveryPosition(microseconds: now, attempt: 1, id: id).cursor(tenant: scope.tenant, subscription: scope.subscription))
            }
            if own != .roles { cursors.append(RolePosition(builtin: false, name: "custom", id: id).cursor) }
            cursors.append(AuditPosition(microseconds: now, source: .admin, key: id, sequence: 0).cursor)
            cursors.append(NewestFirstPosition(sequence: 5).cursor(tenant: scope.tenant))
            cursors.append(String(NewestFirstPosition(sequence: 5).sequence))
            switch own {
            case .webhookDeliveries:
                let position = DeliveryPosition(microseconds: now, attempt: 1, id: id)
                cursors += [
                    position.cursor(tenant: scope.tenant, subscription: UUID()), position.cursor(tenant: UUID(), subscription: scope.subscription),
                    ListCursor.encode(own, [ListCursor.scope(scope.tenant), ListCursor.scope(scope.subscription), String(Int64.max), "1", id.uuidString]),
                    ListCursor.encode(own, [ListCursor.scope(scope.tenant), ListCursor.scope(scope.subscription), String(now), "x", id.uuidString]),
                ]
            case .roles:
                cursors += [
                    ListCursor.encode(own, [ListCursor.scope(scope.tenant), "0", "custom", id.uuidString]),
                    ListCursor.encode(own, [ListCursor.scope(nil), "2", "custom", id.uuidString]),
                    ListCursor.encode(own, [ListCursor.scope(nil), "0", "Not A Name", id.uuidString]),
                ]
            default:
                cursors += [
                    CreatedPosition(microseconds: now, id: id).cursor(own, scope: ownScope == nil ? scope.tenant : UUID()),
                    ListCursor.encode(own, [ListCursor.scope(ownScope), String(Int64.max), id.uuidString]),
                    ListCursor.encode(own, [ListCursor.scope(ownScope), String(Int64.min), id.uuidString]),
                    ListCursor.encode(own, [ListCursor.scope(ownScope), String(now), "not-an-id"]),
                ]
            }
            return cursors
        }
    }
}
