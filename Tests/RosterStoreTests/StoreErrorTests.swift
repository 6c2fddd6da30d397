import PostgresNIO
import RosterAuth
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension StoreSuite {
    @Suite("PostgreSQL's refusals become StoreErrors by their SQLSTATE: the client's mistakes apart from the database's failures")
    struct StoreErrorTests {
        static let setup = [
            "CREATE TABLE parent (id int PRIMARY KEY)",
            "CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent (id), code varchar(3), note text)",
            "CREATE INDEX child_note ON child (note)",
            "INSERT INTO parent VALUES (1)",
            "INSERT INTO child VALUES (1, 1, 'a', 'n')",
        ]

        static func kind(_ error: StoreError) -> String {
            switch error {
            case .uniqueness(let constraint): "uniqueness \(constraint)"
            case .invalidReference: "invalidReference"
            case .invalidValue: "invalidValue"
            case .notFound: "notFound"
            case .statementTimeout: "statementTimeout"
            case .unavailable: "unavailable"
            case .versionMismatch: "versionMismatch"
            case .invalidMembers: "invalidMembers"
            case .tooMuch: "tooMuch"
            case .invalidFilter, .invalidSort, .invalidCursor, .expiredCursor, .invalidCount: "query"
            }
        }

        @Test("a database nobody answers for is StoreError.unavailable, whatever layer gives up (connection or pool)")
        func unreachable() async throws {
            // Port 1 on loopback: nothing listens, so every connection attempt is refused.
            try await withStore(url: "postgres://roster@127.0.0.1:1/roster", pool: ConnectionPoolIdentity(maxConnections: 1)) { db in
                do {
                    try await db.query("SELECT 1")
                    Issue.record("a query was answered")
                } catch let error as StoreError {
                    guard case .unavailable = error else { Issue.record("\(error)"); return }
                }
            }
        }

        @Test("each class of refusal", arguments: [
            ("INSERT INTO child VALUES (1, 1, 'b', 'n')", "uniqueness child_pkey"),  // 23505
            ("INSERT INTO child VALUES (2, 99, 'b', 'n')", "invalidReference"),  // 23503: no parent 99
            ("DELETE FROM parent WHERE id = 1", "invalidReference"),  // 23503: a child still refers to it
            ("INSERT INTO child VALUES (3, 1, 'abcd', 'n')", "invalidValue"),  // 22001: too long for varchar(3)
            ("SELECT 1 / 0", "invalidValue"),  // 22012
            ("SELECT 'x'::int", "invalidValue"),  // 22P02
            ("INSERT INTO child VALUES (4, 1, 'c', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i))", "invalidValue"),  // 54000
            ("SELECT * FROM no_such_table", "unavailable"),  // 42P01: Roster's own query is broken, not the client's
        ])
        func refusal(statement: String, expected: String) async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url, pool: ConnectionPoolIdentity(maxConnections: 1)) { db in
                for sql in Self.setup { try await db.query(PostgresQuery(unsafeSQL: sql)) }
                do {
                    try await db.query(PostgresQuery(unsafeSQL: statement))
                    Issue.record("\(statement) was accepted")
                } catch let error as StoreError {
                    #expect(Self.kind(error) == expected, "\(statement): \(error)")
                }
            }
        }
    }
}

extension StoreSuite {
    @Suite("Enum columns decode as their enums; a value the enum does not know is an error, never a default")
    struct TextColumnTests {
        @Test("known member types decode; an unknown one throws instead of becoming 'User'", arguments: [
            ("User", MemberType.user as MemberType?), ("Group", .group), ("Robot", nil), ("user", nil),
        ])
        func memberType(text: String, expected: MemberType?) async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url, pool: ConnectionPoolIdentity(maxConnections: 1)) { db in
                let row = try #require(try await db.query("SELECT \(text)::text").first)
                if let expected {
                    #expect(try row.decode(MemberType.self) == expected)
                } else {
                    #expect(throws: (any Error).self) { try row.decode(MemberType.self) }
                }
            }
        }

        @Test("arrays of scopes, event types and rate-limited APIs: one unknown element makes the whole row an error, never a shorter list")
        func arrays() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withStore(url: url, pool: ConnectionPoolIdentity(maxConnections: 1)) { db in
                let row = try #require(try await db.query(
                    """
                    SELECT ARRAY['*', 'scim-tokens', 'feed:read']::text[], ARRAY['*', 'root']::text[],
                           ARRAY['user.created', 'group.members.added']::text[], ARRAY['user.created', 'user.exploded']::text[],
                           'scim'::text, 'soap'::text
                    """).first)
                let columns = row.makeRandomAccess()
                #expect(try columns[0].decode([AdminScope].self) == [.all, .scimTokens, .feedRead])
                #expect(throws: (any Error).self) { try columns[1].decode([AdminScope].self) }
                #expect(try columns[2].decode([EventType].self) == [.userCreated, .groupMembersAdded])
                #expect(throws: (any Error).self) { try columns[3].decode([EventType].self) }
                #expect(try columns[4].decode(RateLimitedAPI.self) == .scim)
                #expect(throws: (any Error).self) { try columns[5].decode(RateLimitedAPI.self) }
            }
        }
    }
}
