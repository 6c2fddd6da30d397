import Foundation
import Logging
import PostgresNIO
@testable import RosterFeed
import RosterStore
import RosterTestSupport
import Testing

extension ServerSuite {
    @Suite("Feed retention: partitions made ahead by every process, expired ones dropped whole")
    struct FeedRetentionTests {
        static let day: TimeInterval = 86_400

        @Test("a server makes the partitions ahead as it starts: both tables covered from now to three days on")
        func madeAtStart() async throws {
            try await Roster.run { roster in
                let logger = try TestPostgres.require().logger
                // As if every process had been down for days: no partition from tomorrow on.
                let tomorrow = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / Self.day).rounded(.up) * Self.day)
                try await withDatabase(url: roster.databaseURL, logger: logger) { db in
                    for table in PartitionedTable.allCases {
                        for partition in try await FeedPartitions(database: db).list(table) where partition.starts >= tomorrow {
                            try await db.query(PostgresQuery(unsafeSQL: "DROP TABLE \(partition.name)"))
                        }
                    }
                }
                try await roster.replica { _ in
                    let horizon = Date().addingTimeInterval(3 * Self.day)
                    var covered = false
                    for _ in 0..<250 where !covered {
                        covered = try await withDatabase(url: roster.databaseURL, logger: logger) { db in
                            var reaches = true
                            for table in PartitionedTable.allCases {
                                reaches = try await FeedPartitions(database: db).list(table).contains { $0.ends > horizon } && reaches
                            }
                            return reaches
                        }
                        if !covered { try await Task.sleep(for: .milliseconds(20)) }
                    }
                    #expect(covered, "the starting replica made the partitions ahead")
                }
            }
        }

        @Test("partitions are a thirtieth of the retention long (at least a day), each starting where the last ends")
        func partitionLength() async throws {
            #expect([1, 7, 30, 59, 60, 300, 3650].map { FeedRetention.partitionDays(for: .seconds($0 * 86_400)) } == [1, 1, 1, 1, 2, 10, 121])
            let postgres = try TestPostgres.require()
            let url = try await postgres.freshDatabase()
            try await withDatabase(url: url, logger: postgres.logger) { db in
                var retention = FeedRetention(database: db, retention: .seconds(300 * 86_400), logger: postgres.logger)
                retention.ahead = .seconds(25 * 86_400)
                let made = try await retention.prepare()
                for table in PartitionedTable.allCases {
                    let partitions = try await FeedPartitions(database: db).list(table)
                    let new = partitions.filter { made.contains($0.name) }
                    #expect(!new.isEmpty && new.allSatisfy { $0.ends.timeIntervalSince($0.starts) == 10 * Self.day }, "\(table): \(new)")
                    #expect(zip(partitions, partitions.dropFirst()).allSatisfy { $0.ends == $1.starts })
                    #expect(partitions.last.map { $0.ends > Date().addingTimeInterval(25 * Self.day) } == true)
                }
            }
        }

        @Test("two retention passes at once both succeed, and drop each expired partition once")
        func concurrentPasses() async throws {
            let postgres = try TestPostgres.require()
            let url = try await postgres.freshDatabase()
            try await withDatabase(url: url, logger: postgres.logger) { db in
                for table in PartitionedTable.allCases {
                    try await FeedPartitions(database: db).create(
                        table, from: Date().addingTimeInterval(-50 * Self.day), through: Date().addingTimeInterval(-41 * Self.day), days: 1, lockWait: .seconds(1))
                }
            }
            // Two processes: each its own pool, both starting a pass at the same moment.
            async let first = withDatabase(url: url, logger: postgres.logger) { db in
                let retention = FeedRetention(database: db, retention: .seconds(30 * 86_400), logger: postgres.logger)
                return (try await retention.prepare(), try await retention.prune())
            }
            async let second = withDatabase(url: url, logger: postgres.logger) { db in
                let retention = FeedRetention(database: db, retention: .seconds(30 * 86_400), logger: postgres.logger)
                return (try await retention.prepare(), try await retention.prune())
            }
            let (a, b) = try await (first, second)
            let dropped = (a.1 + b.1).filter { $0.outcome == .dropped }.map(\.name)
            #expect(dropped.count == 20 && Set(dropped).count == 20, "ten days of each table, each dropped by one pass: \(dropped)")
            #expect(Set(a.0).isDisjoint(with: b.0))
            let left = try await withDatabase(url: url, logger: postgres.logger) { db in
                try await FeedPartitions(database: db).list(.events).filter { $0.ends <= Date().addingTimeInterval(-30 * Self.day) }
            }
            #expect(left.isEmpty)
        }
    }
}
