import Foundation
public import Logging
public import RosterStore
public import ServiceLifecycle

/// Deletes events and webhook delivery attempts older than the retention, in batches, once an
/// hour (and a minute after start). Every process runs it; the deletes are idempotent. A reader or
/// subscription further behind than the retention goes on from the oldest event that is left.
public struct FeedRetention: Service {
    let database: RosterDatabase
    let retention: Duration
    let logger: Logger
    var interval: Duration = .seconds(3600)
    var batch = 10_000

    public init(database: RosterDatabase, retention: Duration, logger: Logger) {
        self.database = database
        self.retention = retention
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let (events, deliveries) = try await prune()
                if events + deliveries > 0 {
                    logger.info("Retention: deleted old events and delivery attempts", metadata: ["events": "\(events)", "deliveries": "\(deliveries)"])
                }
            } catch {
                logger.warning("Retention: could not delete old rows; trying again later", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Deletes everything older than the retention; returns how many events and attempts went.
    public func prune() async throws -> (events: Int, deliveries: Int) {
        let seconds = Double(retention.components.seconds)
        var events = 0, deliveries = 0
        while true {
            let deleted = try await EventLog(database: database).deleteNumbered(olderThan: seconds, batch: batch)
            events += deleted
            if deleted < batch { break }
        }
        while true {
            let deleted = try await WebhookSubscriptions(database: database).deleteDeliveries(olderThan: seconds, batch: batch)
            deliveries += deleted
            if deleted < batch { break }
        }
        return (events, deliveries)
    }
}

extension FeedRetention: CustomStringConvertible {
    public var description: String { "FeedRetention" }
}
