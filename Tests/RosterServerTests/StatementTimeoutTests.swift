import Foundation
import HTTPTypes
import PostgresNIO
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Statement time limits: a query past its limit is a clear error, never a 500")
    struct StatementTimeoutTests {
        /// Holds `lock` (a `LOCK TABLE …` statement) in a transaction of its own until `body` returns (or
        /// for `holdFor`, when given), so statements that need the table wait: a statement slow for as long as the test wants.
        static func whileLocked<Result: Sendable>(
            _ lock: String, url: String, holdFor: Duration? = nil, _ body: @Sendable () async throws -> Result
        ) async throws -> Result {
            let (taken, signal) = AsyncStream.makeStream(of: Void.self)
            let (done, finish) = AsyncStream.makeStream(of: Void.self)
            return try await withThrowingTaskGroup(of: Result?.self) { group in
                group.addTask {
                    try await withDatabase(url: url, logger: TestPostgres.require().logger) { db in
                        try await db.transaction { connection in
                            try await connection.query(PostgresQuery(unsafeSQL: lock), logger: db.logger)
                            signal.yield()
                            if let holdFor { try await Task.sleep(for: holdFor) } else { for await _ in done {} }
                        }
                    }
                    return nil
                }
                for await _ in taken { break }
                let result = try await body()
                finish.finish()
                for try await _ in group {}
                return result
            }
        }

        static let user = #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"late"}"#

        @Test("a SCIM read past the limit is 400 tooMany; a write is 429 with Retry-After and writes nothing")
        func scimTimeouts() async throws {
            try await Roster.run(configure: { $0.limits.scimStatementTimeout = .milliseconds(300) }) { roster in
                let id = try await roster.createUser("ada")
                let (read, search, write) = try await Self.whileLocked("LOCK TABLE users IN ACCESS EXCLUSIVE MODE", url: roster.databaseURL) {
                    (try await roster.scim(.get, "/Users/\(id)"),
                     try await roster.scim(.post, "/Users/.search", body: #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"filter":"userName sw \"a\""}"#),
                     try await roster.scim(.post, "/Users", body: Self.user))
                }
                read.expectScimError(.badRequest, "tooMany")
                search.expectScimError(.badRequest, "tooMany")
                write.expectScimError(.tooManyRequests)
                #expect(write.headers[.retryAfter] == "1")
                // Nothing of the refused write remains, and the pool's connections work again.
                #expect(try await roster.userNames(filter: #"userName eq "late""#).isEmpty)
                let after = try await roster.scim(.get, "/Users/\(id)")
                #expect(after.status == .ok, "\(after.body)")
            }
        }

        @Test("an admin request runs under the admin limit, not the SCIM one")
        func adminLimit() async throws {
            try await Roster.run(configure: {
                $0.limits.scimStatementTimeout = .milliseconds(300)
                $0.limits.adminStatementTimeout = .seconds(2)
            }) { roster in
                // Held until the reads answer: each gives up at its own API's limit (the store suite checks the reset).
                let started = ContinuousClock.now
                let events = try await Self.whileLocked("LOCK TABLE events IN ACCESS EXCLUSIVE MODE", url: roster.databaseURL) {
                    try await roster.admin(.get, "/events?limit=1")
                }
                #expect(events.json["error"]?["code"] == "query_too_expensive", "\(events.body)")
                #expect(ContinuousClock.now - started >= .milliseconds(1900), "the admin limit (2 s), not the SCIM one (300 ms)")
            }
        }

        @Test("an admin read past the admin limit is 400; an admin write is 429")
        func adminTimeouts() async throws {
            try await Roster.run(configure: { $0.limits.adminStatementTimeout = .milliseconds(300) }) { roster in
                let (read, write) = try await Self.whileLocked("LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE", url: roster.databaseURL) {
                    (try await roster.admin(.get, "/tenants"), try await roster.admin(.post, "/tenants", body: #"{"name":"late"}"#))
                }
                read.expectAdminError(.badRequest)
                #expect(read.json["error"]?["code"] == "query_too_expensive")
                write.expectAdminError(.tooManyRequests)
                #expect(write.headers[.retryAfter] == "1")
                #expect(try await roster.admin(.get, "/tenants/late").status == .notFound)
            }
        }

        @Test("the limits are read from the environment and checked")
        func configuration() throws {
            let limits = try ConfigurationTests.configuration([
                "ROSTER_SCIM_STATEMENT_TIMEOUT_MS": "2500", "ROSTER_ADMIN_STATEMENT_TIMEOUT_MS": "60000",
                "ROSTER_TENANT_POOL_SHARE_PERCENT": "25", "ROSTER_GROUP_LIST_MEMBER_BUDGET": "500",
            ]).limits
            #expect(limits.scimStatementTimeout == .milliseconds(2500))
            #expect(limits.adminStatementTimeout == .seconds(60))
            #expect(limits.tenantRequests(maxConnections: 16) == 4)
            #expect(limits.tenantRequests(maxConnections: 2) == 1)
            #expect(limits.groupListMemberBudget == 500)
            for (name, value) in [
                ("ROSTER_SCIM_STATEMENT_TIMEOUT_MS", "0"), ("ROSTER_ADMIN_STATEMENT_TIMEOUT_MS", "-5"),
                ("ROSTER_TENANT_POOL_SHARE_PERCENT", "0"), ("ROSTER_TENANT_POOL_SHARE_PERCENT", "101"),
                ("ROSTER_GROUP_LIST_MEMBER_BUDGET", "-1"),
            ] {
                #expect(throws: RosterConfiguration.Invalid.self, "\(name)=\(value)") { try ConfigurationTests.configuration([name: value]) }
            }
        }
    }
}
