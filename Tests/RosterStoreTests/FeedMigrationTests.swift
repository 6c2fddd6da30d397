import Foundation
import PostgresNIO
@testable import RosterStore
import RosterTestSupport
import Testing

extension StoreSuite {
    @Suite("Partitioning the change feed (0023–0025): every event and delivery attempt kept as it was")
    struct FeedMigrationTests {
        /// Every row of `table` as PostgreSQL prints it (all columns, in order), sorted by `order`.
        static func rows(_ table: String, by order: String, db: RosterDatabase) async throws -> [String] {
            try await db.query(PostgresQuery(unsafeSQL: "SELECT t::text FROM \(table) t ORDER BY \(order)")).map { try $0.decode(String.self) }
        }

        /// Events of `tenant` as 0021's schema takes them, each `hours` before now; unnumbered.
        static func write(_ count: Int, tenant: UUID, hoursApart hours: Int, db: RosterDatabase) async throws {
            try await db.query(
                """
                INSERT INTO events (tenant_id, id, type, resource_type, resource_id, resource_version, actor_type, transaction_id,
                                    occurred_at, data)
                SELECT \(tenant), gen_random_uuid(), 'user.updated', 'User', gen_random_uuid(), n, 'scim_token', gen_random_uuid(),
                       now() - make_interval(hours => ((\(count) - n) * \(hours))::integer), jsonb_build_object('n', n)
                FROM generate_series(1, \(count)) n
                """)
        }

        @Test("from 0021: every event keeps its pos, seq and id, every delivery attempt stays, and new events number on")
        func keepsEveryRow() async throws {
            let url = try await TestPostgres.require().emptyDatabase()
            let bundled = try Migration.bundled()
            try await withStore(url: url) { db in
                try await Migrator(migrations: bundled.filter { $0.version <= 21 }).migrate(db)
                let tenants = TenantRepository(database: db)
                let tenant = try #require(try await tenants.find("default")).id
                let other = try await tenants.create(name: "other", by: .system).id
                // A subscription as 0021's schema takes it (today's store writes columns added since).
                let subscription = UUID()
                try await db.query(
                    """
                    INSERT INTO webhook_subscriptions (tenant_id, id, url, description, secret, position)
                    VALUES (\(tenant), \(subscription), 'https://example.com/hook', '', 'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=', 0)
                    """)
                // Numbered events over 45 days, two tenants; then events committed but not numbered yet.
                try await Self.write(270, tenant: tenant, hoursApart: 4, db: db)
                try await Self.write(30, tenant: other, hoursApart: 36, db: db)
                try await db.query("SELECT * FROM stamp_events(NULL, 1000)")
                try await Self.write(5, tenant: tenant, hoursApart: 1, db: db)
                try await db.query(
                    """
                    INSERT INTO webhook_deliveries (tenant_id, subscription_id, id, event_seq, event_id, attempt, attempted_at, status_code,
                                                    outcome, error, latency_ms, next_retry_at)
                    SELECT \(tenant), \(subscription), gen_random_uuid(), n, gen_random_uuid(), 1 + n % 3, now() - make_interval(hours => n * 20),
                           CASE WHEN n % 3 = 0 THEN 204 END, CASE WHEN n % 3 = 0 THEN 'succeeded' ELSE 'retrying' END,
                           CASE WHEN n % 3 = 0 THEN NULL ELSE 'connection refused' END, n, NULL
                    FROM generate_series(1, 50) n
                    """)
                let events = try await Self.rows("events", by: "pos", db: db)
                let deliveries = try await Self.rows("webhook_deliveries", by: "id", db: db)
                let lastPos = try #require(try await db.query("SELECT max(pos) FROM events").first?.decode(Int64.self))
                #expect(events.count == 305 && deliveries.count == 50)

                #expect(try await Migrator(migrations: bundled).migrate(db).map(\.version) == bundled.filter { $0.version > 21 }.map(\.version))
                let kinds = try await db.query(
                    "SELECT relkind::text FROM pg_class WHERE relname IN ('events', 'webhook_deliveries') ORDER BY relname"
                ).map { try $0.decode(String.self) }
                #expect(kinds == ["p", "p"], "both tables are partitioned")
                #expect(try await Self.rows("events", by: "pos", db: db) == events, "every event as it was: tenant, seq, id, pos, time, data")
                #expect(try await Self.rows("webhook_deliveries", by: "id", db: db) == deliveries)
                let left = try await db.query("SELECT count(*) FROM pg_class WHERE relname LIKE '%unpartitioned%'").first?.decode(Int.self)
                #expect(left == 0, "the old tables are gone")

                // A new event takes the next pos; a stamp numbers the five waiting first, then it.
                try await WebhookReplayStoreTests.append([.userCreated], tenant: tenant, db: db)
                #expect(try await db.query("SELECT max(pos) FROM events").first?.decode(Int64.self) == lastPos + 1)
                let read = try await EventLog(database: db).read(tenant: tenant, .init(limit: 1000))
                #expect(read.map(\.sequence) == Array(1...276).map { Int64($0) }, "the feed reads back whole, by cursor, in order")
                #expect(read.last?.type == .userCreated && read.dropLast().allSatisfy { $0.type == .userUpdated })
                #expect(try await EventLog(database: db).read(tenant: other, .init(after: 10, limit: 1000)).map(\.sequence) == Array(11...30).map { Int64($0) })

                // Deleting the subscription still takes its delivery attempts with it (the foreign key of every partition).
                #expect(try await WebhookSubscriptions(database: db).delete(tenant: tenant, id: subscription, by: .system))
                #expect(try await db.query("SELECT count(*) FROM webhook_deliveries").first?.decode(Int.self) == 0)
            }
        }
    }
}
