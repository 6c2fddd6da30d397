import Foundation
import Logging
import PostgresNIO
import RosterAuth
@testable import RosterStore
import RosterTestSupport
import Testing

extension StoreSuite {
    /// `ROSTER_DATABASE_POOL_MODE`: what the pool does differently behind a pooler. PostgreSQL itself stands in for the
    /// pooler here (a client that sends no statement limit at connect); scripts/pooler_check.py runs Roster behind PgBouncer.
    @Suite("Pool modes: statement limits, prepared statements and the start-up check behind a pooler")
    struct PoolModeStoreTests {
        static let session = DatabaseRoute(mode: .session, sessionURL: nil)
        static let transaction = DatabaseRoute(mode: .transaction, sessionURL: nil)

        static func setting(_ db: RosterDatabase) async throws -> String {
            try await db.query("SHOW statement_timeout").first!.decode(String.self)
        }

        static func pid(_ db: RosterDatabase) async throws -> Int32 {
            try await db.query("SELECT pg_backend_pid()").first!.decode(Int32.self)
        }

        @Test("session mode: a connection's first lease SETs the pool's limit, and an override is followed by that limit again, not RESET")
        func sessionLimits() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url, pool: ConnectionPoolIdentity(maxConnections: 1), statementTimeout: .milliseconds(1500), route: Self.session) { db in
                #expect(try await Self.setting(db) == "1500ms", "set on the first lease, though not sent at connect")
                let pid = try await Self.pid(db)
                #expect(try await StatementTimeout.$override.withValue(.seconds(300)) { try await Self.setting(db) } == "5min")
                #expect(try await Self.setting(db) == "1500ms", "the pool's limit again: RESET would give the server's default, none")
                await #expect(throws: StoreError.self) {
                    try await StatementTimeout.$override.withValue(.seconds(60)) { try await db.query("SELECT 1/0") }
                }
                #expect(try await Self.setting(db) == "1500ms")
                #expect(try await Self.pid(db) == pid, "one session throughout")
            }
        }

        @Test("transaction mode: an override is SET LOCAL in a transaction around the lease, and nothing of it stays on the session")
        func transactionLimits() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            // The role's default, as the start-up check requires behind a transaction-mode pooler.
            try await withStore(url: url) { db in
                try await db.query("ALTER ROLE CURRENT_USER IN DATABASE \"\(unescaped: DatabaseURL(url).database!)\" SET statement_timeout = 1500")
            }
            try await withStore(url: url, pool: ConnectionPoolIdentity(maxConnections: 1), statementTimeout: .milliseconds(1500), route: Self.transaction) { db in
                #expect(try await Self.setting(db) == "1500ms")
                let (inside, open) = try await StatementTimeout.$override.withValue(.seconds(300)) {
                    (try await Self.setting(db), try await db.query("SELECT now() <> statement_timestamp()").first!.decode(Bool.self))
                }
                #expect(inside == "5min")
                #expect(open, "the statement ran inside an explicit transaction")
                #expect(try await Self.setting(db) == "1500ms", "nothing stayed on the session")
                // Errors of a lease that asked for no transaction are its own, not a transaction's.
                await #expect(throws: StoreError.invalidValue("division by zero")) {
                    try await StatementTimeout.$override.withValue(.seconds(60)) { try await db.query("SELECT 1/0") }
                }
                // A transaction under an override is one transaction, its errors translated as ever.
                await #expect(throws: StoreError.statementTimeout) {
                    try await StatementTimeout.$override.withValue(.milliseconds(200)) {
                        try await db.transaction { _ = try await $0.query("SELECT pg_sleep(2)", logger: db.logger).collect() }
                    }
                }
                #expect(try await Self.setting(db) == "1500ms")
            }
        }

        @Test("transaction mode: the hot statements run unnamed, so no server session holds a statement another client's Parse would clash with")
        func unnamedStatements() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            for (route, prepared) in [(DatabaseRoute.direct, true), (Self.transaction, false)] {
                try await withStore(url: url, pool: ConnectionPoolIdentity(maxConnections: 1), route: route) { db in
                    let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                    let (_, secret) = try await ScimTokenRepository(database: db).create(tenant: tenant, name: "t-\(route.mode)", by: .system)
                    #expect(try await ScimTokenRepository(database: db).authenticate(secret)?.tenantID == tenant)
                    let count = try await db.query("SELECT count(*) FROM pg_prepared_statements").first!.decode(Int.self)
                    #expect(prepared ? count > 0 : count == 0, "\(route.mode)")
                }
            }
        }

        @Test("the start-up check passes PostgreSQL itself, and refuses a role default other than Roster's behind a transaction pooler, naming the fix")
        func routeCheck() async throws {
            let postgres = try TestPostgres.require()
            let url = try DatabaseURL(try await postgres.freshDatabase())
            try await DatabaseRoute.direct.check(url: url, statementTimeout: .seconds(10), logger: postgres.logger)
            try await Self.session.check(url: url, statementTimeout: .seconds(10), logger: postgres.logger)
            let error = await #expect(throws: DatabaseRouteMismatch.self) {
                try await Self.transaction.check(url: url, statementTimeout: .seconds(10), logger: postgres.logger)
            }
            #expect(error?.description.contains("SET statement_timeout = 10000") == true)
        }

        @Test("the start-up check refuses a session URL of another database: its LISTEN would never hear this one's NOTIFY")
        func sessionURLOfAnotherDatabase() async throws {
            let postgres = try TestPostgres.require()
            let text = try await postgres.freshDatabase()
            let url = try DatabaseURL(text)
            let other = try DatabaseURL(try await postgres.freshDatabase())
            try await withStore(url: text) { db in
                try await db.query("ALTER ROLE CURRENT_USER IN DATABASE \"\(unescaped: url.database!)\" SET statement_timeout = 10000")
            }
            try await DatabaseRoute(mode: .transaction, sessionURL: url).check(url: url, statementTimeout: .seconds(10), logger: postgres.logger)
            let error = await #expect(throws: DatabaseRouteMismatch.self) {
                try await DatabaseRoute(mode: .transaction, sessionURL: other).check(url: url, statementTimeout: .seconds(10), logger: postgres.logger)
            }
            #expect(error?.description.contains("ROSTER_DATABASE_SESSION_URL leads to the database") == true)
        }
    }
}
