import Foundation
import PostgresNIO
@testable import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension StoreSuite {
    @Suite("Page statements: what PostgreSQL plans and computes")
    struct PageStatementTests {
        static func seed(_ db: RosterDatabase, users count: Int) async throws -> UUID {
            let tenant = try #require(try await TenantRepository(database: db).find("default")).id
            try await db.query(
                """
                INSERT INTO users (tenant_id, id, user_name, created, last_modified, body)
                SELECT \(tenant), gen_random_uuid(), 'user-' || i, now() + (i || ' ms')::interval, now(),
                       jsonb_build_object('userName', 'user-' || i)
                FROM generate_series(1, \(count)) AS i
                """)
            try await db.query("ANALYZE users")
            return tenant
        }

        @Test("an indexed lookup's prepared statement settles on a generic plan instead of being planned on every call")
        func genericPlan() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            // One connection: the prepared statement and pg_prepared_statements are that session's.
            try await withStore(url: url, pool: ConnectionPoolIdentity(maxConnections: 1)) { db in
                let tenant = try await Self.seed(db, users: 2_000)
                let users = UserRepository(database: db, resourceType: try FilterIndexTests.registry().user)
                for i in 1...10 {
                    let page = try await users.list(tenant: tenant, query: ResourceQuery(filter: try FilterParser.parse(#"userName eq "user-\#(i)""#)))
                    #expect(page.totalResults == 1)
                }
                let plans = try await db.query(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name LIKE 'roster_lookup_users%'"
                ).map { try $0.decode((Int64, Int64).self) }
                let (generic, custom) = try #require(plans.first)
                #expect(generic >= 4, "generic \(generic), custom \(custom): PostgreSQL re-plans the lookup on every call")
            }
        }

        @Test("a deep index page computes users' groups for its own rows, not for every row OFFSET skips")
        func deepPage() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url) { db in
                let tenant = try await Self.seed(db, users: 2_000)
                let compiler = FilterCompiler(resourceType: try FilterIndexTests.registry().user, table: .users, tenant: tenant)
                let query = ResourceQuery(page: try Pagination(startIndex: "1901", count: "50"))
                let statement = try ResourcePage<StoredResource>.pageQuery(
                    compiler: compiler, condition: try compiler.condition(nil, tenant: tenant), query: query)
                let plan = try await db.query(PostgresQuery(unsafeSQL: "EXPLAIN (ANALYZE, COSTS OFF) " + statement.sql, binds: statement.binds))
                    .map { try $0.decode(String.self) }
                // The groups subquery is a SubPlan; the node right under it says how often it ran.
                let subplan = try #require(plan.firstIndex { $0.contains("SubPlan") }, "\(plan.joined(separator: "\n"))")
                let node = plan.count > subplan + 1 ? plan[subplan + 1] : ""
                let loops = node.components(separatedBy: "loops=").last.map { $0.prefix { $0.isNumber } }.flatMap { Int($0) }
                #expect(loops == 50, "\(plan.joined(separator: "\n"))")
                let page = try StoredResource.decode(try await db.query(statement))
                #expect(page.count == 50)
                #expect(page.first?.body["userName"] == "user-1901", "the page keeps its order")
            }
        }
    }
}
