import Foundation
import PostgresNIO
@testable import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension StoreSuite {
    /// RFC 7644 §3.4.2.4 totalResults: exact where a client could stop paging by it, bounded elsewhere.
    /// The limit is 50 here (10 000 in the server) so 300 users exceed it.
    @Suite("totalResults: exact when cheap, a growing lower bound otherwise")
    struct TotalResultsTests {
        static let limit = 50

        static func list(_ db: RosterDatabase, _ tenant: UUID, filter: String? = nil, sortBy: String? = nil, startIndex: Int = 1, count: Int = 10) async throws -> ResourcePage<StoredResource> {
            let query = ResourceQuery(
                filter: try filter.map { try FilterParser.parse($0) }, sortBy: sortBy.map { AttributePath(attribute: $0) },
                page: Pagination(startIndex: startIndex, count: count))
            return try await ResourcePage.fetch(
                table: .users, resourceType: try FilterIndexTests.registry().user, tenant: tenant, query: query, database: db, countLimit: limit)
        }

        static func cursor(_ db: RosterDatabase, _ tenant: UUID, filter: String? = nil, count: Int = 10) async throws -> CursorPage<StoredResource> {
            let query = ResourceQuery(filter: try filter.map { try FilterParser.parse($0) }, page: Pagination(count: count), cursorMode: true)
            return try await CursorPage.fetch(
                table: .users, resourceType: try FilterIndexTests.registry().user, tenant: tenant, query: query, database: db, countLimit: limit)
        }

        @Test("the unfiltered list in the default order (how an IdP enumerates a tenant) always has its exact total")
        func enumeration() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url) { db in
                let tenant = try await PageStatementTests.seed(db, users: 300)
                #expect(try await Self.list(db, tenant).totalResults == 300)
                #expect(try await Self.list(db, tenant, startIndex: 151).totalResults == 300)
                #expect(try await Self.list(db, tenant, count: 0).totalResults == 300)
                // Paging on by the reported total reaches every user exactly once.
                var seen = Set<UUID>()
                var start = 1
                while true {
                    let page = try await Self.list(db, tenant, startIndex: start, count: 40)
                    seen.formUnion(page.resources.map(\.id))
                    start += 40
                    if start > page.totalResults { break }
                }
                #expect(seen.count == 300)
            }
        }

        @Test("a sorted page past the limit reports startIndex + limit, growing as it pages, exact near the end")
        func sortedBound() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url) { db in
                let tenant = try await PageStatementTests.seed(db, users: 300)
                #expect(try await Self.list(db, tenant, sortBy: "userName").totalResults == 51)
                #expect(try await Self.list(db, tenant, sortBy: "userName", startIndex: 101).totalResults == 151)
                #expect(try await Self.list(db, tenant, sortBy: "userName", startIndex: 251).totalResults == 300)
                #expect(try await Self.list(db, tenant, sortBy: "userName", startIndex: 1000).totalResults == 300, "past the end: exact")
                // A client that re-reads totalResults from every page reaches every user.
                var seen = Set<UUID>()
                var start = 1
                while true {
                    let page = try await Self.list(db, tenant, sortBy: "userName", startIndex: start, count: 40)
                    seen.formUnion(page.resources.map(\.id))
                    start += 40
                    if start > page.totalResults { break }
                }
                #expect(seen.count == 300)
            }
        }

        @Test("a filtered page is exact when few match (no count: the page ends the set) and bounded when many do")
        func filtered() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url) { db in
                let tenant = try await PageStatementTests.seed(db, users: 300)
                // user-12, user-120 … user-129
                #expect(try await Self.list(db, tenant, filter: #"userName co "user-12""#, count: 100).totalResults == 11)
                #expect(try await Self.list(db, tenant, filter: #"userName co "user-12""#, count: 5).totalResults == 11)
                #expect(try await Self.list(db, tenant, filter: #"userName co "user-12""#, startIndex: 20).totalResults == 11)
                #expect(try await Self.list(db, tenant, filter: #"userName eq "user-7""#).totalResults == 1)
                #expect(try await Self.list(db, tenant, filter: #"userName eq "nobody""#).totalResults == 0)
                #expect(try await Self.list(db, tenant, filter: #"userName sw "user-""#).totalResults == 51)
                #expect(try await Self.list(db, tenant, filter: #"userName sw "user-""#, count: 0).totalResults == 51)
                #expect(try await Self.list(db, tenant, filter: #"userName sw "user-2""#, count: 200).totalResults == 111)
            }
        }

        @Test("a cursor page's total is exact up to the limit and a lower bound past it; nextCursor still ends the set")
        func cursorTotals() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url) { db in
                let tenant = try await PageStatementTests.seed(db, users: 300)
                #expect(try await Self.cursor(db, tenant, filter: #"userName co "user-12""#).totalResults == 11)
                #expect(try await Self.cursor(db, tenant, filter: #"userName co "user-12""#, count: 100).totalResults == 11)
                #expect(try await Self.cursor(db, tenant, filter: #"userName co "user-1""#).totalResults == 51)
                let first = try await Self.cursor(db, tenant, count: 100)
                #expect(first.totalResults == 51)
                #expect(first.next != nil)
            }
        }
    }
}
