import Foundation
import Logging
import PostgresNIO
import RosterStore
import RosterTestSupport
import Testing

extension StoreSuite {
    @Suite("Several database hosts: connections go to the first that qualifies, the way libpq's target_session_attrs says")
    struct DatabaseHostsTests {
        /// `url` with `first` before its own host in the host list, and `query` (`&name=value…`) added to its query.
        func hosts(_ url: String, first: String, query: String) throws -> String {
            let own = try DatabaseURL(url).hosts[0].description
            let listed = url.replacingOccurrences(of: "@\(own)/", with: "@\(first),\(own)/")
            #expect(listed != url)
            return listed.contains("?") ? listed + query : listed + "?" + query.dropFirst()
        }

        func quiet() throws -> Logger {
            var logger = try TestPostgres.require().logger
            logger.logLevel = .critical
            return logger
        }

        @Test("a host that refuses connections is passed over for the next in the URL's order", arguments: ["", "&target_session_attrs=read-write"])
        func passesOverDeadHost(query: String) async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let dead = "127.0.0.1:\(try LoopbackConnection.freePort())"
            let written = try await withDatabase(url: try hosts(url, first: dead, query: query), logger: quiet()) { db in
                try await db.query("CREATE TABLE written (id int)")
                return try await db.query("SELECT count(*) FROM written").first?.decode(Int.self)
            }
            #expect(written == 0)
        }

        @Test("read-write passes over a read-only server; primary and any take it (it is not in recovery)")
        func readOnlyServer() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let database = try #require(try DatabaseURL(url).database)
            try await withDatabase(url: url, logger: quiet()) { db in
                try await db.query(PostgresQuery(unsafeSQL: "ALTER DATABASE \(database) SET default_transaction_read_only = on"))
            }
            let dead = "127.0.0.1:\(try LoopbackConnection.freePort())"
            for target in ["any", "primary"] {
                try await withDatabase(url: try hosts(url, first: dead, query: "&target_session_attrs=\(target)"), logger: quiet()) { db in
                    try await db.ping()
                }
            }
            let start = ContinuousClock.now
            await #expect(throws: StoreError.self) {
                try await withDatabase(url: try hosts(url, first: dead, query: "&target_session_attrs=read-write"), logger: quiet()) { db in
                    try await db.ping()
                }
            }
            // No primary: the statement waits a moment for one (a failover takes seconds), then fails, unbounded never.
            #expect(ContinuousClock.now - start < .seconds(30))
        }
    }
}
