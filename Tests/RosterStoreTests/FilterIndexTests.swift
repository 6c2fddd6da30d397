import Foundation
import PostgresNIO
@testable import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension StoreSuite {
    @Suite("Indexed filters")
    struct FilterIndexTests {
        /// The repository's schema documents, as the server loads them.
        static func registry() throws -> SchemaRegistry {
            let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("schemas")
            let schemas = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }
                .map { try JSONDecoder().decode(Schema.self, from: Data(contentsOf: folder.appendingPathComponent($0))) }
            return try SchemaRegistry(schemas: schemas)
        }

        @Test("userName, externalId, displayName and emails.value eq use indexes on 20 000 users", arguments: [
            (#"userName eq "User-1234""#, "users_user_name_key"),
            (#"externalId eq "ext-1234""#, "users_external_id"),
            (#"displayName eq "person 1234""#, "users_display_name"),
            (#"emails.value eq "USER-1234@example.com""#, "users_emails"),
            (#"emails[type eq "work" and value eq "user-1234@example.com"]"#, "users_emails"),
        ])
        func indexes(filter: String, index: String) async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let registry = try Self.registry()
            try await withStore(url: url) { db in
                let tenant = try #require(try await TenantRepository(database: db).find("default"))
                try await db.query(
                    """
                    INSERT INTO users (tenant_id, id, user_name, external_id, display_name, active, emails, created, last_modified, body)
                    SELECT \(tenant.id), gen_random_uuid(), 'user-' || i, 'ext-' || i, 'Person ' || i, true,
                           ARRAY['user-' || i || '@example.com'], now(), now(),
                           jsonb_build_object('userName', 'user-' || i, 'emails',
                               jsonb_build_array(jsonb_build_object('value', 'user-' || i || '@example.com', 'type', 'work')))
                    FROM generate_series(1, 20000) AS i
                    """)
                try await db.query("ANALYZE users")
                func query(_ prefix: String) throws -> PostgresQuery {
                    var sql = SQLBuilder()
                    sql.append(prefix + " FROM users WHERE tenant_id = ")
                    sql.bind(tenant.id)
                    sql.append(" AND ")
                    try FilterCompiler(resourceType: registry.user, table: .users).compile(try FilterParser.parse(filter), into: &sql)
                    return sql.query
                }
                let plan = try await db.query(query("EXPLAIN SELECT id")).map { try $0.decode(String.self) }.joined(separator: "\n")
                #expect(plan.contains(index), "\(filter)\n\(plan)")
                #expect(try await db.query(query("SELECT count(*)")).first?.decode(Int.self) == 1, "\(filter)")
            }
        }
    }
}
