import Foundation
import HTTPTypes
import PostgresNIO
import RosterAuth
import RosterFeed
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Change feed: every change recorded with it, read back by cursor")
    struct ChangeFeedTests {
        /// Every event of the default tenant after `after`, through the admin API.
        static func events(_ roster: Roster, after: String = "0", query: String = "") async throws -> [JSONValue] {
            let reply = try await roster.admin(.get, "/events?after=\(after)&limit=1000\(query)")
            #expect(reply.status == .ok, "\(reply.body)")
            return reply.json["data"]?.arrayValue ?? []
        }

        static func cursor(_ roster: Roster) async throws -> String {
            try await roster.admin(.get, "/events?limit=1000").json["next_cursor"]?.stringValue ?? "0"
        }

        @Test("user events: created, updated, deactivated, reactivated, deleted; a no-op and a failed write record nothing")
        func userEvents() async throws {
            try await Roster.run { roster in
                let token = try #require(try await roster.admin(.get, "/scim/tokens").json["data"]?.arrayValue?.first?["id"]?.stringValue)
                let alice = try await roster.createUser("alice", extra: #","active":true"#)
                try await roster.patch("/Users/\(alice)", #"[{"op":"replace","path":"displayName","value":"Alice"}]"#)
                try await roster.patch("/Users/\(alice)", #"[{"op":"replace","path":"active","value":false}]"#)
                try await roster.patch("/Users/\(alice)", #"[{"op":"replace","value":{"active":true,"title":"Boss"}}]"#)
                try await roster.patch("/Users/\(alice)", #"[{"op":"replace","path":"title","value":"Boss"}]"#)  // no change
                try await roster.scim(.post, "/Users", body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ALICE"}"#)
                    .expectScimError(.conflict, "uniqueness")
                let version = try await roster.scim(.get, "/Users/\(alice)").json["meta"]?["version"]
                try await roster.scim(.delete, "/Users/\(alice)")

                let events = try await Self.events(roster)
                #expect(events.map { $0["type"] } == [
                    "user.created", "user.updated", "user.deactivated", "user.updated", "user.reactivated", "user.deleted",
                ])
                #expect(events.map { $0["sequence"] } == (1...6).map { .integer($0) })
                #expect(events.map { $0["event_uri"]?.stringValue?.replacingOccurrences(of: "urn:ietf:params:scim:event:prov:", with: "") } == [
                    "create:notice", "patch:notice", "deactivate", "patch:notice", "activate", "delete",
                ])
                #expect(events.allSatisfy { $0["resource_id"] == .string(alice) && $0["resource_type"] == "User" })
                #expect(events.allSatisfy { $0["actor"] == ["type": "scim_token", "id": .string(token)] })
                #expect(events.map { $0["resource_version"] } == [1, 2, 3, 4, 4, 4])
                #expect(version == #"W/"4""#)
                // The two events of one PATCH share its transaction; different requests do not.
                #expect(events[3]["transaction_id"] == events[4]["transaction_id"])
                #expect(events[2]["transaction_id"] != events[3]["transaction_id"])
                #expect(events[1]["data"]?["displayName"] == "Alice")
                #expect(events[5]["data"]?["userName"] == "alice", "a deletion carries the last attributes")
                #expect(Set(events.compactMap { $0["id"]?.stringValue }).count == 6)
            }
        }

        @Test("setting an unset active to true, or unsetting a true one, changes what the user shows: a user.updated, no (re)activation")
        func activeSetWithoutChange() async throws {
            try await Roster.run { roster in
                let bob = try await roster.createUser("bob")
                try await roster.patch("/Users/\(bob)", #"[{"op":"replace","path":"active","value":true}]"#)
                try await roster.patch("/Users/\(bob)", #"[{"op":"remove","path":"active"}]"#)
                try await roster.patch("/Users/\(bob)", #"[{"op":"replace","path":"active","value":false}]"#)
                let events = try await Self.events(roster)
                #expect(events.map { $0["type"] } == ["user.created", "user.updated", "user.updated", "user.deactivated"])
                #expect(events.map { $0["resource_version"] } == [1, 2, 3, 4])
                #expect(events[1]["data"]?["active"] == true)
                #expect(events[2]["data"]?["active"] == nil)
            }
        }

        @Test("group events: created with its members, updated, members added and removed as deltas, deleted; deleting a member records its departure")
        func groupEvents() async throws {
            try await Roster.run { roster in
                let alice = try await roster.createUser("alice")
                let bob = try await roster.createUser("bob")
                let carol = try await roster.createUser("carol")
                let inner = try await roster.createGroup("Inner")
                let start = try await Self.cursor(roster)
                let team = try await roster.createGroup("Team", members: [alice, inner])
                try await roster.patch("/Groups/\(team)", #"[{"op":"add","path":"members","value":[{"value":"\#(alice)"}]}]"#)  // no change
                try await roster.patch("/Groups/\(team)", #"""
                    [{"op":"add","path":"members","value":[{"value":"\#(bob)"},{"value":"\#(carol)"}]},
                     {"op":"remove","path":"members[value eq \"\#(alice)\"]"},
                     {"op":"replace","path":"displayName","value":"Team A"}]
                    """#)
                try await roster.patch("/Groups/\(team)", #"""
                    [{"op":"add","path":"members","value":[{"value":"\#(alice)"}]},{"op":"remove","path":"members[value eq \"\#(alice)\"]"}]
                    """#)  // nets to nothing
                try await roster.scim(.delete, "/Users/\(bob)")
                try await roster.scim(.delete, "/Groups/\(inner)")
                try await roster.scim(.delete, "/Groups/\(team)")

                let events = try await Self.events(roster, after: start)
                #expect(events.map { $0["type"] } == [
                    "group.created", "group.members.added",
                    "group.updated", "group.members.added", "group.members.removed",
                    "user.deleted", "group.members.removed",
                    "group.deleted", "group.members.removed",
                    "group.deleted",
                ])
                func members(_ event: JSONValue) -> Set<String> {
                    Set(event["data"]?["members"]?.arrayValue?.compactMap { $0["value"]?.stringValue } ?? [])
                }
                #expect(members(events[1]) == [alice, inner])
                #expect(events[1]["data"]?["members"]?.arrayValue?.first { $0["value"] == .string(inner) }?["type"] == "Group")
                #expect(members(events[3]) == [bob, carol])
                #expect(members(events[4]) == [alice])
                #expect(events[6]["resource_id"] == .string(team) && members(events[6]) == [bob])
                #expect(events[8]["resource_id"] == .string(team) && members(events[8]) == [inner])
                #expect(events[2]["data"]?["displayName"] == "Team A")
                #expect(events[2]["event_uri"] == "urn:ietf:params:scim:event:prov:patch:notice")
                // The version an event names is the group's after the change.
                #expect(events[2]["resource_version"] == events[4]["resource_version"])
            }
        }

        @Test("a 3-member change to a 10 000-member group is a 3-member event")
        func deltaNotGroup() async throws {
            try await Roster.run { roster in
                let ids = try await LargeGroupTests.seedUsers(10_003, url: roster.databaseURL)
                let group = try await roster.createGroup("Everyone", members: Array(ids.prefix(10_000)))
                let start = try await Self.cursor(roster)
                let added = ids.suffix(3).map { #"{"value":"\#($0)"}"# }.joined(separator: ",")
                #expect(try await roster.patch("/Groups/\(group)", #"[{"op":"add","path":"members","value":[\#(added)]}]"#).status == .noContent)
                let events = try await Self.events(roster, after: start)
                #expect(events.map { $0["type"] } == ["group.members.added"])
                #expect(events.first?["data"]?["members"]?.arrayValue?.count == 3)
            }
        }

        @Test("every operation of a Bulk request shares its transaction id")
        func bulkTransaction() async throws {
            try await Roster.run { roster in
                try await roster.scim(.post, "/Bulk", body: #"""
                    {"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[
                     {"method":"POST","path":"/Users","bulkId":"a","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}},
                     {"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"bulkId:a"}]}}]}
                    """#)
                let events = try await Self.events(roster)
                #expect(events.map { $0["type"] } == ["user.created", "group.created", "group.members.added"])
                #expect(Set(events.map { $0["transaction_id"] }).count == 1)
            }
        }

        @Test("the pull API pages by cursor and narrows by type, resource and time; bad parameters are 400; scope and tenant hold")
        func pullAPI() async throws {
            try await Roster.run { roster in
                let alice = try await roster.createUser("alice")
                _ = try await roster.createUser("bob")
                try await roster.patch("/Users/\(alice)", #"[{"op":"replace","path":"active","value":false}]"#)
                // Pages of two, following next_cursor; an empty page keeps the cursor.
                var cursor = "0"
                var types: [JSONValue] = []
                for _ in 0..<3 {
                    let page = try await roster.admin(.get, "/events?limit=2&after=\(cursor)")
                    types += page.json["data"]?.arrayValue?.compactMap { $0["type"] } ?? []
                    cursor = try #require(page.json["next_cursor"]?.stringValue)
                }
                #expect(types == ["user.created", "user.created", "user.deactivated"])
                #expect(cursor == "3")
                #expect(try await Self.events(roster, query: "&type=user.deactivated,user.deleted").map { $0["type"] } == ["user.deactivated"])
                #expect(try await Self.events(roster, query: "&resource_id=\(alice)").count == 2)
                #expect(try await Self.events(roster, query: "&since=2999-01-01T00:00:00Z").isEmpty)
                #expect(try await roster.admin(.get, "/tenants/default/events").json["data"]?.arrayValue?.count == 3)

                for bad in ["after=-1", "after=x", "limit=0", "limit=1001", "type=user.exploded", "resource_id=nope", "since=yesterday"] {
                    try await roster.admin(.get, "/events?\(bad)").expectAdminError(.badRequest)
                }
                let other = try await roster.otherTenant("other")
                #expect(try await roster.admin(.get, "/tenants/other/events").json["data"]?.arrayValue?.isEmpty == true)
                _ = other
                let (noScope, bound) = try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger) { db in
                    let keys = AdminKeyRepository(database: db)
                    let tenant = try #require(try await TenantRepository(database: db).find("other"))
                    return (
                        try await keys.create(name: "t", tenant: nil, scopes: [.tenants], by: .system).1.reveal(),
                        try await keys.create(name: "b", tenant: tenant.id, scopes: [.feedRead], by: .system).1.reveal())
                }
                try await roster.admin(.get, "/events", key: noScope).expectAdminError(.forbidden)
                try await roster.admin(.get, "/tenants/default/events", key: bound).expectAdminError(.notFound)
                #expect(try await roster.admin(.get, "/events", key: bound).json["data"]?.arrayValue?.isEmpty == true, "a bound key reads its own tenant")
            }
        }

        @Test("retention drops the partitions of events and delivery attempts older than it, and nothing newer")
        func retention() async throws {
            // The server's own retention pass keeps ten years, so only the test's pass below drops anything.
            try await Roster.run(configure: { $0.eventRetention = .seconds(3650 * 86_400) }) { roster in
                let old = try await roster.createUser("old")
                _ = try await roster.createUser("new")
                let logger = try TestPostgres.require().logger
                let (expired, events, deliveries) = try await withDatabase(url: roster.databaseURL, logger: logger, secrets: TestSecrets.atRest) { db in
                    let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                    let (subscription, _) = try await WebhookSubscriptions(database: db).create(
                        tenant: tenant, url: "https://example.com/hook", eventTypes: nil, description: "", by: .system)
                    // Forty days ago and yesterday have partitions, as they had when those rows were written.
                    for age in [40.0, 1] {
                        let day = Date().addingTimeInterval(-age * 86_400)
                        for table in PartitionedTable.allCases { try await FeedPartitions(database: db).create(table, from: day, through: day, days: 1, lockWait: .seconds(1)) }
                    }
                    for (age, id) in [(40, UUID()), (1, UUID())] {
                        try await WebhookSubscriptions(database: db).recordTest(
                            WebhookDelivery(id: id, eventSequence: nil, eventID: UUID(), attempt: 1, attemptedAt: Date(), statusCode: 204,
                                            outcome: .succeeded, error: nil, latencyMilliseconds: 1, nextRetryAt: nil),
                            tenant: tenant, subscription: subscription.id, by: .system)
                        try await db.query("UPDATE webhook_deliveries SET attempted_at = now() - make_interval(days => \(Int32(age))) WHERE id = \(id)")
                    }
                    // A numbered event moved to another day: its day is recorded as its stamp would have (0023).
                    try await db.query("UPDATE events SET occurred_at = now() - interval '40 days' WHERE resource_id = \(UUID(uuidString: old)!)")
                    try await db.query("SELECT record_event_days()")
                    let expired = try await FeedRetention(database: db, retention: .seconds(30 * 86_400), logger: logger).prune()
                    let events = try await db.query("SELECT count(*) FROM events").first?.decode(Int.self) ?? -1
                    let deliveries = try await db.query("SELECT count(*) FROM webhook_deliveries").first?.decode(Int.self) ?? -1
                    return (expired, events, deliveries)
                }
                #expect(expired.count == 2 && expired.allSatisfy { $0.outcome == .dropped }, "\(expired)")
                #expect(Set(expired.map { $0.name.hasPrefix("events_") }) == [true, false], "one partition of each table")
                #expect(events == 1)
                #expect(deliveries == 1)
                #expect(try await Self.events(roster).map { $0["data"]?["userName"] } == ["new"])
            }
        }
    }
}
