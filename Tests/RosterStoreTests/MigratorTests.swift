import PostgresNIO
@testable import RosterStore
import RosterTestSupport
import Testing

extension StoreSuite {
    @Suite("Migrations")
    struct MigratorTests {
        let migrator = Migrator(migrations: try! Migration.bundled())

        @Test("the bundled migrations are numbered files in order")
        func bundled() throws {
            let migrations = try Migration.bundled()
            #expect(!migrations.isEmpty)
            #expect(migrations.map(\.version) == migrations.map(\.version).sorted())
            #expect(migrations.first?.name == "0001_init")
        }

        @Test("migrating an empty database applies everything once and records checksums")
        func appliesOnce() async throws {
            let url = try await TestPostgres.require().emptyDatabase()
            try await withStore(url: url) { db in
                #expect(try await migrator.status(db) == .init(applied: 0, pending: migrator.migrations.count))
                #expect(try await migrator.migrate(db).count == migrator.migrations.count)
                #expect(try await migrator.migrate(db).isEmpty)
                #expect(try await migrator.status(db) == .init(applied: migrator.migrations.count, pending: 0))
                let checksums = try await db.query("SELECT checksum FROM schema_migrations ORDER BY version")
                    .map { try $0.decode(String.self) }
                #expect(checksums == migrator.migrations.map(\.checksum))
            }
        }

        @Test("a default tenant exists after migrating")
        func defaultTenant() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let tenant = try await withStore(url: url) { try await TenantRepository(database: $0).find("default") }
            #expect(tenant?.name == "default")
        }

        @Test("an applied migration whose file changed is refused with a clear message")
        func changedFileRefused() async throws {
            let url = try await TestPostgres.require().emptyDatabase()
            try await withStore(url: url) { db in
                try await migrator.migrate(db)
                var edited = migrator.migrations
                edited[0] = Migration(version: edited[0].version, name: edited[0].name, sql: edited[0].sql + "\n-- edited\n")
                let error = await #expect(throws: MigrationError.self) { try await Migrator(migrations: edited).migrate(db) }
                #expect(error == .checksumMismatch(version: 1, name: "0001_init"))
                #expect(error?.description.contains("new numbered migration") == true)
            }
        }

        @Test("two replicas migrating at once apply each migration exactly once")
        func concurrentReplicas() async throws {
            let url = try await TestPostgres.require().emptyDatabase()
            let applied = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await withStore(url: url) { try await migrator.migrate($0).count } }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(applied.sorted() == [0, 0, 0, migrator.migrations.count])
        }

        @Test("SQL scripts split at top-level semicolons only")
        func scriptSplitting() {
            let script = """
                -- a comment; with a semicolon
                CREATE TABLE a (x text DEFAULT ';');
                /* block; comment */ CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;
                SELECT "we;ird";
                """
            let statements = SQLScript.statements(in: script)
            #expect(statements.count == 3)
            #expect(statements[1].hasSuffix("$$ SELECT 1; $$ LANGUAGE sql"))
        }
    }
}
