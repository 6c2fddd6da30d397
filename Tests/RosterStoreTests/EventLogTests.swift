import Foundation
import PostgresNIO
@testable import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension StoreSuite {
    @Suite("Change feed: events in commit order, without gaps")
    struct EventLogTests {
        static func append(_ label: String, tenant: UUID, on connection: PostgresConnection, logger: Logger) async throws {
            let event = NewEvent(type: .userCreated, resource: UUID(), version: 1, data: ["label": .string(label)])
            try await EventLog.append([event], tenant: tenant, context: ChangeContext(actor: .system), connection: connection, logger: logger)
        }

        static func read(_ log: EventLog, tenant: UUID, after: Int64 = 0) async throws -> [(Int64, String)] {
            try await log.read(tenant: tenant, .init(after: after)).map { ($0.sequence, $0.data["label"]?.stringValue ?? "") }
        }

        @Test("two transactions that commit in the opposite order of their inserts: numbers follow commits, a resuming reader skips nothing")
        func oppositeCommitOrder() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let logger = try TestPostgres.require().logger
            try await withStore(url: url) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                let log = EventLog(database: db)
                try await db.withConnection { first in
                    try await db.withConnection { second in
                        try await first.query("BEGIN", logger: logger)
                        try await second.query("BEGIN", logger: logger)
                        // The first transaction writes its change first…
                        try await first.query(
                            "INSERT INTO users (tenant_id, id, user_name, created, last_modified, body) VALUES (\(tenant), \(UUID()), 'first', now(), now(), '{}')", logger: logger)
                        try await second.query(
                            "INSERT INTO users (tenant_id, id, user_name, created, last_modified, body) VALUES (\(tenant), \(UUID()), 'second', now(), now(), '{}')", logger: logger)
                        // …but the second commits first.
                        try await Self.append("second", tenant: tenant, on: second, logger: logger)
                        try await second.query("COMMIT", logger: logger)
                        let seen = try await Self.read(log, tenant: tenant)
                        #expect(seen.map(\.1) == ["second"])
                        try await Self.append("first", tenant: tenant, on: first, logger: logger)
                        try await first.query("COMMIT", logger: logger)
                        // A reader resuming after what it saw gets the later commit.
                        let resumed = try await Self.read(log, tenant: tenant, after: try #require(seen.last).0)
                        #expect(resumed.map(\.1) == ["first"])
                        #expect(try await Self.read(log, tenant: tenant).map(\.0) == [1, 2])
                    }
                }
            }
        }

        @Test("a writer that takes numbers after an uncommitted one waits for its commit; readers meanwhile see a prefix")
        func waitsForEarlierCommit() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let logger = try TestPostgres.require().logger
            try await withStore(url: url) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                let log = EventLog(database: db)
                try await db.withConnection { first in
                    try await first.query("BEGIN", logger: logger)
                    try await Self.append("first", tenant: tenant, on: first, logger: logger)
                    let second = Task {
                        try await db.withConnection { second in
                            try await second.query("BEGIN", logger: logger)
                            try await Self.append("second", tenant: tenant, on: second, logger: logger)
                            try await second.query("COMMIT", logger: logger)
                        }
                    }
                    // Wait until the second writer is blocked on the first one's counter row.
                    var waiting = false
                    for _ in 0..<200 where !waiting {
                        let rows = try await db.query(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
                        waiting = try rows.first?.decode(Int.self) == 1
                        if !waiting { try await Task.sleep(for: .milliseconds(20)) }
                    }
                    #expect(waiting, "the second writer never waited for the first")
                    #expect(try await Self.read(log, tenant: tenant).isEmpty, "nothing is committed yet")
                    try await first.query("COMMIT", logger: logger)
                    try await second.value
                }
                #expect(try await Self.read(log, tenant: tenant).map(\.1) == ["first", "second"])
                #expect(try await Self.read(log, tenant: tenant).map(\.0) == [1, 2])
            }
        }

        @Test("a rolled-back change leaves no event and no gap")
        func rollback() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let logger = try TestPostgres.require().logger
            try await withStore(url: url) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                try await db.withConnection { connection in
                    try await connection.query("BEGIN", logger: logger)
                    try await Self.append("undone", tenant: tenant, on: connection, logger: logger)
                    try await connection.query("ROLLBACK", logger: logger)
                    try await Self.append("kept", tenant: tenant, on: connection, logger: logger)
                }
                let seen = try await Self.read(EventLog(database: db), tenant: tenant)
                #expect(seen.map(\.0) == [1])
                #expect(seen.map(\.1) == ["kept"])
            }
        }
    }
}
