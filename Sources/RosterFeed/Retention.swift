import Foundation
public import Logging
public import RosterStore
public import ServiceLifecycle

/// Keeps the time partitions of the events and the webhook delivery attempts (0025_partitioned_feed.sql): makes them
/// `ahead` of time, and drops each once all of it is older than the retention. The partitions ahead are made at
/// start (a write into a time without a partition would fail) and on every pass, once an hour; the first drops come
/// a minute after start. Every process runs it; the database functions serialise them, so two at once do the work
/// once. A reader or subscription further behind than the retention goes on from the oldest event that is left.
public struct FeedRetention: Service {
    let database: RosterDatabase
    let retention: Duration
    let logger: Logger
    var interval: Duration = .seconds(3600)
    /// Partitions exist this far ahead: writes go on for this long if every process's pass fails.
    var ahead: Duration = .seconds(3 * 86_400)
    /// How long a drop waits for its table's lock, which holds up the table's readers and writers meanwhile (and
    /// attaching a partition for the lock on the table its foreign key references, which holds up that table's writers).
    var lockWait: Duration = .seconds(1)

    public init(database: RosterDatabase, retention: Duration, logger: Logger) {
        self.database = database
        self.retention = retention
        self.logger = logger
    }

    /// Days per partition for `retention`: a thirtieth of it, at least one, so a table has about 30 partitions whatever
    /// the retention (a statement that cannot bound time plans every one). Rows are kept up to the retention plus this.
    public static func partitionDays(for retention: Duration) -> Int {
        max(1, Int(retention.components.seconds / 86_400) / 30)
    }

    public func run() async throws {
        await pass(dropping: false)
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await pass(dropping: true)
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    func pass(dropping: Bool) async {
        do {
            let made = try await prepare()
            if !made.isEmpty { logger.info("Retention: made partitions ahead", metadata: ["partitions": "\(made.joined(separator: ","))"]) }
        } catch {
            logger.error(
                "Retention: could not make the partitions ahead; trying again later", metadata: ["error": "\(String(reflecting: type(of: error)))"])
        }
        guard dropping else { return }
        do {
            report(try await prune())
        } catch {
            logger.warning(
                "Retention: could not drop expired partitions; trying again later", metadata: ["error": "\(String(reflecting: type(of: error)))"])
        }
    }

    /// Makes the partitions of both tables from now to `ahead`; returns the names of those it made.
    @discardableResult
    public func prepare() async throws -> [String] {
        let partitions = FeedPartitions(database: database)
        let now = Date()
        let horizon = now.addingTimeInterval(Double(ahead.components.seconds))
        var made: [String] = []
        for table in PartitionedTable.allCases {
            made += try await partitions.create(table, from: now, through: horizon, days: Self.partitionDays(for: retention), lockWait: lockWait)
        }
        return made
    }

    /// Drops the partitions of both tables whose rows are all older than the retention (keeping those with events not
    /// numbered yet); returns what became of each.
    @discardableResult
    public func prune() async throws -> [ExpiredPartition] {
        let partitions = FeedPartitions(database: database)
        var expired: [ExpiredPartition] = []
        for table in PartitionedTable.allCases {
            expired += try await partitions.dropExpired(table, retention: retention, lockWait: lockWait)
        }
        return expired
    }

    func report(_ expired: [ExpiredPartition]) {
        func names(_ outcome: ExpiredPartition.Outcome) -> String {
            expired.filter { $0.outcome == outcome }.map(\.name).joined(separator: ",")
        }
        if expired.contains(where: { $0.outcome == .dropped }) {
            logger.info("Retention: dropped expired partitions", metadata: ["partitions": "\(names(.dropped))"])
        }
        if expired.contains(where: { $0.outcome == .busy }) {
            logger.notice(
                "Retention: a table stayed locked; its expired partitions wait for the next pass", metadata: ["partitions": "\(names(.busy))"])
        }
        if expired.contains(where: { $0.outcome == .unstamped }) {
            // Stamps number every committed event within a poll interval: this one has waited for the whole retention.
            logger.warning("Retention: kept expired partitions that hold events never numbered", metadata: ["partitions": "\(names(.unstamped))"])
        }
    }
}

extension FeedRetention: CustomStringConvertible {
    public var description: String { "FeedRetention" }
}
