import Foundation
import PostgresNIO
@testable import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension StoreSuite {
    @Suite("Values too long to index")
    struct IndexLimitTests {
        /// Random text PostgreSQL cannot compress under its index entry limit (about 2 700 bytes).
        static let unindexable = (0..<200).map { _ in UUID().uuidString }.joined()

        @Test("a value longer than an index entry holds is a refused value (400), not an unavailable database (503)")
        func programLimitIsInvalidValue() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default"))
                let users = UserRepository(database: db, resourceType: try FilterIndexTests.registry().user)
                let change = ChangeContext(actor: .system)
                // The store itself, past the SCIM layer's limits: PostgreSQL answers SQLSTATE 54000.
                for body: [String: JSONValue] in [
                    ["userName": .string(Self.unindexable)],
                    ["userName": "short", "displayName": .string(Self.unindexable)],
                    ["userName": "short2", "emails": [["value": .string(Self.unindexable)]]],
                ] {
                    do {
                        _ = try await users.create(tenant: tenant.id, body: body, change: change)
                        Issue.record("a value too long to index was stored")
                    } catch let error as StoreError {
                        guard case .invalidValue = error else {
                            Issue.record("expected .invalidValue, got \(error)")
                            continue
                        }
                    }
                }
                let count = try await db.query("SELECT count(*) FROM users").map { try $0.decode(Int64.self) }.first
                #expect(count == 0)
            }
        }
    }
}
