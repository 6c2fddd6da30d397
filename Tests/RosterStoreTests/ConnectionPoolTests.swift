import Foundation
import PostgresNIO
import RosterStore
import RosterTestSupport
import Testing

extension StoreSuite {
    @Suite("Connection pool statistics")
    struct ConnectionPoolTests {
        @Test("a connection counts as in use from lease to return, through withConnection, transaction and query")
        func leasesCounted() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url) { db in
                #expect(db.connectionsInUse == 0)
                try await db.withConnection { _ in #expect(db.connectionsInUse == 1) }
                try await db.transaction { _ in #expect(db.connectionsInUse == 1) }
                try await db.withConnection { _ in
                    try await db.transaction { _ in #expect(db.connectionsInUse == 2) }
                }
                #expect(db.connectionsInUse == 0)

                // A plain query holds its connection until its rows are collected: seen from outside while it sleeps.
                async let slow = db.query("SELECT pg_sleep(1)")
                var seen = 0
                let deadline = ContinuousClock.now + .seconds(10)
                while seen == 0 && ContinuousClock.now < deadline {
                    seen = db.connectionsInUse
                    try await Task.sleep(for: .milliseconds(10))
                }
                #expect(seen == 1)
                _ = try await slow
                #expect(db.connectionsInUse == 0)
            }
        }

        @Test("a failing body and a failing statement give their connection back to the count")
        func failuresReleased() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url) { db in
                struct Refused: Error {}
                await #expect(throws: Refused.self) { try await db.transaction { _ -> Void in throw Refused() } }
                await #expect(throws: StoreError.self) { try await db.query("SELECT * FROM no_such_table") }
                #expect(db.connectionsInUse == 0)
            }
        }

        @Test("open connections are this client's sessions in pg_stat_activity, found by its application_name")
        func openConnections() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url, pool: ConnectionPoolIdentity(maxConnections: 4)) { db in
                // Two leases at once make the pool open two connections; both stay open, idle, afterwards.
                try await db.withConnection { _ in try await db.withConnection { _ in } }
                // The count runs on one of those two.
                #expect(try await db.openConnections() == 2)
                #expect(db.connectionsInUse == 0)
            }
            try await withStore(url: url) { db in
                let open = try await db.openConnections()
                #expect(open == nil, "without an identity the sessions cannot be told apart")
            }
        }
    }
}
