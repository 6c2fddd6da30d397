public import Foundation
import PostgresNIO

/// The tables kept in partitions by time (0025_partitioned_feed.sql).
public enum PartitionedTable: String, Sendable, CaseIterable {
    /// The change feed, by `occurred_at`.
    case events
    /// The webhook delivery log, by `attempted_at`.
    case deliveries = "webhook_deliveries"
}

/// One partition: a range of whole UTC days, named after its first (`events_20250101`).
public struct FeedPartition: Sendable, Equatable {
    public var name: String
    public var starts: Date
    /// Exclusive.
    public var ends: Date
}

/// What retention did with a partition every row of which is older than the retention.
public struct ExpiredPartition: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        case dropped
        /// Kept: it holds events not numbered yet.
        case unstamped
        /// Kept: the table's lock did not come in time; the next pass tries again.
        case busy
    }

    public var name: String
    public var outcome: Outcome
}

/// Creates the partitions of the change feed's tables ahead of time and drops them whole once expired, through the
/// functions of 0024_feed_partition_functions.sql, which serialise their callers (every process's `FeedRetention`)
/// on one advisory lock.
public struct FeedPartitions: Sendable {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// The partitions of `table`, oldest first.
    public func list(_ table: PartitionedTable) async throws -> [FeedPartition] {
        try await database.query(
            "SELECT partition::text, starts, ends FROM feed_partitions(\(table.rawValue)::regclass) ORDER BY starts"
        ).map { row in
            let (name, starts, ends) = try row.decode((String, Date, Date).self)
            return FeedPartition(name: name, starts: starts, ends: ends)
        }
    }

    /// Makes sure every instant from `from` through `through` falls in a partition of `table`, making the missing ones
    /// `days` days long (or shorter, up to a partition that follows); returns the names of those it made. Attaching one
    /// waits at most `lockWait` for the locks it takes (on the table, and on the one its foreign key references).
    @discardableResult
    public func create(_ table: PartitionedTable, from: Date, through: Date, days: Int, lockWait: Duration) async throws -> [String] {
        try await database.query(
            """
            SELECT create_feed_partitions(
                \(table.rawValue)::regclass, \(from), \(through), \(days)::integer, make_interval(secs => \(Self.seconds(lockWait))))
            """
        ).map { try $0.decode(String.self) }
    }

    /// Drops the partitions of `table` that ended more than `retention` ago (on the database's clock, which stamps the
    /// rows), oldest first, each only if it holds no unnumbered event, waiting at most `lockWait` for the table's lock.
    public func dropExpired(_ table: PartitionedTable, retention: Duration, lockWait: Duration) async throws -> [ExpiredPartition] {
        try await database.query(
            """
            SELECT partition, outcome FROM drop_feed_partitions(
                \(table.rawValue)::regclass, now() - make_interval(secs => \(Self.seconds(retention))),
                make_interval(secs => \(Self.seconds(lockWait))))
            """
        ).map { row in
            let (name, outcome) = try row.decode((String, String).self)
            guard let outcome = ExpiredPartition.Outcome(rawValue: outcome) else {
                throw StoreError.unavailable("unknown partition outcome \(outcome)")
            }
            return ExpiredPartition(name: name, outcome: outcome)
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
