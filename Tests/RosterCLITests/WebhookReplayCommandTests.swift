import Foundation
import PostgresNIO
import RosterStore
import Testing

@testable import roster

extension CLISuite {
    @Suite("roster webhook replay --through")
    struct WebhookReplayCommandTests {
        /// A database with `count` events of the default tenant, written before a subscription made by `roster webhook
        /// create` (so it stands at `count`); the subscription's id and the events' ids by sequence number.
        static func feed(_ count: Int) async throws -> (url: String, subscription: String, ids: [Int64: String]) {
            let url = try await freshDatabase()
            let ids = try await inspect(url) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                for _ in 0..<count {
                    try await db.query(
                        """
                        INSERT INTO events (tenant_id, id, type, resource_type, resource_id, resource_version, actor_type,
                                            transaction_id, occurred_at, data)
                        VALUES (\(tenant), gen_random_uuid(), 'user.created', 'User', gen_random_uuid(), 1, 'system', gen_random_uuid(), now(), '{}')
                        """)
                }
                try await EventLog(database: db).stamp(tenant: tenant)
                let events = try await EventLog(database: db).read(tenant: tenant, .init(limit: 1000))
                return Dictionary(uniqueKeysWithValues: events.map { ($0.sequence, $0.id.uuidString.lowercased()) })
            }
            let created = await cli(["webhook", "create", "--url", "https://hooks.example.com/r"], database: url)
            #expect(created.succeeded, "\(created.everything)")
            let listed = await cli(["webhook", "list"], database: url)
            let subscription = try #require(listed.output.firstMatch(of: /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/).map { String($0.output) })
            return (url, subscription, ids)
        }

        static func state(_ url: String, _ subscription: String) async throws -> WebhookSubscription {
            let id = try #require(UUID(uuidString: subscription))
            return try await inspect(url) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                return try #require(try await WebhookSubscriptions(database: db).get(tenant: tenant, id: id))
            }
        }

        @Test("--through replays only that range and says where the subscription carries on; without it, everything from --from")
        func range() async throws {
            let (url, subscription, ids) = try await Self.feed(5)
            let (two, three) = (try #require(ids[2]), try #require(ids[3]))
            let ranged = await cli(["webhook", "replay", subscription, "--from", two, "--through", three], database: url)
            #expect(ranged.succeeded, "\(ranged.everything)")
            #expect(ranged.output.contains("sends events \(two) through \(three) again"), "\(ranged.output)")
            #expect(ranged.output.contains("then carries on after sequence 5"), "\(ranged.output)")
            let state = try await Self.state(url, subscription)
            #expect(state.position == 1 && state.replay == ReplayInProgress(through: 3, resume: 5))

            let one = await cli(["webhook", "replay", subscription, "--from", three, "--through", three], database: url)
            #expect(one.output.contains("sends event \(three) again"), "\(one.output)")

            let everything = await cli(["webhook", "replay", subscription, "--from", two], database: url)
            #expect(everything.output.contains("sends again from event \(two) (position 1)"), "\(everything.output)")
            #expect(try await Self.state(url, subscription).replay == nil, "a replay without an end ends the range")
        }

        @Test("--through before --from, an unknown event or a malformed id is refused and changes nothing")
        func refused() async throws {
            let (url, subscription, ids) = try await Self.feed(3)
            let (one, three) = (try #require(ids[1]), try #require(ids[3]))
            let cases: [([String], String)] = [
                (["--from", three, "--through", one], "comes before --from"),
                (["--from", one, "--through", UUID().uuidString], "No event"),
                (["--from", one, "--through", "not-an-id"], "is not an event id"),
            ]
            for (arguments, message) in cases {
                let result = await cli(["webhook", "replay", subscription] + arguments, database: url)
                #expect(!result.succeeded, "\(arguments)")
                #expect(result.everything.contains(message), "\(arguments): \(result.everything)")
            }
            let state = try await Self.state(url, subscription)
            #expect(state.position == 3 && state.replay == nil)
        }
    }
}
