import Foundation
import PostgresNIO
@testable import RosterStore
import RosterTestSupport
import Testing

extension StoreSuite {
    @Suite("Change feed plans: a read by cursor and a delivery log page plan only the partitions that can hold their rows")
    struct FeedPlanTests {
        /// The partitions `statement`'s plan reads, with its parameters bound as the store binds them.
        static func plannedPartitions(_ statement: PostgresQuery, db: RosterDatabase) async throws -> Set<String> {
            let plan = try await db.query(PostgresQuery(unsafeSQL: "EXPLAIN " + statement.sql, binds: statement.binds)).map { try $0.decode(String.self) }
            return Set(plan.compactMap { line in
                line.firstMatch(of: #/ on ((?:events|webhook_deliveries)_[0-9]{8})\b/#).map { String($0.output.1) }
            })
        }

        /// The name of the partition of `table` holding `instant`.
        static func partition(_ table: PartitionedTable, holding instant: Date, db: RosterDatabase) async throws -> String {
            try #require(try await FeedPartitionTests.holding(instant, table, db: db).first).name
        }

        /// Events on days -5, -3 and today (numbered 1–3, 4–6, 7–9), in daily partitions from day -5 on.
        static func withFeed(_ body: @Sendable (RosterDatabase, UUID) async throws -> Void) async throws {
            try await EventLogTests.withDefaultTenant { db, tenant, _ in
                let midnight = FeedPartitionTests.midnight
                for table in PartitionedTable.allCases {
                    try await FeedPartitions(database: db).create(table, from: midnight(-5), through: midnight(0), days: 1, lockWait: .seconds(1))
                }
                for day in [-5, -3, 0] {
                    for n in 1...3 {
                        try await FeedPartitionTests.write("\(day)/\(n)", tenant: tenant, occurred: midnight(day).addingTimeInterval(Double(n)), db: db)
                    }
                }
                try await EventLog(database: db).stamp(tenant: tenant)
                try await body(db, tenant)
            }
        }

        @Test("a read after a cursor plans the partitions of the days that hold events after it (of its first page, far behind), and no others")
        func readByCursor() async throws {
            try await Self.withFeed { db, tenant in
                let log = EventLog(database: db)
                let midnight = FeedPartitionTests.midnight
                let today = try await Self.partition(.events, holding: midnight(0), db: db)
                let head = try #require(try await log.spans(tenant: tenant, after: 6, through: nil, pageSize: 100))
                #expect(head.first == nil, "a page holds all that is left")
                #expect(try await Self.plannedPartitions(EventLog.readStatement(tenant: tenant, .init(after: 6), within: head.all), db: db) == [today])

                let behind = try #require(try await log.spans(tenant: tenant, after: 0, through: nil, pageSize: 2))
                var days: Set<String> = []
                for day in -5...0 { days.insert(try await Self.partition(.events, holding: midnight(day), db: db)) }
                #expect(try await Self.plannedPartitions(EventLog.readStatement(tenant: tenant, .init(limit: 2), within: behind.all), db: db) == days,
                        "from the oldest day to today, none of the partitions ahead")
                let firstPage = try #require(behind.first, "more than a page is left")
                #expect(try await Self.plannedPartitions(EventLog.readStatement(tenant: tenant, .init(limit: 2), within: firstPage), db: db)
                        == [try await Self.partition(.events, holding: midnight(-5), db: db)], "a page's worth: the oldest day's partition alone")

                let (older, _) = try await log.span(tenant: tenant, before: 4)
                let statement = EventLog.newestFirstStatement(tenant: tenant, .init(), before: NewestFirstPosition(sequence: 4), within: try #require(older))
                #expect(try await Self.plannedPartitions(statement, db: db) == [try await Self.partition(.events, holding: midnight(-5), db: db)])
                #expect(try await log.spans(tenant: tenant, after: 9, through: nil, pageSize: 100) == nil, "nothing after the head: no read at all")
            }
        }

        @Test("a delivery log page after a cursor plans no partition newer than the cursor's")
        func deliveryPage() async throws {
            try await Self.withFeed { db, tenant in
                let midnight = FeedPartitionTests.midnight
                let cursor = DeliveryPosition(
                    microseconds: Int64(midnight(-3).addingTimeInterval(3600).timeIntervalSince1970) * 1_000_000, attempt: 1, id: UUID())
                let statement = WebhookSubscriptions.deliveryPageStatement(tenant: tenant, subscription: UUID(), after: cursor, limit: 10)
                var older: Set<String> = []
                for day in -5...(-3) { older.insert(try await Self.partition(.deliveries, holding: midnight(day), db: db)) }
                #expect(try await Self.plannedPartitions(statement, db: db) == older)
            }
        }
    }
}
