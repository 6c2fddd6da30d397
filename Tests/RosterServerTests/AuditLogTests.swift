import Foundation
import Hummingbird
import PostgresNIO
import RosterAuth
import RosterFeed
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Audit log: SCIM changes and admin actions, with who did them, by cursor")
    struct AuditLogTests {
        /// Every entry `path` answers, following next_cursor; each page must be a 200.
        static func entries(_ roster: Roster, _ query: String = "", key: String? = nil, path: String = "/audit", limit: Int = 1000)
            async throws -> [JSONValue]
        {
            var entries: [JSONValue] = []
            var cursor: String?
            var pages = 0
            repeat {
                pages += 1
                guard pages <= 500 else {
                    Issue.record("paging \(path) by \(limit) does not end")
                    break
                }
                let reply = try await roster.admin(.get, "\(path)?limit=\(limit)\(query)" + (cursor.map { "&cursor=\($0)" } ?? ""), key: key)
                #expect(reply.status == .ok, "\(reply.body)")
                entries += reply.json["data"]?.arrayValue ?? []
                cursor = reply.json["next_cursor"]?.stringValue
            } while cursor != nil
            return entries
        }

        /// The admin actions of the log (SCIM changes left out), oldest first.
        static func adminEntries(_ roster: Roster, key: String? = nil, path: String = "/audit") async throws -> [JSONValue] {
            try await entries(roster, key: key, path: path).filter { $0["source"] == "admin" }
        }

        /// The id of the harness's global admin key (named "test").
        static func harnessKeyID(_ roster: Roster) async throws -> String {
            let keys = try #require(try await roster.admin(.get, "/admin-keys").json["data"]?.arrayValue)
            return try #require(keys.first { $0["name"] == "test" }?["id"]?.stringValue)
        }

        /// The admin API without a dispatcher; a test event goes to loopback, where nothing listens.
        static func adminOnly(_ configuration: inout RosterConfiguration) {
            configuration.webhooksEnabled = false
            configuration.webhooks.urlPolicy = WebhookURLPolicy(allowPrivate: true)
        }

        @Test("every admin action is recorded with its actor, target, tenant and request id, and no secret")
        func adminActions() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                let keyID = try await Self.harnessKeyID(roster)
                let before = try await Self.adminEntries(roster).count
                var secrets: [String] = []
                var requestIDs: [String] = []
                func act(_ method: HTTPRequest.Method, _ path: String, _ body: String? = nil, _ status: HTTPResponse.Status) async throws -> Reply {
                    let reply = try await roster.admin(method, path, body: body)
                    #expect(reply.status == status, "\(path): \(reply.body)")
                    requestIDs.append(try #require(reply.headers[.init("X-Request-Id")!]))
                    for field in ["token", "key", "secret"] { if let secret = reply.json[field]?.stringValue { secrets.append(secret) } }
                    return reply
                }
                let acme = try #require(try await act(.post, "/tenants", #"{"name":"acme"}"#, .created).json["id"]?.stringValue)
                let token = try #require(try await act(.post, "/tenants/acme/scim/tokens", #"{"name":"Okta"}"#, .created).json["id"]?.stringValue)
                _ = try await act(.delete, "/tenants/acme/scim/tokens/\(token)", nil, .ok)
                let key = try #require(
                    try await act(.post, "/admin-keys", #"{"name":"acme-ci","scopes":["scim-tokens"],"tenant":"acme"}"#, .created).json["id"]?.stringValue)
                _ = try await act(.delete, "/admin-keys/\(key)", nil, .ok)
                let hook = try #require(try await act(
                    .post, "/tenants/acme/webhooks", #"{"url":"http://127.0.0.1:9/hooks/s3cr3t-path?token=abc","description":"Portal"}"#, .created
                ).json["id"]?.stringValue)
                _ = try await act(.patch, "/tenants/acme/webhooks/\(hook)", #"{"enabled":false,"description":"Paused portal"}"#, .ok)
                _ = try await act(.post, "/tenants/acme/webhooks/\(hook)/rotate-secret", nil, .ok)
                let acmeToken = try #require(
                    try await roster.admin(.post, "/tenants/acme/scim/tokens", body: #"{"name":"writer"}"#).json["token"]?.stringValue)
                secrets.append(acmeToken)
                _ = try await roster.scim(.post, "/Users", token: acmeToken, body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}"#)
                let event = try #require(try await roster.admin(.get, "/tenants/acme/events").json["data"]?[0]?["id"]?.stringValue)
                _ = try await act(.post, "/tenants/acme/webhooks/\(hook)/replay", #"{"event_id":"\#(event)"}"#, .accepted)
                _ = try await act(.post, "/tenants/acme/webhooks/\(hook)/test", nil, .ok)
                _ = try await act(.delete, "/tenants/acme/webhooks/\(hook)", nil, .noContent)

                let reply = try await roster.admin(.get, "/audit?limit=1000")
                let recorded = try await Self.adminEntries(roster).dropFirst(before)
                    .filter { !($0["action"] == "scim_token.created" && $0["details"]?["name"] == "writer") }
                #expect(recorded.map { $0["action"] } == [
                    "tenant.created", "scim_token.created", "scim_token.revoked", "admin_key.created", "admin_key.revoked",
                    "webhook.created", "webhook.updated", "webhook.secret_rotated", "webhook.replayed", "webhook.test_sent", "webhook.deleted",
                ])
                #expect(recorded.map { $0["target"]?["id"]?.stringValue } == [acme, token, token, key, key] + Array(repeating: hook, count: 6))
                #expect(recorded.map { $0["target"]?["type"]?.stringValue } == [
                    "tenant", "scim_token", "scim_token", "admin_key", "admin_key",
                ] + Array(repeating: "webhook", count: 6))
                #expect(recorded.allSatisfy { $0["actor"] == ["type": "admin_key", "id": .string(keyID)] })
                #expect(recorded.map { $0["request_id"]?.stringValue } == requestIDs.map(Optional.some))
                #expect(recorded[0]["tenant_id"] == nil, "a tenant's creation is a global action")
                #expect(recorded.dropFirst().allSatisfy { $0["tenant_id"] == .string(acme) })
                #expect(recorded.allSatisfy { $0["transaction_id"] == nil && $0["id"]?.stringValue != nil && $0["occurred_at"] != nil })
                // Details identify the target, never with a secret; a webhook URL only as its origin.
                #expect(recorded[0]["details"] == ["name": "acme"])
                #expect(recorded[1]["details"] == ["name": "Okta"])
                #expect(recorded[3]["details"]?["scopes"] == ["scim-tokens"])
                #expect(recorded[5]["details"]?["url_origin"] == "http://127.0.0.1:9")
                #expect(recorded[6]["details"]?["changed"] == ["description", "enabled"])
                #expect(recorded[6]["details"]?["enabled"] == false)
                #expect(recorded[7]["details"]?["previous_secret_expires_at"]?.stringValue != nil)
                #expect(recorded[8]["details"]?["event_id"] == .string(event))
                #expect(recorded[9]["details"]?["outcome"] == "failed")
                #expect(secrets.count == 5, "a token, a key, two webhook secrets and the writer's token")
                for secret in secrets { #expect(!reply.body.contains(secret)) }
                for fragment in ["whsec_", "radm_", "s3cr3t-path", "token=abc"] { #expect(!reply.body.contains(fragment), "\(fragment)") }
            }
        }

        @Test("SCIM changes are entries with the token as actor, the event's id, type, resource and transaction")
        func scimChanges() async throws {
            try await Roster.run { roster in
                let token = try #require(try await roster.admin(.get, "/scim/tokens").json["data"]?[0]?["id"]?.stringValue)
                let alice = try await roster.createUser("alice")
                let group = try await roster.createGroup("Team", members: [alice])
                try await roster.patch("/Users/\(alice)", #"[{"op":"replace","path":"active","value":false}]"#)
                let events = try #require(try await roster.admin(.get, "/events").json["data"]?.arrayValue)
                let scim = try await Self.entries(roster).filter { $0["source"] == "scim" }
                #expect(scim.map { $0["action"] } == ["user.created", "group.created", "group.members.added", "user.deactivated"])
                #expect(scim.map { $0["id"] } == events.map { $0["id"] })
                #expect(scim.map { $0["transaction_id"] } == events.map { $0["transaction_id"] })
                #expect(scim.allSatisfy { $0["actor"] == ["type": "scim_token", "id": .string(token)] && $0["request_id"] == nil })
                #expect(scim.map { $0["target"]?["type"] } == ["User", "Group", "Group", "User"])
                #expect(scim.map { $0["target"]?["id"]?.stringValue } == [alice, group, group, alice])
                #expect(scim[2]["details"] == ["sequence": 3, "resource_version": 1, "members": 1])
                #expect(scim[1]["transaction_id"] == scim[2]["transaction_id"])
                #expect(!(try await roster.admin(.get, "/audit").body.contains("alice")), "attributes stay in the change feed")
            }
        }

        @Test("paging by cursor returns every entry once and in order, however many share a microsecond, across tenants and sources")
        func paging() async throws {
            try await Roster.run { roster in
                _ = try await roster.otherTenant("acme")
                try await roster.scim(.post, "/Bulk", body: #"""
                    {"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[
                     {"method":"POST","path":"/Users","bulkId":"a","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}},
                     {"method":"POST","path":"/Users","bulkId":"b","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"b"}},
                     {"method":"POST","path":"/Users","bulkId":"c","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"c"}}]}
                    """#)
                // Around one instant T: events 1001 at T-1µs, 1002-1004 at T and 1005 at T+1µs in both tenants;
                // admin actions of both tenants and a global one at T, and a global one at T-1µs.
                try await roster.sql { db in
                    // T's day and the day before it need partitions of their own.
                    let t = Date(timeIntervalSince1970: 1_893_456_000)
                    try await FeedPartitions(database: db).create(
                        .events, from: t.addingTimeInterval(-3600), through: t.addingTimeInterval(3600), days: 1, lockWait: .seconds(1))
                    try await db.query(
                        """
                        INSERT INTO events (tenant_id, seq, id, type, resource_type, resource_id, resource_version, actor_type, actor_id,
                                            transaction_id, occurred_at, data)
                        SELECT t.id, 1000 + g.n, gen_random_uuid(), 'user.updated', 'User', gen_random_uuid(), 1, 'system', NULL, gen_random_uuid(),
                               timestamptz '2030-01-01 00:00:00.123456Z' + (CASE g.n WHEN 1 THEN -1 WHEN 5 THEN 1 ELSE 0 END) * interval '1 microsecond', '{}'
                        FROM tenants t, generate_series(1, 5) AS g(n)
                        """)
                    try await db.query(
                        """
                        INSERT INTO admin_actions (tenant_id, occurred_at, actor_type, action, target_type, target_id)
                        SELECT v.tenant_id, timestamptz '2030-01-01 00:00:00.123456Z' + v.d * interval '1 microsecond', 'system', 'tenant.created',
                               'tenant', gen_random_uuid()
                        FROM (VALUES ((SELECT id FROM tenants WHERE name = 'default'), 0), ((SELECT id FROM tenants WHERE name = 'acme'), 0),
                                     (NULL::uuid, 0), (NULL::uuid, -1)) AS v(tenant_id, d)
                        """)
                }
                let all = try await Self.entries(roster)
                #expect(all.count == 4 + 3 + 14, "the fixtures, acme and its token, the Bulk's three users, and the fourteen around T")
                #expect(Set(all.compactMap { $0["id"] }).count == all.count)
                let bulk = all.filter { $0["action"] == "user.created" }
                #expect(bulk.map { $0["details"]?["sequence"] } == [1, 2, 3], "one transaction's events in feed order")

                // Same time and source: events by tenant id (as PostgreSQL orders uuids: their lowercase text), then feed order.
                let tenants = Set(all.suffix(14).compactMap { $0["source"] == "scim" ? $0["tenant_id"]?.stringValue : nil }).sorted()
                let (a, b) = (try #require(tenants.first), try #require(tenants.last))
                func event(_ tenant: String, _ sequence: Int) -> String { "\(tenant) \(sequence)" }
                let tail = all.suffix(14).map { entry in
                    guard entry["source"] == "scim", case .integer(let sequence)? = entry["details"]?["sequence"] else {
                        return "admin \(entry["tenant_id"]?.stringValue ?? "global")"
                    }
                    return event(entry["tenant_id"]?.stringValue ?? "", sequence)
                }
                #expect(Array(tail.prefix(3)) == [event(a, 1001), event(b, 1001), "admin global"], "T-1µs: events by tenant, then actions")
                #expect(Array(tail[3..<9]) == [1002, 1003, 1004].map { event(a, $0) } + [1002, 1003, 1004].map { event(b, $0) })
                #expect(Set(tail[9..<12]).count == 3 && tail[9..<12].allSatisfy { $0.hasPrefix("admin") }, "T: actions after events")
                #expect(Array(tail.suffix(2)) == [event(a, 1005), event(b, 1005)])

                // Each page read by its position in the whole log: 0, 1, 2, … when every entry comes once and in order.
                let ids = all.map { $0["id"] }
                for limit in [1, 2, 3, 5, 7, 20] {
                    let paged = try await Self.entries(roster, limit: limit)
                    #expect(paged.map { ids.firstIndex(of: $0["id"]) } == Array(ids.indices), "pages of \(limit)")
                }
                // The last page has no next_cursor; the one before it does.
                let last = try await roster.admin(.get, "/audit?limit=\(all.count)")
                #expect(last.json["next_cursor"] == nil && last.json["data"]?.arrayValue?.count == all.count)
                let short = try await roster.admin(.get, "/audit?limit=\(all.count - 1)")
                let cursor = try #require(short.json["next_cursor"]?.stringValue)
                let rest = try await roster.admin(.get, "/audit?cursor=\(cursor)")
                #expect(rest.json["data"]?.arrayValue?.map { $0["id"] } == [all.last?["id"]] && rest.json["next_cursor"] == nil)
            }
        }

        @Test("the CLI's actions are system's, the bootstrap key's have no id; actor, action and since filter; bad parameters are 400")
        func filters() async throws {
            try await Roster.run { roster in
                let keyID = try await Self.harnessKeyID(roster)
                let token = try #require(try await roster.admin(.get, "/scim/tokens").json["data"]?[0]?["id"]?.stringValue)
                _ = try await roster.createUser("alice")
                try await Task.sleep(for: .milliseconds(20))
                let boundary = SCIMDate.format(Date())
                try await Task.sleep(for: .milliseconds(20))
                let created = try await roster.admin(.post, "/scim/tokens", key: roster.bootstrapKey, body: #"{"name":"by bootstrap"}"#)
                let second = try #require(created.json["id"]?.stringValue)
                _ = try await roster.admin(.delete, "/scim/tokens/\(second)")

                // The harness made its token and key as the CLI does: through the store, as system.
                let system = try await Self.entries(roster, "&actor=system")
                #expect(system.map { $0["action"] } == ["scim_token.created", "admin_key.created"])
                #expect(system.allSatisfy { $0["actor"] == ["type": "system"] && $0["request_id"] == nil })
                #expect(system[1]["tenant_id"] == nil && system[1]["target"]?["id"] == .string(keyID), "a global key's creation is global")
                let bootstrap = try await Self.entries(roster, "&actor=bootstrap")
                #expect(bootstrap.map { $0["action"] } == ["scim_token.created"])
                #expect(bootstrap.first?["actor"] == ["type": "admin_key"])
                #expect(try await Self.entries(roster, "&actor=\(keyID)").map { $0["action"] } == ["scim_token.revoked"])
                #expect(try await Self.entries(roster, "&actor=\(token)").map { $0["action"] } == ["user.created"])
                #expect(try await Self.entries(roster, "&actor=\(UUID().uuidString)").isEmpty)

                let both = try await Self.entries(roster, "&action=scim_token.revoked,user.created")
                #expect(both.map { $0["action"] } == ["user.created", "scim_token.revoked"])
                #expect(try await Self.entries(roster, "&action=admin_key.created&actor=system").count == 1, "filters combine")
                #expect(try await Self.entries(roster, "&action=webhook.deleted").isEmpty)

                let since = try await Self.entries(roster, "&since=\(boundary.urlQueryEncoded)")
                #expect(since.map { $0["action"] } == ["scim_token.created", "scim_token.revoked"])
                #expect(try await Self.entries(roster, "&since=2999-01-01T00:00:00Z").isEmpty)

                for bad in [
                    "cursor=garbage", "cursor=", "limit=0", "limit=1001", "action=user.exploded", "action=user.created,,", "action=",
                    "actor=someone", "actor=", "since=yesterday",
                ] {
                    try await roster.admin(.get, "/audit?\(bad)").expectAdminError(.badRequest)
                }
            }
        }

        @Test("audit:read is required; a tenant-bound key reads only its tenant; a global key reads all, or the tenant named")
        func scopeAndTenants() async throws {
            try await Roster.run { roster in
                let acme = try await roster.otherTenant("acme")
                _ = try await roster.scim(.post, "/Users", token: acme.token, body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}"#)
                _ = try await roster.createUser("d")
                let (feedOnly, bound, global) = try await roster.sql { db in
                    let keys = AdminKeyRepository(database: db)
                    let tenant = try #require(try await TenantRepository(database: db).find("acme"))
                    return (
                        try await keys.create(name: "feed", tenant: nil, scopes: [.feedRead, .tenants], by: .system).1.reveal(),
                        try await keys.create(name: "bound", tenant: tenant.id, scopes: [.auditRead], by: .system).1.reveal(),
                        try await keys.create(name: "auditor", tenant: nil, scopes: [.auditRead], by: .system).1.reveal())
                }
                for path in ["/audit", "/tenants/default/audit", "/tenants/acme/audit"] {
                    try await roster.admin(.get, path, key: feedOnly).expectAdminError(.forbidden)
                }
                let tenantIDs = { (entries: [JSONValue]) in Set(entries.map { $0["tenant_id"]?.stringValue ?? "global" }) }
                let everything = try await Self.entries(roster, key: global)
                #expect(tenantIDs(everything).count == 3, "default, acme and global entries")
                let own = try await Self.entries(roster, key: bound)
                #expect(tenantIDs(own) == [acme.id])
                #expect(own.map { $0["action"] } == ["scim_token.created", "user.created", "admin_key.created"])
                #expect(try await Self.entries(roster, key: bound, path: "/tenants/acme/audit") == own)
                try await roster.admin(.get, "/tenants/default/audit", key: bound).expectAdminError(.notFound)
                #expect(try await Self.entries(roster, key: global, path: "/tenants/\(acme.id)/audit") == own)
                #expect(tenantIDs(try await Self.entries(roster, key: global, path: "/tenants/default/audit")).count == 1)
                try await roster.admin(.get, "/tenants/nope/audit", key: global).expectAdminError(.notFound)
            }
        }

        @Test("a refused or failed admin action records nothing, and an audit entry that cannot be written undoes its action")
        func failuresRecordNothing() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                let hook = try #require(try await roster.admin(.post, "/webhooks", body: #"{"url":"http://127.0.0.1:9/"}"#).json["id"]?.stringValue)
                let before = try await Self.adminEntries(roster)
                try await roster.admin(.post, "/tenants", body: #"{"name":"default"}"#).expectAdminError(.conflict)
                try await roster.admin(.delete, "/scim/tokens/\(UUID().uuidString)").expectAdminError(.notFound)
                try await roster.admin(.delete, "/admin-keys/\(UUID().uuidString)").expectAdminError(.notFound)
                try await roster.admin(.post, "/scim/tokens", body: #"{"name":""}"#).expectAdminError(.badRequest)
                try await roster.admin(.patch, "/webhooks/\(UUID().uuidString)", body: #"{"enabled":false}"#).expectAdminError(.notFound)
                try await roster.admin(.patch, "/webhooks/\(hook)", body: #"{"url":"ftp://example.com/"}"#).expectAdminError(.badRequest)
                try await roster.admin(.delete, "/webhooks/\(UUID().uuidString)").expectAdminError(.notFound)
                try await roster.admin(.post, "/webhooks/\(UUID().uuidString)/rotate-secret").expectAdminError(.notFound)
                try await roster.admin(.post, "/webhooks/\(hook)/replay", body: #"{"event_id":"\#(UUID().uuidString)"}"#).expectAdminError(.notFound)
                try await roster.admin(.post, "/webhooks/\(UUID().uuidString)/test").expectAdminError(.notFound)
                let limited = try await roster.sql { db in
                    try await AdminKeyRepository(database: db).create(name: "l", tenant: nil, scopes: [.adminKeys], by: .system).1.reveal()
                }
                try await roster.admin(.post, "/admin-keys", key: limited, body: #"{"name":"x","scopes":["*"]}"#).expectAdminError(.forbidden)
                let after = try await Self.adminEntries(roster)
                #expect(after.count == before.count + 1, "only the fixture key's creation: \(after.dropFirst(before.count).map { $0["action"] })")

                // The action and its entry are one statement: an entry the table refuses (no SCIM token performs
                // admin actions) leaves no token behind.
                let tokens = try await roster.admin(.get, "/scim/tokens").json["data"]?.arrayValue?.count
                await #expect(throws: StoreError.self) {
                    try await roster.sql { db in
                        let tenant = try #require(try await TenantRepository(database: db).find("default"))
                        _ = try await ScimTokenRepository(database: db).create(tenant: tenant.id, name: "x", by: AuditContext(actor: .scimToken(UUID())))
                    }
                }
                #expect(try await roster.admin(.get, "/scim/tokens").json["data"]?.arrayValue?.count == tokens)
            }
        }
    }
}
