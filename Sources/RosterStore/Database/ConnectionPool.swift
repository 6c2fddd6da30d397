import Foundation
import PostgresNIO
import Synchronization

/// What lets Roster describe its connection pool, which PostgresClient does not publish: every
/// connection of one client announces `applicationName`, unique to that client, so the client's
/// sessions can be told apart in `pg_stat_activity` from every other process's (replicas included).
public struct ConnectionPoolIdentity: Sendable {
    /// `roster-<uuid>`: 43 characters, within PostgreSQL's 63-byte limit for `application_name`.
    public let applicationName: String
    /// The pool's `maximumConnections`.
    public let maxConnections: Int

    public init(maxConnections: Int) {
        self.applicationName = "roster-\(UUID().uuidString.lowercased())"
        self.maxConnections = maxConnections
    }
}

/// Connections leased by Roster code at this moment, counted around every lease (`RosterDatabase.withConnection`).
final class ConnectionLeases: Sendable {
    private let count = Atomic<Int>(0)

    func acquired() { count.add(1, ordering: .relaxed) }
    func released() { count.subtract(1, ordering: .relaxed) }
    var current: Int { count.load(ordering: .relaxed) }
}

extension RosterDatabase {
    /// The pool's open connections, as PostgreSQL sees them: this client's sessions in `pg_stat_activity`,
    /// the one this query runs on included; nil without a pool identity. It leases a connection
    /// (opening one if none is open), so it fails or waits like any query when the database is down.
    public func openConnections() async throws -> Int? {
        guard let pool else { return nil }
        let rows = try await query("SELECT count(*) FROM pg_stat_activity WHERE application_name = \(pool.applicationName)")
        return try rows.first.map { Int(try $0.decode(Int64.self)) }
    }
}
