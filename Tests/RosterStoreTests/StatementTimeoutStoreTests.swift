import PostgresNIO
import RosterStore
import RosterTestSupport
import Testing

extension StoreSuite {
    @Suite("Statement limits: the pool's default, a task's override, and the default back after it")
    struct StatementTimeoutStoreTests {
        static func setting(_ db: RosterDatabase) async throws -> String {
            try await db.query("SHOW statement_timeout").first!.decode(String.self)
        }

        @Test("connections start with the pool's limit; an override holds for its task's leases only, on the same connection")
        func overrideAndReset() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            // One connection, so every lease below is the same session.
            try await withStore(url: url, pool: ConnectionPoolIdentity(maxConnections: 1), statementTimeout: .milliseconds(1500)) { db in
                #expect(try await Self.setting(db) == "1500ms")
                let (inside, pid) = try await StatementTimeout.$override.withValue(.seconds(300)) {
                    (try await Self.setting(db), try await db.query("SELECT pg_backend_pid()").first!.decode(Int32.self))
                }
                #expect(inside == "5min")
                #expect(try await Self.setting(db) == "1500ms")
                #expect(try await db.query("SELECT pg_backend_pid()").first!.decode(Int32.self) == pid, "the same connection, reset")
                // The same limit as the pool's costs no statement; a failed body still resets.
                #expect(try await StatementTimeout.$override.withValue(.milliseconds(1500)) { try await Self.setting(db) } == "1500ms")
                await #expect(throws: StoreError.self) {
                    try await StatementTimeout.$override.withValue(.seconds(60)) { try await db.query("SELECT 1/0") }
                }
                #expect(try await Self.setting(db) == "1500ms")
            }
        }

        @Test("a statement past the limit is StoreError.statementTimeout, inside a transaction too")
        func timeoutError() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url, pool: ConnectionPoolIdentity(maxConnections: 2), statementTimeout: .milliseconds(200)) { db in
                await #expect(throws: StoreError.statementTimeout) { try await db.query("SELECT pg_sleep(2)") }
                await #expect(throws: StoreError.statementTimeout) {
                    try await db.transaction { _ = try await $0.query("SELECT pg_sleep(2)", logger: db.logger).collect() }
                }
                // An override lets a slower statement finish.
                try await StatementTimeout.$override.withValue(.seconds(30)) { try await db.query("SELECT pg_sleep(0.5)") }
            }
        }
    }
}
