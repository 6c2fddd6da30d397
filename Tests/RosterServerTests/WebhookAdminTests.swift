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
    @Suite("Admin API: webhook subscriptions")
    struct WebhookAdminTests {
        static let receiver = "https://hooks.example.com/roster"

        /// Creates a subscription of the default tenant through the API; returns its answer.
        static func create(_ roster: Roster, _ body: String = #"{"url":"\#(receiver)"}"#, key: String? = nil, path: String = "/webhooks")
            async throws -> Reply
        {
            let reply = try await roster.admin(.post, path, key: key, body: body)
            #expect(reply.status == .created, "\(reply.body)")
            return reply
        }

        static func key(_ roster: Roster, tenant: String? = nil, scopes: [AdminScope]) async throws -> String {
            try await roster.sql { db in
                let id = try await tenant.asyncMap { try #require(try await TenantRepository(database: db).find($0)).id }
                return try await AdminKeyRepository(database: db).create(name: "fixture", tenant: id, scopes: scopes, by: .system).1.reveal()
            }
        }

        static func date(_ value: JSONValue?) throws -> Date {
            let text = try #require(value?.stringValue)
            return try #require(SCIMDate.parse(text), "\(text)")
        }

        /// The admin API with production's URL policy, and no dispatcher sending to the URLs these tests make up.
        static func adminOnly(_ configuration: inout RosterConfiguration) {
            configuration.webhooksEnabled = false
            configuration.webhooks.urlPolicy = WebhookURLPolicy(allowPrivate: false)
        }

        @Test("POST /webhooks answers 201 with the secret once; list and get never show it")
        func secretShownOnce() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                _ = try await roster.createUser("alice")  // event 1: a new subscription starts after it
                let created = try await Self.create(
                    roster, #"{"url":"\#(Self.receiver)","event_types":["user.deleted","user.created","user.deleted"],"description":"Portal"}"#)
                let secret = try #require(created.json["secret"]?.stringValue)
                let id = try #require(created.json["id"]?.stringValue)
                #expect(WebhookSecret(secret) != nil, "a Standard Webhooks secret: \(secret.prefix(6))…")
                #expect(created.json["url"] == .string(Self.receiver))
                #expect(created.json["description"] == "Portal")
                #expect(created.json["event_types"] == ["user.created", "user.deleted"], "once each, in the document's order")
                #expect(created.json["enabled"] == true)
                #expect(created.json["position"] == 1)
                #expect(created.json["tenant_id"]?.stringValue != nil)
                #expect(created.json["previous_secret_expires_at"] == nil)

                let list = try await roster.admin(.get, "/webhooks")
                #expect(list.status == .ok)
                #expect(list.json["data"]?.arrayValue?.map { $0["id"] } == [.string(id)])
                let get = try await roster.admin(.get, "/webhooks/\(id)")
                #expect(get.status == .ok)
                #expect(get.json["description"] == "Portal")
                for reply in [list, get, try await roster.admin(.get, "/tenants/default/webhooks/\(id)")] {
                    #expect(!reply.body.contains(secret) && !reply.body.contains("whsec_") && !reply.body.contains("\"secret\""))
                }
                // Without event_types: every type, shown by its absence.
                let all = try await Self.create(roster, #"{"url":"\#(Self.receiver)","event_types":null}"#)
                #expect(all.json["event_types"] == nil && all.json["description"] == "")
                #expect(all.json["secret"] != created.json["secret"])
            }
        }

        @Test("a URL on loopback, a private network or link-local is refused unless configuration allows it; so are non-http URLs and credentials")
        func urlPolicy() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                for url in [
                    "http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.1.2.3/hook", "http://192.168.0.1/", "http://[::1]:8080/",
                    "http://169.254.169.254/latest/meta-data", "ftp://hooks.example.com/", "hooks.example.com/roster",
                    "https://user:pass@hooks.example.com/", "",
                ] {
                    let reply = try await roster.admin(.post, "/webhooks", body: #"{"url":"\#(url)"}"#)
                    reply.expectAdminError(.badRequest)
                    #expect(reply.json["error"]?["message"]?.stringValue?.contains("'url'") == true, "\(url): \(reply.body)")
                }
                let id = try #require(try await Self.create(roster).json["id"]?.stringValue)
                try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"url":"http://127.0.0.1:9/hook"}"#).expectAdminError(.badRequest)
                #expect(try await roster.admin(.get, "/webhooks/\(id)").json["url"] == .string(Self.receiver))
                #expect(try await roster.admin(.get, "/webhooks").json["data"]?.arrayValue?.count == 1, "nothing refused was stored")
            }
            try await Roster.run(configure: { Self.adminOnly(&$0); $0.webhooks.urlPolicy = WebhookURLPolicy(allowPrivate: true) }) { roster in
                let created = try await Self.create(roster, #"{"url":"http://127.0.0.1:9/hook"}"#)
                #expect(created.json["url"] == "http://127.0.0.1:9/hook")
                try await roster.admin(.post, "/webhooks", body: #"{"url":"ftp://127.0.0.1/"}"#).expectAdminError(.badRequest)
            }
        }

        @Test("an unknown event type is 400 naming the valid ones; an empty list, a null url or description and a long description are 400")
        func invalidBodies() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                let unknown = try await roster.admin(.post, "/webhooks", body: #"{"url":"\#(Self.receiver)","event_types":["user.exploded"]}"#)
                unknown.expectAdminError(.badRequest)
                let message = unknown.json["error"]?["message"]?.stringValue ?? ""
                #expect(EventType.allCases.allSatisfy { message.contains($0.rawValue) }, "\(message)")
                for body in [
                    #"{"url":"\#(Self.receiver)","event_types":[]}"#, #"{"url":null}"#, #"{"event_types":null}"#,
                    #"{"url":"\#(Self.receiver)","description":null}"#, #"{"url":"\#(Self.receiver)","description":"a\nb"}"#,
                    #"{"url":"\#(Self.receiver)","description":"\#(String(repeating: "x", count: 1001))"}"#,
                    #"{"url":"\#(Self.receiver)","event_types":"user.created"}"#, "[]",
                ] {
                    try await roster.admin(.post, "/webhooks", body: body).expectAdminError(.badRequest)
                }
                let id = try #require(try await Self.create(roster).json["id"]?.stringValue)
                for body in [#"{"event_types":["user.exploded"]}"#, #"{"enabled":null}"#, #"{"url":null}"#, #"{"enabled":"yes"}"#] {
                    try await roster.admin(.patch, "/webhooks/\(id)", body: body).expectAdminError(.badRequest)
                }
            }
        }

        @Test("PATCH changes only the fields sent: url, event types (null: every type again), description, enabled")
        func update() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                let created = try await Self.create(roster, #"{"url":"\#(Self.receiver)","event_types":["user.created"],"description":"one"}"#)
                let id = try #require(created.json["id"]?.stringValue)
                let moved = try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"url":"https://other.example.com/in"}"#)
                #expect(moved.status == .ok, "\(moved.body)")
                #expect(moved.json["url"] == "https://other.example.com/in")
                #expect(moved.json["event_types"] == ["user.created"] && moved.json["description"] == "one")
                #expect(try Self.date(moved.json["updated"]) >= Self.date(created.json["updated"]))

                let typed = try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"event_types":["group.deleted"],"description":"two"}"#)
                #expect(typed.json["event_types"] == ["group.deleted"] && typed.json["description"] == "two")
                let untouched = try await roster.admin(.patch, "/webhooks/\(id)", body: "{}")
                #expect(untouched.json["event_types"] == ["group.deleted"], "an absent event_types leaves them")
                let every = try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"event_types":null}"#)
                #expect(every.status == .ok && every.json["event_types"] == nil, "\(every.body)")

                let disabled = try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"enabled":false}"#)
                #expect(disabled.json["enabled"] == false && disabled.json["disabled_reason"] == nil)
                #expect(try await roster.admin(.get, "/webhooks/\(id)").json["enabled"] == false)
                #expect(try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"enabled":true}"#).json["enabled"] == true)
                #expect(!(try await roster.admin(.patch, "/webhooks/\(id)", body: "{}").body.contains("whsec_")))
            }
        }

        @Test("enabling again clears what Roster set when it disabled (410) or paused (retries spent) the subscription")
        func enableResumes() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                let id = try #require(try await Self.create(roster).json["id"]?.stringValue)
                try await roster.sql { db in
                    try await db.query(
                        "UPDATE webhook_subscriptions SET enabled = false, disabled_reason = 'gone', paused_at = now() WHERE id = \(UUID(uuidString: id)!)")
                }
                let stopped = try await roster.admin(.get, "/webhooks/\(id)")
                #expect(stopped.json["enabled"] == false && stopped.json["disabled_reason"] == "gone" && stopped.json["paused_at"] != nil)
                let resumed = try await roster.admin(.patch, "/webhooks/\(id)", body: #"{"enabled":true}"#)
                #expect(resumed.json["enabled"] == true && resumed.json["disabled_reason"] == nil && resumed.json["paused_at"] == nil, "\(resumed.body)")
            }
        }

        @Test("rotate-secret answers a new secret once; the previous one keeps signing until previous_secret_expires_at, a day later")
        func rotate() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                let created = try await Self.create(roster)
                let id = try #require(created.json["id"]?.stringValue)
                let first = try #require(created.json["secret"]?.stringValue)
                let before = Date()
                let rotated = try await roster.admin(.post, "/webhooks/\(id)/rotate-secret")
                #expect(rotated.status == .ok, "\(rotated.body)")
                let second = try #require(rotated.json["secret"]?.stringValue)
                #expect(second != first && WebhookSecret(second) != nil)
                let expiry = try Self.date(rotated.json["previous_secret_expires_at"])
                #expect(abs(expiry.timeIntervalSince(before) - 86_400) < 120, "\(expiry)")
                // Both are kept to sign: the new one, and the previous one for the overlap.
                let signing = try await roster.sql { db in
                    let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                    return try #require(try await WebhookSubscriptions(database: db).target(tenant: tenant, id: UUID(uuidString: id)!)).secrets
                }
                #expect(signing.map(\.text) == [second, first])
                let get = try await roster.admin(.get, "/webhooks/\(id)")
                #expect(get.json["previous_secret_expires_at"] == rotated.json["previous_secret_expires_at"])
                #expect(!get.body.contains(second) && !get.body.contains(first))
                try await roster.admin(.post, "/webhooks/\(UUID().uuidString)/rotate-secret").expectAdminError(.notFound)
            }
        }

        @Test("replay moves position to just before the event and resumes a paused subscription; another tenant's event or subscription is 404")
        func replay() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                for name in ["alice", "bob", "carol"] { _ = try await roster.createUser(name) }
                let created = try await Self.create(roster)
                let id = try #require(created.json["id"]?.stringValue)
                #expect(created.json["position"] == 3)
                let events = try #require(try await roster.admin(.get, "/events").json["data"]?.arrayValue)
                let second = try #require(events.first { $0["sequence"] == 2 }?["id"]?.stringValue)
                try await roster.sql { db in
                    try await db.query("UPDATE webhook_subscriptions SET paused_at = now() WHERE id = \(UUID(uuidString: id)!)")
                }

                let replayed = try await roster.admin(.post, "/webhooks/\(id)/replay", body: #"{"event_id":"\#(second)"}"#)
                #expect(replayed.status == .accepted, "\(replayed.body)")
                #expect(replayed.json["position"] == 1)
                #expect(replayed.json["paused_at"] == nil)
                #expect(try await roster.admin(.get, "/webhooks/\(id)").json["position"] == 1)

                let other = try await roster.otherTenant("other")
                _ = try await roster.scim(.post, "/Users", token: other.token, body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}"#)
                let foreign = try #require(try await roster.admin(.get, "/tenants/other/events").json["data"]?[0]?["id"]?.stringValue)
                try await roster.admin(.post, "/webhooks/\(id)/replay", body: #"{"event_id":"\#(foreign)"}"#).expectAdminError(.notFound)
                try await roster.admin(.post, "/webhooks/\(id)/replay", body: #"{"event_id":"\#(UUID().uuidString)"}"#).expectAdminError(.notFound)
                try await roster.admin(.post, "/tenants/other/webhooks/\(id)/replay", body: #"{"event_id":"\#(foreign)"}"#)
                    .expectAdminError(.notFound)
                try await roster.admin(.post, "/webhooks/\(id)/replay", body: #"{"event_id":"not-an-id"}"#).expectAdminError(.badRequest)
                try await roster.admin(.post, "/webhooks/\(id)/replay", body: "{}").expectAdminError(.badRequest)
                #expect(try await roster.admin(.get, "/webhooks/\(id)").json["position"] == 1, "refused replays change nothing")
            }
        }

        @Test("deliveries: an empty list at first, then every attempt latest first with unset values absent; limit holds")
        func deliveries() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                _ = try await roster.createUser("alice")
                let id = try #require(try await Self.create(roster).json["id"]?.stringValue)
                let empty = try await roster.admin(.get, "/webhooks/\(id)/deliveries")
                #expect(empty.status == .ok)
                #expect(empty.json == ["data": []], "\(empty.body)")

                let event = try #require(try await roster.admin(.get, "/events").json["data"]?[0]?["id"]?.stringValue)
                try await roster.sql { db in
                    let subscription = UUID(uuidString: id)!
                    let eventID = UUID(uuidString: event)!
                    try await db.query(
                        """
                        INSERT INTO webhook_deliveries (tenant_id, subscription_id, id, event_seq, event_id, attempt, attempted_at,
                                                        status_code, outcome, error, latency_ms, next_retry_at)
                        SELECT tenant_id, id, gen_random_uuid(), 1, \(eventID), 1, now() - interval '10 seconds', NULL, 'retrying',
                               'connection refused', 3, now() - interval '5 seconds'
                        FROM webhook_subscriptions WHERE id = \(subscription)
                        UNION ALL
                        SELECT tenant_id, id, gen_random_uuid(), 1, \(eventID), 2, now(), 204, 'succeeded', NULL, 12, NULL
                        FROM webhook_subscriptions WHERE id = \(subscription)
                        """)
                }
                let attempts = try #require(try await roster.admin(.get, "/webhooks/\(id)/deliveries").json["data"]?.arrayValue)
                #expect(attempts.map { $0["attempt"] } == [2, 1])
                #expect(attempts[0]["outcome"] == "succeeded" && attempts[0]["status_code"] == 204 && attempts[0]["latency_ms"] == 12)
                #expect(attempts[0]["error"] == nil && attempts[0]["next_retry_at"] == nil)
                #expect(attempts[1]["outcome"] == "retrying" && attempts[1]["status_code"] == nil && attempts[1]["error"] == "connection refused")
                #expect(attempts[1]["next_retry_at"]?.stringValue != nil)
                #expect(attempts.allSatisfy { $0["event_id"] == .string(event) && $0["event_sequence"] == 1 && $0["attempted_at"] != nil })
                #expect(try await roster.admin(.get, "/webhooks/\(id)/deliveries?limit=1").json["data"]?.arrayValue?.count == 1)
                for bad in ["limit=0", "limit=1001"] {
                    try await roster.admin(.get, "/webhooks/\(id)/deliveries?\(bad)").expectAdminError(.badRequest)
                }
                try await roster.admin(.get, "/webhooks/\(UUID().uuidString)/deliveries").expectAdminError(.notFound)
            }
        }

        @Test("DELETE answers 204; the subscription is gone, and a second DELETE is 404")
        func delete() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                let id = try #require(try await Self.create(roster).json["id"]?.stringValue)
                let deleted = try await roster.admin(.delete, "/webhooks/\(id)")
                #expect(deleted.status == .noContent && deleted.body.isEmpty)
                try await roster.admin(.get, "/webhooks/\(id)").expectAdminError(.notFound)
                try await roster.admin(.delete, "/webhooks/\(id)").expectAdminError(.notFound)
                try await roster.admin(.get, "/webhooks/not-a-uuid").expectAdminError(.notFound)
                #expect(try await roster.admin(.get, "/webhooks").json == ["data": []])
            }
        }

        @Test("every webhook route needs the webhooks scope")
        func scopeRequired() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                let id = try #require(try await Self.create(roster).json["id"]?.stringValue)
                let without = try await Self.key(roster, scopes: [.tenants, .scimTokens, .adminKeys, .feedRead])
                let routes: [(HTTPRequest.Method, String, String?)] = [
                    (.get, "/webhooks", nil), (.post, "/webhooks", #"{"url":"\#(Self.receiver)"}"#), (.get, "/webhooks/\(id)", nil),
                    (.patch, "/webhooks/\(id)", "{}"), (.delete, "/webhooks/\(id)", nil), (.post, "/webhooks/\(id)/rotate-secret", nil),
                    (.get, "/webhooks/\(id)/deliveries", nil), (.post, "/webhooks/\(id)/replay", #"{"event_id":"\#(UUID().uuidString)"}"#),
                    (.get, "/tenants/default/webhooks", nil), (.get, "/tenants/default/webhooks/\(id)", nil),
                ]
                for (method, path, body) in routes {
                    let reply = try await roster.admin(method, path, key: without, body: body)
                    reply.expectAdminError(.forbidden)
                    #expect(reply.json["error"]?["message"]?.stringValue?.contains("webhooks") == true, "\(method) \(path): \(reply.body)")
                }
                let with = try await Self.key(roster, scopes: [.webhooks])
                #expect(try await roster.admin(.get, "/webhooks/\(id)", key: with).status == .ok)
            }
        }

        @Test("a tenant-bound key works on its own tenant's subscriptions only; a global key names any tenant")
        func tenantIsolation() async throws {
            try await Roster.run(configure: Self.adminOnly) { roster in
                let acme = try await roster.otherTenant("acme")
                let defaultID = try #require(try await Self.create(roster).json["id"]?.stringValue)
                let bound = try await Self.key(roster, tenant: "acme", scopes: [.webhooks])
                let own = try await Self.create(roster, key: bound)
                #expect(own.json["tenant_id"] == .string(acme.id))
                let ownID = try #require(own.json["id"]?.stringValue)

                #expect(try await roster.admin(.get, "/webhooks", key: bound).json["data"]?.arrayValue?.map { $0["id"] } == [.string(ownID)])
                try await roster.admin(.get, "/webhooks/\(defaultID)", key: bound).expectAdminError(.notFound)
                try await roster.admin(.patch, "/webhooks/\(defaultID)", key: bound, body: #"{"enabled":false}"#).expectAdminError(.notFound)
                try await roster.admin(.post, "/webhooks/\(defaultID)/rotate-secret", key: bound).expectAdminError(.notFound)
                try await roster.admin(.delete, "/webhooks/\(defaultID)", key: bound).expectAdminError(.notFound)
                try await roster.admin(.get, "/tenants/default/webhooks", key: bound).expectAdminError(.notFound)
                try await roster.admin(.post, "/tenants/default/webhooks", key: bound, body: #"{"url":"\#(Self.receiver)"}"#)
                    .expectAdminError(.notFound)
                #expect(try await roster.admin(.get, "/tenants/acme/webhooks/\(ownID)", key: bound).status == .ok)
                #expect(try await roster.admin(.get, "/webhooks/\(defaultID)").json["enabled"] == true, "the other tenant's is untouched")

                // The global key: the default tenant without a name, any tenant by name.
                #expect(try await roster.admin(.get, "/webhooks").json["data"]?.arrayValue?.map { $0["id"] } == [.string(defaultID)])
                #expect(try await roster.admin(.get, "/tenants/acme/webhooks").json["data"]?.arrayValue?.map { $0["id"] } == [.string(ownID)])
                try await roster.admin(.get, "/webhooks/\(ownID)").expectAdminError(.notFound)
                let named = try await Self.create(roster, path: "/tenants/acme/webhooks")
                #expect(named.json["tenant_id"] == .string(acme.id))
                try await roster.admin(.get, "/tenants/nope/webhooks").expectAdminError(.notFound)
            }
        }
    }
}

extension Roster {
    /// Runs `body` on this Roster's database directly, for what the API cannot set up.
    @discardableResult
    func sql<T: Sendable>(_ body: @Sendable (RosterDatabase) async throws -> T) async throws -> T {
        try await withDatabase(url: databaseURL, logger: TestPostgres.require().logger, secrets: TestSecrets.atRest, body)
    }
}
