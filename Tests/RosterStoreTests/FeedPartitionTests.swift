import Foundation
import Logging
import PostgresNIO
@testable import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension StoreSuite {
    @Suite("Change feed partitions: made ahead, dropped whole, read across")
    struct FeedPartitionTests {
        static let day: TimeInterval = 86_400

        /// The UTC midnight `days` days after today's (before it, when negative).
        static func midnight(_ days: Int) -> Date {
            Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / day).rounded(.down) * day + Double(days) * day)
        }

        /// An unnumbered event of `tenant` that occurred at `occurred`, as a transaction begun then writes it.
        static func write(_ label: String, tenant: UUID, occurred: Date, db: RosterDatabase) async throws {
            try await db.query(
                """
                INSERT INTO events (tenant_id, id, type, resource_type, resource_id, resource_version, actor_type, transaction_id,
                                    occurred_at, data)
                VALUES (\(tenant), gen_random_uuid(), 'user.created', 'User', gen_random_uuid(), 1, 'system', gen_random_uuid(),
                        \(occurred), jsonb_build_object('label', \(label)::text))
                """)
        }

        static func labels(_ events: [ChangeEvent]) -> [String] {
            events.map { $0.data["label"]?.stringValue ?? "" }
        }

        /// The partitions of `table` that hold `instant`.
        static func holding(_ instant: Date, _ table: PartitionedTable, db: RosterDatabase) async throws -> [FeedPartition] {
            try await FeedPartitions(database: db).list(table).filter { $0.starts <= instant && instant < $0.ends }
        }

        @Test("partitions made for a time range fill only its gaps, in whole UTC days, each instant in exactly one")
        func fillsGaps() async throws {
            try await EventLogTests.withDefaultTenant { db, _, _ in
                let partitions = FeedPartitions(database: db)
                let made = try await partitions.create(.events, from: Self.midnight(-10).addingTimeInterval(5 * 3600), through: Self.midnight(-8), days: 1, lockWait: .seconds(1))
                #expect(made.count == 3, "days -10, -9 and -8: \(made)")
                // Five-day partitions from day -14 stop at the one made for day -10, and go on after day -8's.
                let wider = try await partitions.create(.events, from: Self.midnight(-14), through: Self.midnight(-1), days: 5, lockWait: .seconds(1))
                #expect(!wider.isEmpty && Set(wider).isDisjoint(with: made))
                #expect(try await partitions.create(.events, from: Self.midnight(-14), through: Self.midnight(2), days: 1, lockWait: .seconds(1)).isEmpty, "nothing left to make")

                let all = try await partitions.list(.events)
                for partition in all {
                    #expect(partition.starts.timeIntervalSince1970.truncatingRemainder(dividingBy: Self.day) == 0, "\(partition.name) starts at a UTC midnight")
                    #expect(partition.ends.timeIntervalSince(partition.starts) <= 5 * Self.day)
                }
                for (earlier, later) in zip(all, all.dropFirst()) {
                    #expect(earlier.ends == later.starts, "\(earlier.name) and \(later.name) overlap or leave a gap")
                }
                #expect(all.first?.starts == Self.midnight(-14) && all.last.map { $0.ends > Self.midnight(2) } == true)
            }
        }

        @Test("two callers making the same partitions at once both succeed, and each partition is made once")
        func concurrentCreation() async throws {
            try await EventLogTests.withDefaultTenant { db, _, _ in
                let partitions = FeedPartitions(database: db)
                async let first = partitions.create(.events, from: Self.midnight(-20), through: Self.midnight(-11), days: 1, lockWait: .seconds(1))
                async let second = partitions.create(.events, from: Self.midnight(-20), through: Self.midnight(-11), days: 2, lockWait: .seconds(1))
                let made = try await first + second
                #expect(Set(made).count == made.count)
                let all = try await partitions.list(.events)
                for offset in -20...(-11) {
                    let instant = Self.midnight(offset).addingTimeInterval(3600)
                    #expect(all.filter { $0.starts <= instant && instant < $0.ends }.count == 1, "day \(offset)")
                }
            }
        }

        @Test("retention drops a partition all of whose rows are older, keeps one holding an unnumbered event, and drops it once numbered")
        func dropsExpired() async throws {
            try await EventLogTests.withDefaultTenant { db, tenant, _ in
                let partitions = FeedPartitions(database: db)
                let log = EventLog(database: db)
                try await partitions.create(.events, from: Self.midnight(-41), through: Self.midnight(-40), days: 1, lockWait: .seconds(1))
                try await partitions.create(.deliveries, from: Self.midnight(-41), through: Self.midnight(-41), days: 1, lockWait: .seconds(1))
                let (subscription, _) = try await WebhookSubscriptions(database: db).create(
                    tenant: tenant, url: "https://example.com/hook", eventTypes: nil, description: "", by: .system)
                try await Self.write("recent", tenant: tenant, occurred: Date(), db: db)
                try await Self.write("old", tenant: tenant, occurred: Self.midnight(-41).addingTimeInterval(3600), db: db)
                try await log.stamp(tenant: tenant)
                // Committed, not numbered yet: a writer that died before its stamp, as the next poll finds it.
                try await Self.write("unnumbered", tenant: tenant, occurred: Self.midnight(-40).addingTimeInterval(3600), db: db)
                try await db.query(
                    """
                    INSERT INTO webhook_deliveries (tenant_id, subscription_id, id, event_seq, event_id, attempt, attempted_at, status_code,
                                                    outcome, latency_ms)
                    VALUES (\(tenant), \(subscription.id), gen_random_uuid(), 1, gen_random_uuid(), 1, \(Self.midnight(-41).addingTimeInterval(60)),
                            204, 'succeeded', 3),
                           (\(tenant), \(subscription.id), gen_random_uuid(), 1, gen_random_uuid(), 1, now(), 204, 'succeeded', 3)
                    """)
                let old = try #require(try await Self.holding(Self.midnight(-41), .events, db: db).first).name
                let unnumbered = try #require(try await Self.holding(Self.midnight(-40), .events, db: db).first).name
                let oldDeliveries = try #require(try await Self.holding(Self.midnight(-41), .deliveries, db: db).first).name

                let month = Duration.seconds(30 * 86_400)
                #expect(try await partitions.dropExpired(.events, retention: month, lockWait: .seconds(1)) == [
                    ExpiredPartition(name: old, outcome: .dropped), ExpiredPartition(name: unnumbered, outcome: .unstamped),
                ])
                #expect(try await partitions.dropExpired(.deliveries, retention: month, lockWait: .seconds(1)) == [
                    ExpiredPartition(name: oldDeliveries, outcome: .dropped)
                ])
                #expect(try await db.query("SELECT count(*) FROM webhook_deliveries").first?.decode(Int.self) == 1)
                // A reader from the start goes on from the oldest event left; the unnumbered one is numbered as it reads.
                #expect(Self.labels(try await log.read(tenant: tenant, .init())) == ["recent", "unnumbered"])
                #expect(try await partitions.dropExpired(.events, retention: month, lockWait: .seconds(1)) == [
                    ExpiredPartition(name: unnumbered, outcome: .dropped)
                ])
                #expect(Self.labels(try await log.read(tenant: tenant, .init())) == ["recent"])
                let days = try await db.query("SELECT count(*) FROM event_days WHERE day < \(Self.midnight(-30))").first?.decode(Int.self)
                #expect(days == 0, "the dropped days' event_days rows went with them")
            }
        }

        @Test("a reader whose next page's numbers retention dropped goes on from the oldest event left, not an empty page")
        func readsPastGap() async throws {
            try await EventLogTests.withDefaultTenant { db, tenant, _ in
                let partitions = FeedPartitions(database: db)
                let log = EventLog(database: db)
                try await partitions.create(.events, from: Self.midnight(-40), through: Self.midnight(-40), days: 1, lockWait: .seconds(1))
                // 1 today; 2 and 3 from long transactions begun forty days ago; 4 today: today's numbers span 1 to 4.
                try await Self.write("a", tenant: tenant, occurred: Date(), db: db)
                try await log.stamp(tenant: tenant)
                for label in ["b", "c"] { try await Self.write(label, tenant: tenant, occurred: Self.midnight(-40).addingTimeInterval(60), db: db) }
                try await log.stamp(tenant: tenant)
                try await Self.write("d", tenant: tenant, occurred: Date(), db: db)
                try await log.stamp(tenant: tenant)
                let dropped = try await partitions.dropExpired(.events, retention: .seconds(30 * 86_400), lockWait: .seconds(1))
                #expect(dropped.map(\.outcome) == [.dropped])
                // A page of two after 1 would be 2 and 3, both gone: the reader gets 4, not an empty page that looks like the head.
                #expect(Self.labels(try await log.read(tenant: tenant, .init(after: 1, limit: 2))) == ["d"])
                #expect(Self.labels(try await log.read(tenant: tenant, .init(after: 0, limit: 1))) == ["a"])
            }
        }

        @Test("events written across a partition boundary, one numbered late into the earlier day, read back by cursor in order, each once")
        func readsAcrossBoundary() async throws {
            try await EventLogTests.withDefaultTenant { db, tenant, _ in
                try await FeedPartitions(database: db).create(.events, from: Self.midnight(-1), through: Self.midnight(0), days: 1, lockWait: .seconds(1))
                let log = EventLog(database: db)
                let boundary = Self.midnight(0)
                // Written (and so numbered) in this order; "c" began before "b" and committed after it, as a long transaction does.
                for (label, seconds) in [("a", -2.0), ("b", 1.0), ("c", -3.0), ("d", 2.0)] {
                    try await Self.write(label, tenant: tenant, occurred: boundary.addingTimeInterval(seconds), db: db)
                }
                try await log.stamp(tenant: tenant)
                var seen: [ChangeEvent] = []
                while let next = try await log.read(tenant: tenant, .init(after: seen.last?.sequence ?? 0, limit: 1)).first { seen.append(next) }
                #expect(seen.map(\.sequence) == [1, 2, 3, 4])
                #expect(Self.labels(seen) == ["a", "b", "c", "d"])
                // Numbered after the reader reached the head, into the earlier day's partition: the next read still finds it.
                try await Self.write("late", tenant: tenant, occurred: boundary.addingTimeInterval(-60), db: db)
                #expect(Self.labels(try await log.read(tenant: tenant, .init(after: 4))) == ["late"])
                #expect(Self.labels(try await log.read(tenant: tenant, .init(after: 3))) == ["d", "late"])

                var newestFirst: [Int64] = []
                var position: NewestFirstPosition?
                repeat {
                    let (page, head) = try await log.readNewestFirst(tenant: tenant, .init(limit: 2), before: position)
                    #expect(head == 5)
                    newestFirst += page.items.map(\.sequence)
                    position = page.next
                } while position != nil
                #expect(newestFirst == [5, 4, 3, 2, 1])
            }
        }

        @Test("stamps racing over events of two partitions give each event one number, in the order written")
        func racingStampsAcrossPartitions() async throws {
            try await EventLogTests.withDefaultTenant { db, tenant, _ in
                try await FeedPartitions(database: db).create(.events, from: Self.midnight(-1), through: Self.midnight(0), days: 1, lockWait: .seconds(1))
                // Alternating between yesterday and today, so every stamp's batch numbers rows of both partitions.
                for n in 0..<60 {
                    let occurred = n.isMultiple(of: 2) ? Self.midnight(-1).addingTimeInterval(Double(n)) : Self.midnight(0).addingTimeInterval(Double(n))
                    try await Self.write("e\(n)", tenant: tenant, occurred: occurred, db: db)
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            // Batches of 7, so the four take turns on the tenant's counter row many times.
                            while try await db.query("SELECT stamped FROM stamp_events(\(tenant), 7)").first != nil {}
                        }
                    }
                    try await group.waitForAll()
                }
                let numbers = try await db.query("SELECT seq FROM events WHERE tenant_id = \(tenant) ORDER BY pos").map { try $0.decode(Int64?.self) }
                #expect(numbers == Array(1...60).map { Int64($0) }, "every event numbered once, gapless, in the order written")
                let distinct = try await db.query("SELECT count(DISTINCT seq) FROM events WHERE tenant_id = \(tenant)").first?.decode(Int.self)
                #expect(distinct == 60)
            }
        }

        @Test("a partition's unique indexes refuse a sequence number or an event id given twice within it")
        func partitionUniqueness() async throws {
            try await EventLogTests.withDefaultTenant { db, tenant, _ in
                let now = Date()
                for n in 0..<2 { try await Self.write("e\(n)", tenant: tenant, occurred: now, db: db) }
                try await EventLog(database: db).stamp(tenant: tenant)
                let partition = try #require(try await Self.holding(now, .events, db: db).first).name
                await #expect(throws: StoreError.uniqueness(constraint: partition + "_seq")) {
                    try await db.query("UPDATE events SET seq = 1 WHERE tenant_id = \(tenant) AND seq = 2")
                }
                await #expect(throws: StoreError.uniqueness(constraint: partition + "_id")) {
                    try await db.query(
                        "UPDATE events SET id = (SELECT id FROM events WHERE tenant_id = \(tenant) AND seq = 1) WHERE tenant_id = \(tenant) AND seq = 2")
                }
            }
        }
    }
}
