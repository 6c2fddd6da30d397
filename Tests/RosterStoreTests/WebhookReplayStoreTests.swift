import Foundation
import Logging
import PostgresNIO
@testable import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension StoreSuite {
    /// The statements of a replay of one event or a range: where `replay` puts the subscription, and how the
    /// statements of its worker (`record`, `finishReplay`, `refreshed`, `claim`) carry it through the range.
    @Suite("Webhook replay of one event or a range: the statements")
    struct WebhookReplayStoreTests {
        /// A tenant's feed and one subscription of it, with a worker's leases.
        struct Feed: Sendable {
            let db: RosterDatabase
            let tenant: UUID
            let subscription: UUID
            /// The events' ids by sequence number: `ids[1]` is event 1.
            let ids: [Int64: UUID]
            let worker: WebhookLeases

            var subscriptions: WebhookSubscriptions { WebhookSubscriptions(database: db) }

            func replay(_ from: Int64, through: Int64? = nil) async throws -> WebhookSubscription {
                let outcome = try await subscriptions.replay(
                    tenant: tenant, id: subscription, from: try #require(ids[from]), through: try through.map { try #require(ids[$0]) }, by: .system)
                guard case .replayed(let replayed) = outcome else { throw ReplayRefused(outcome: outcome) }
                return replayed
            }

            func current() async throws -> WebhookSubscription {
                try #require(try await subscriptions.get(tenant: tenant, id: subscription))
            }

            /// The worker's lease on the subscription, as the dispatcher takes it.
            func claim(_ leases: WebhookLeases? = nil) async throws -> LeasedSubscription {
                let claimed = try await (leases ?? worker).claim(
                    limit: 10, busy: [:], tenantLimit: 10, lease: .seconds(30), logger: Logger(label: "test"))
                return try #require(claimed.first { $0.id == subscription }, "the subscription has an event due and no other lease")
            }

            /// One successful attempt at event `sequence`, recorded by `leases` (the worker's by default).
            func delivered(_ sequence: Int64, _ leased: LeasedSubscription, by leases: WebhookLeases? = nil) async throws -> WebhookProgress? {
                let delivery = WebhookDelivery(
                    eventSequence: sequence, eventID: try #require(ids[sequence]), attempt: 1, statusCode: 204, outcome: .succeeded,
                    error: nil, latencyMilliseconds: 1, nextRetryAt: nil)
                return try await (leases ?? worker).record(delivery, of: leased, delay: .zero, lease: .seconds(30))
            }

            /// What the dispatcher reads next for `leased`: after its position, through the range's end if one is under way.
            func due(_ leased: LeasedSubscription) async throws -> [Int64] {
                try await EventLog(database: db).read(
                    tenant: tenant, .init(after: leased.position, through: leased.replay?.through, types: leased.types), stampFirst: false
                ).map(\.sequence)
            }

            func append(_ types: [EventType]) async throws {
                try await WebhookReplayStoreTests.append(types, tenant: tenant, db: db)
            }
        }

        struct ReplayRefused: Error {
            let outcome: ReplayOutcome
        }

        static func append(_ types: [EventType], tenant: UUID, db: RosterDatabase) async throws {
            let logger = try TestPostgres.require().logger
            try await db.withConnection { connection in
                for type in types {
                    try await EventLog.append(
                        [NewEvent(type: type, resource: UUID(), version: 1, data: [:])], tenant: tenant, context: ChangeContext(actor: .system),
                        connection: connection, logger: logger)
                }
            }
            try await EventLog(database: db).stamp(tenant: tenant)
        }

        /// `before` events, then a subscription (at position `before`: as if it had delivered them), then `after` more.
        static func withFeed(
            before: [EventType], after: [EventType] = [], types: [EventType]? = nil, _ body: @Sendable (Feed) async throws -> Void
        ) async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                try await append(before, tenant: tenant, db: db)
                let (subscription, _) = try await WebhookSubscriptions(database: db).create(
                    tenant: tenant, url: "https://hooks.example.com/r", eventTypes: types, description: "", by: .system)
                try await append(after, tenant: tenant, db: db)
                let ids = Dictionary(uniqueKeysWithValues: try await EventLog(database: db).read(tenant: tenant, .init(limit: 1000)).map { ($0.sequence, $0.id) })
                try await body(Feed(db: db, tenant: tenant, subscription: subscription.id, ids: ids, worker: WebhookLeases(database: db, owner: UUID())))
            }
        }

        static func created(_ count: Int) -> [EventType] { Array(repeating: .userCreated, count: count) }

        @Test("one event: back to just before it, resuming where it was; its delivery jumps back there in the same statement")
        func oneEvent() async throws {
            try await Self.withFeed(before: Self.created(5), after: Self.created(1)) { feed in
                let replayed = try await feed.replay(3, through: 3)
                #expect(replayed.position == 2)
                #expect(replayed.replay == ReplayInProgress(through: 3, resume: 5))
                let leased = try await feed.claim()
                #expect(leased.position == 2 && leased.replay == ReplayInProgress(through: 3, resume: 5))
                #expect(try await feed.due(leased) == [3], "the read stops at the range's end")
                #expect(try await feed.delivered(3, leased) == WebhookProgress(position: 5, replay: nil))
                let after = try await feed.current()
                #expect(after.position == 5 && after.replay == nil)
                var next = leased
                next.position = 5
                next.replay = nil
                #expect(try await feed.due(next) == [6], "then the event after where it was, none of 4 and 5 again")
            }
        }

        @Test("a range: each delivery before its end moves on by one; the end's jumps to where it was")
        func range() async throws {
            try await Self.withFeed(before: Self.created(5)) { feed in
                #expect(try await feed.replay(2, through: 3).position == 1)
                var leased = try await feed.claim()
                #expect(try await feed.due(leased) == [2, 3])
                let second = try #require(try await feed.delivered(2, leased))
                #expect(second == WebhookProgress(position: 2, replay: ReplayInProgress(through: 3, resume: 5)))
                leased.position = second.position
                #expect(try await feed.delivered(3, leased) == WebhookProgress(position: 5, replay: nil))
            }
        }

        @Test("a lease taken over in the middle of a range carries on with the rest, and jumps at the end all the same")
        func takeover() async throws {
            try await Self.withFeed(before: Self.created(6)) { feed in
                _ = try await feed.replay(2, through: 4)
                var first = try await feed.claim()
                first.position = try #require(try await feed.delivered(2, first)).position
                // The first worker's process dies: its lease lapses.
                try await feed.db.query("UPDATE webhook_subscriptions SET lease_until = now() - interval '1 second' WHERE id = \(feed.subscription)")
                let other = WebhookLeases(database: feed.db, owner: UUID())
                var second = try await feed.claim(other)
                #expect(second.position == 2 && second.replay == ReplayInProgress(through: 4, resume: 6), "read from the row, not a memory")
                #expect(try await feed.delivered(3, first) == nil, "the lapsed worker's attempt moves nothing")
                second.position = try #require(try await feed.delivered(3, second, by: other)).position
                #expect(try await feed.delivered(4, second, by: other) == WebhookProgress(position: 6, replay: nil))
            }
        }

        @Test("a subscription a worker of this process has is never claimed by this process again, even past its lease")
        func ownWorkingLease() async throws {
            try await Self.withFeed(before: [], after: Self.created(3)) { feed in
                _ = try await feed.claim()
                // The worker's attempt outlasts the lease (a receiver slower than the lease time).
                try await feed.db.query("UPDATE webhook_subscriptions SET lease_until = now() - interval '1 second' WHERE id = \(feed.subscription)")
                func claimed(working: Set<UUID>) async throws -> [UUID] {
                    try await feed.worker.claim(
                        limit: 10, busy: [:], working: working, tenantLimit: 10, lease: .seconds(30), logger: Logger(label: "test")
                    ).map(\.id)
                }
                #expect(try await claimed(working: [feed.subscription]).isEmpty, "a second worker of one process would send out of order")
                #expect(try await claimed(working: []) == [feed.subscription], "once no worker has it, the lapsed lease is taken back")
                let other = WebhookLeases(database: feed.db, owner: UUID())
                try await feed.db.query("UPDATE webhook_subscriptions SET lease_until = now() - interval '1 second' WHERE id = \(feed.subscription)")
                #expect(try await other.claim(limit: 10, busy: [:], tenantLimit: 10, lease: .seconds(30), logger: Logger(label: "test")).map(\.id)
                    == [feed.subscription], "another process takes a lapsed lease, as before")
            }
        }

        @Test("a replay while an attempt is in flight: the attempt's statement finds the position moved and records nothing")
        func racingAttempt() async throws {
            try await Self.withFeed(before: Self.created(5), after: Self.created(1)) { feed in
                let leased = try await feed.claim()
                #expect(leased.position == 5)
                _ = try await feed.replay(2, through: 3)
                #expect(try await feed.delivered(6, leased) == nil, "event 6's success must not overwrite the replay")
                let after = try await feed.current()
                #expect(after.position == 1 && after.replay == ReplayInProgress(through: 3, resume: 5), "6 was not recorded: it is sent after the range")
                let log = try await feed.subscriptions.deliveries(tenant: feed.tenant, subscription: feed.subscription)
                #expect(log.isEmpty)
                let refreshed = try #require(try await feed.worker.refreshed(leased), "the lease is still this worker's")
                #expect(refreshed.position == 1 && refreshed.replay == ReplayInProgress(through: 3, resume: 5))
            }
        }

        @Test("a failed attempt during a range keeps the range; the retry's success carries it on")
        func failureInRange() async throws {
            try await Self.withFeed(before: Self.created(4)) { feed in
                _ = try await feed.replay(2, through: 2)
                let leased = try await feed.claim()
                let failure = WebhookDelivery(
                    eventSequence: 2, eventID: try #require(feed.ids[2]), attempt: 1, statusCode: 500, outcome: .retrying, error: nil,
                    latencyMilliseconds: 1, nextRetryAt: Date())
                #expect(try await feed.worker.record(failure, of: leased, delay: .zero, lease: .seconds(30))
                    == WebhookProgress(position: 1, replay: ReplayInProgress(through: 2, resume: 4)))
                let retry = try await feed.claim()
                #expect(retry.attempts == 1)
                #expect(try await feed.delivered(2, retry) == WebhookProgress(position: 4, replay: nil))
            }
        }

        @Test("a subscription behind the range is never moved forward: it sends what comes before the range first, once")
        func behind() async throws {
            try await Self.withFeed(before: Self.created(1), after: Self.created(5)) { feed in
                // At 1; the range 4…5 lies ahead of it.
                let replayed = try await feed.replay(4, through: 5)
                #expect(replayed.position == 1 && replayed.replay == ReplayInProgress(through: 5, resume: 1))
                var leased = try await feed.claim()
                #expect(try await feed.due(leased) == [2, 3, 4, 5])
                for sequence: Int64 in [2, 3, 4] { leased.position = try #require(try await feed.delivered(sequence, leased)).position }
                #expect(leased.position == 4)
                #expect(try await feed.delivered(5, leased) == WebhookProgress(position: 5, replay: nil))
            }
        }

        @Test("a subscription inside the range goes back to its start and on through its end, past where it was")
        func inside() async throws {
            try await Self.withFeed(before: Self.created(5), after: Self.created(2)) { feed in
                // At 5 of 7; the range 4…6 starts before it and ends after it.
                let replayed = try await feed.replay(4, through: 6)
                #expect(replayed.position == 3 && replayed.replay == ReplayInProgress(through: 6, resume: 5))
                var leased = try await feed.claim()
                #expect(try await feed.due(leased) == [4, 5, 6])
                for sequence: Int64 in [4, 5] { leased.position = try #require(try await feed.delivered(sequence, leased)).position }
                #expect(try await feed.delivered(6, leased) == WebhookProgress(position: 6, replay: nil))
                leased.position = 6
                leased.replay = nil
                #expect(try await feed.due(leased) == [7])
            }
        }

        @Test("a range replayed while another is under way widens it: the earlier start, the later end, the furthest resume")
        func widening() async throws {
            try await Self.withFeed(before: Self.created(8)) { feed in
                _ = try await feed.replay(5, through: 6)
                var leased = try await feed.claim()
                leased.position = try #require(try await feed.delivered(5, leased)).position
                let widened = try await feed.replay(2, through: 3)
                #expect(widened.position == 1)
                #expect(widened.replay == ReplayInProgress(through: 6, resume: 8), "6 is still to be sent again; 8 is where it was")
                let later = try await feed.replay(7, through: 7)
                #expect(later.position == 1, "never forward")
                #expect(later.replay == ReplayInProgress(through: 7, resume: 8))
            }
        }

        @Test("a replay without an end ends the range under way: everything from there on")
        func unboundedClears() async throws {
            try await Self.withFeed(before: Self.created(5)) { feed in
                _ = try await feed.replay(2, through: 3)
                let replayed = try await feed.replay(4)
                #expect(replayed.position == 3 && replayed.replay == nil)
            }
        }

        @Test("a range none of whose remaining events are of the subscription's types ends without sending them")
        func rangeOutsideTypes() async throws {
            try await Self.withFeed(
                before: [.userDeactivated, .userCreated, .userCreated, .userDeactivated], after: [.userDeactivated], types: [.userDeactivated]
            ) { feed in
                _ = try await feed.replay(2, through: 3)
                var leased = try await feed.claim()
                #expect(try await feed.due(leased).isEmpty)
                let moved = try #require(try await feed.worker.finishReplay(of: leased, lease: .seconds(30)))
                #expect(moved == WebhookProgress(position: 4, replay: nil))
                leased.position = moved.position
                leased.replay = moved.replay
                #expect(try await feed.due(leased) == [5])
            }
        }

        @Test("refused replays: an unknown or other tenant's event, an end before the start, another subscription; nothing changes")
        func refused() async throws {
            try await Self.withFeed(before: Self.created(4)) { feed in
                let other = try await TenantRepository(database: feed.db).create(name: "other", by: .system)
                try await Self.append(Self.created(1), tenant: other.id, db: feed.db)
                let foreign = try #require(try await EventLog(database: feed.db).read(tenant: other.id, .init()).first?.id)
                let (one, three, unknown) = (try #require(feed.ids[1]), try #require(feed.ids[3]), UUID())
                let cases: [(UUID, UUID, UUID?, ReplayOutcome)] = [
                    (feed.subscription, three, one, .reversed(from: 3, through: 1)),
                    (feed.subscription, one, foreign, .noSuchEvent(foreign)),
                    (feed.subscription, foreign, one, .noSuchEvent(foreign)),
                    (feed.subscription, foreign, nil, .noSuchEvent(foreign)),
                    (feed.subscription, one, unknown, .noSuchEvent(unknown)),
                    (UUID(), one, three, .noSuchSubscription),
                ]
                for (subscription, from, through, expected) in cases {
                    let outcome = try await feed.subscriptions.replay(tenant: feed.tenant, id: subscription, from: from, through: through, by: .system)
                    #expect(outcome == expected)
                }
                let after = try await feed.current()
                #expect(after.position == 4 && after.replay == nil)
                let audited = try await feed.db.query("SELECT count(*) FROM admin_actions WHERE action = 'webhook.replayed'").first?.decode(Int.self)
                #expect(audited == 0)
            }
        }

        @Test("the audit entry names the range's ends: ids and sequence numbers")
        func audit() async throws {
            try await Self.withFeed(before: Self.created(4)) { feed in
                _ = try await feed.replay(2, through: 3)
                _ = try await feed.replay(1)
                let rows = try await feed.db.query(
                    "SELECT details FROM admin_actions WHERE action = 'webhook.replayed' ORDER BY occurred_at, id")
                let details = try rows.map { try $0.decode(ResourceBody.self).object }
                let (two, three, one) = (try #require(feed.ids[2]), try #require(feed.ids[3]), try #require(feed.ids[1]))
                #expect(details == [
                    ["event_id": .string(two.uuidString.lowercased()), "event_sequence": 2,
                     "through_event_id": .string(three.uuidString.lowercased()), "through_event_sequence": 3],
                    ["event_id": .string(one.uuidString.lowercased()), "event_sequence": 1],
                ])
            }
        }
    }
}
