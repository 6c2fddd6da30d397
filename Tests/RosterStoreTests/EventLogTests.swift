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

        /// A fresh database's store, its default tenant's id and the suite's logger.
        static func withDefaultTenant(_ body: @Sendable (RosterDatabase, UUID, Logger) async throws -> Void) async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let logger = try TestPostgres.require().logger
            try await withStore(url: url) { db in
                try await body(db, try #require(try await TenantRepository(database: db).find("default")).id, logger)
            }
        }

        static func read(_ log: EventLog, tenant: UUID, after: Int64 = 0) async throws -> [(Int64, String)] {
            try await log.read(tenant: tenant, .init(after: after)).map { ($0.sequence, $0.data["label"]?.stringValue ?? "") }
        }

        @Test("two transactions that commit in the opposite order of their inserts: numbers follow commits, a resuming reader skips nothing")
        func oppositeCommitOrder() async throws {
            try await Self.withDefaultTenant { db, tenant, logger in
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

        @Test("a long transaction holds neither other writers nor readers; its events are numbered when it commits")
        func longTransaction() async throws {
            try await Self.withDefaultTenant { db, tenant, logger in
                let log = EventLog(database: db)
                try await db.withConnection { long in
                    try await long.query("BEGIN", logger: logger)
                    try await Self.append("long", tenant: tenant, on: long, logger: logger)
                    try await db.withConnection { short in
                        // Under the old per-tenant counter this waited for `long`; a wait now fails the test instead of hanging it.
                        try await short.query("BEGIN", logger: logger)
                        try await short.query("SET LOCAL lock_timeout = '5s'", logger: logger)
                        try await Self.append("short", tenant: tenant, on: short, logger: logger)
                        try await short.query("COMMIT", logger: logger)
                    }
                    let seen = try await Self.read(log, tenant: tenant)
                    #expect(seen.map(\.1) == ["short"], "a reader is not held back by the open transaction")
                    #expect(seen.map(\.0) == [1])
                    try await long.query("COMMIT", logger: logger)
                }
                #expect(try await Self.read(log, tenant: tenant, after: 1).map(\.1) == ["long"])
                #expect(try await Self.read(log, tenant: tenant).map(\.0) == [1, 2])
            }
        }

        @Test("a transaction that wrote first but waited on a resource another one held is numbered after that one for the resource")
        func waitedOnResource() async throws {
            // The case that rules out ordering by transaction id (0017): `bulk` writes a user first (its id is
            // the older one), then waits for `patch`, which holds the group row, to commit.
            try await Self.withDefaultTenant { db, tenant, logger in
                let group = UUID()
                try await db.query(
                    "INSERT INTO groups (tenant_id, id, display_name, created, last_modified, body) VALUES (\(tenant), \(group), 'g', now(), now(), '{}')")
                let log = EventLog(database: db)
                @Sendable func groupEvent(_ label: String, on connection: PostgresConnection) async throws {
                    let event = NewEvent(type: .groupUpdated, resource: group, version: 1, data: ["label": .string(label)])
                    try await EventLog.append([event], tenant: tenant, context: ChangeContext(actor: .system), connection: connection, logger: logger)
                }
                try await db.withConnection { bulk in
                    try await db.withConnection { patch in
                        try await bulk.query("BEGIN", logger: logger)
                        try await Self.append("bulk's user", tenant: tenant, on: bulk, logger: logger)
                        try await patch.query("BEGIN", logger: logger)
                        try await patch.query("SELECT 1 FROM groups WHERE id = \(group) FOR UPDATE", logger: logger)
                        try await groupEvent("patch's change", on: patch)
                        let waiting = Task {
                            try await bulk.query("SELECT 1 FROM groups WHERE id = \(group) FOR UPDATE", logger: logger)
                            try await groupEvent("bulk's change", on: bulk)
                            try await bulk.query("COMMIT", logger: logger)
                        }
                        try await Self.waitForLockWait(db)
                        try await patch.query("COMMIT", logger: logger)
                        try await waiting.value
                    }
                }
                let labels = try await Self.read(log, tenant: tenant).map(\.1)
                let changes = labels.filter { $0.hasSuffix("change") }
                #expect(changes == ["patch's change", "bulk's change"], "the group's events follow the order its changes were applied")
            }
        }

        @Test("writers of one resource: its events follow its versions")
        func oneResourceManyWriters() async throws {
            try await Self.withDefaultTenant { db, tenant, _ in
                let users = UserRepository(database: db, resourceType: try FilterIndexTests.registry().user)
                let user = try await users.create(tenant: tenant, body: ["userName": "shared", "title": "0"], change: ChangeContext(actor: .system))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in 1...4 {
                        group.addTask {
                            for round in 1...10 {
                                _ = try await users.update(tenant: tenant, id: user.id, change: ChangeContext(actor: .system)) { body in
                                    var body = body
                                    body["title"] = .string("\(writer)-\(round)")
                                    return body
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let events = try await EventLog(database: db).read(tenant: tenant, .init(limit: 1000))
                let versions = events.filter { $0.resourceID == user.id }.map(\.resourceVersion)
                #expect(versions == Array(1...41).map(Int64.init), "one event per version, in version order")
                #expect(events.map(\.sequence) == Array(1...Int64(events.count)))
            }
        }

        @Test("readers and stamps racing writers: every event read exactly once, numbers without a gap")
        func racingReaders() async throws {
            try await Self.withDefaultTenant { db, tenant, _ in
                let users = UserRepository(database: db, resourceType: try FilterIndexTests.registry().user)
                let log = EventLog(database: db)
                let (writers, perWriter) = (3, 40)
                let reader = Task {
                    var seen: [Int64] = []
                    var quietRounds = 0
                    // Reads by cursor (each read stamps first) until everything written has come through.
                    while seen.count < writers * perWriter && quietRounds < 500 {
                        let page = try await log.read(tenant: tenant, .init(after: seen.last ?? 0, limit: 7))
                        seen += page.map(\.sequence)
                        quietRounds = page.isEmpty ? quietRounds + 1 : 0
                        if page.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
                    }
                    return seen
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in 0..<writers {
                        group.addTask {
                            for n in 0..<perWriter {
                                _ = try await users.create(tenant: tenant, body: ["userName": .string("w\(writer)-\(n)")], change: ChangeContext(actor: .system))
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let seen = try await reader.value
                #expect(seen == Array(1...Int64(writers * perWriter)), "a cursor reader saw every number once, in order")
            }
        }

        @Test("two stamps at once number each event once")
        func concurrentStamps() async throws {
            try await Self.withDefaultTenant { db, tenant, logger in
                let log = EventLog(database: db)
                try await db.withConnection { connection in
                    for n in 0..<50 { try await Self.append("e\(n)", tenant: tenant, on: connection, logger: logger) }
                }
                async let first = log.stamp()
                async let second = log.stamp()
                let total = try await (first[tenant] ?? 0) + (second[tenant] ?? 0)
                #expect(total == 50)
                let seen = try await log.read(tenant: tenant, .init(limit: 100), stampFirst: false)
                #expect(seen.map(\.sequence) == Array(1...50))
                #expect(seen.map { $0.data["label"]?.stringValue } == (0..<50).map { "e\($0)" }, "numbered in the order written")
                #expect(try await log.committed() == 50)
            }
        }

        @Test("tenants are numbered apart: a stamp or a read of one tenant never numbers, shows or shifts another's events")
        func tenantsApart() async throws {
            try await Self.withDefaultTenant { db, a, logger in
                let b = try await TenantRepository(database: db).create(name: "tenant-b", by: .system).id
                let log = EventLog(database: db)
                try await db.withConnection { connection in
                    for n in 0..<5 {
                        try await Self.append("a\(n)", tenant: a, on: connection, logger: logger)
                        try await Self.append("b\(n)", tenant: b, on: connection, logger: logger)
                    }
                }
                // A stamp of A, and A's readers (which stamp A first), leave B's events unnumbered and unseen.
                #expect(try await log.stamp(tenant: a) == [a: 5])
                let seenByA = try await Self.read(log, tenant: a)
                #expect(seenByA.map(\.0) == Array(1...5))
                #expect(seenByA.map(\.1) == (0..<5).map { "a\($0)" })
                let unnumbered = try await db.query("SELECT count(*) FROM events WHERE tenant_id = \(b) AND seq IS NULL").first?.decode(Int.self)
                #expect(unnumbered == 5, "a stamp of tenant A numbered tenant B's events")
                #expect(try await log.read(tenant: b, .init(), stampFirst: false).isEmpty)
                // B's numbers start at 1 whatever A has; a cursor of A's (5) read against B skips nothing of B's.
                let seenByB = try await Self.read(log, tenant: b)
                #expect(seenByB.map(\.0) == Array(1...5))
                #expect(seenByB.map(\.1) == (0..<5).map { "b\($0)" })
                #expect(try await Self.read(log, tenant: b, after: 5).isEmpty)
                #expect(try await Self.read(log, tenant: a, after: 5).isEmpty)
            }
        }

        static func waitForLockWait(_ db: RosterDatabase) async throws {
            for _ in 0..<250 {
                let rows = try await db.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
                if try rows.first?.decode(Int.self) == 1 { return }
                try await Task.sleep(for: .milliseconds(20))
            }
            Issue.record("the second transaction never waited for the first")
        }

        @Test("a rolled-back change leaves no event and no gap")
        func rollback() async throws {
            try await Self.withDefaultTenant { db, tenant, logger in
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
