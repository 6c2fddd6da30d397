import Foundation
import HTTPTypes
import PostgresNIO
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Large groups: membership costs the size of the change")
    struct LargeGroupTests {
        /// Inserts `count` users straight into the database; returns their ids in order.
        static func seedUsers(_ count: Int, url: String) async throws -> [String] {
            try await withDatabase(url: url, logger: TestPostgres.require().logger) { db in
                try await db.query(
                    """
                    INSERT INTO users (tenant_id, id, user_name, created, last_modified, body)
                    SELECT t.id, gen_random_uuid(), 'member-' || i, now(), now(),
                           jsonb_build_object('schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:User'), 'userName', 'member-' || i)
                    FROM generate_series(1, \(count)) AS i, (SELECT id FROM tenants WHERE name = 'default') AS t
                    """)
                return try await db.query("SELECT id::text FROM users ORDER BY user_name").map { try $0.decode(String.self) }
            }
        }

        /// Rows every statement of this database returned or touched since the last reset, and the statement texts.
        static func statements(url: String) async throws -> (rows: Int, texts: [String]) {
            try await withDatabase(url: url, logger: TestPostgres.require().logger) { db in
                let rows = try await db.query(
                    """
                    SELECT rows, query FROM pg_stat_statements
                    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'
                    """)
                return (try rows.reduce(0) { $0 + Int(try $1.decode((Int64, String).self).0) },
                        try rows.map { try $0.decode((Int64, String).self).1 })
            }
        }

        static func resetStatements(url: String) async throws {
            try await withDatabase(url: url, logger: TestPostgres.require().logger) { db in
                try await db.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                // Only this test's database: tests running beside it keep their own counts.
                try await db.query("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)")
            }
        }

        @Test("adding and removing a member of a 10 000-member group reads and writes only those rows")
        func membershipDelta() async throws {
            try await Roster.run { roster in
                let ids = try await Self.seedUsers(10_001, url: roster.databaseURL)
                let members = Array(ids.dropLast())
                let group = try await roster.createGroup("Everyone", members: members)
                try await Self.resetStatements(url: roster.databaseURL)
                let add = try await roster.patch("/Groups/\(group)", #"[{"op":"add","path":"members","value":[{"value":"\#(ids.last!)"}]}]"#)
                #expect(add.status == .noContent)
                let remove = try await roster.patch("/Groups/\(group)", #"[{"op":"remove","path":"members[value eq \"\#(members[0])\"]"}]"#)
                #expect(remove.status == .noContent)
                let (rows, texts) = try await Self.statements(url: roster.databaseURL)
                #expect(rows < 50, "a member-list read would be over 10 000 rows: \(texts)")
                #expect(try await roster.scim(.get, "/Groups/\(group)?attributes=id").headers[.eTag] == #"W/"3""#)
            }
        }

        @Test("GET with excludedAttributes=members never reads group_members")
        func excludedMembers() async throws {
            try await Roster.run { roster in
                let ids = try await Self.seedUsers(3, url: roster.databaseURL)
                let group = try await roster.createGroup("G", members: ids)
                try await Self.resetStatements(url: roster.databaseURL)
                let reply = try await roster.scim(.get, "/Groups/\(group)?excludedAttributes=members")
                #expect(reply.json["members"] == nil)
                #expect(reply.json["displayName"] == "G")
                let list = try await roster.scim(.get, "/Groups?excludedAttributes=members")
                #expect(list.json["totalResults"] == 1)
                let (_, texts) = try await Self.statements(url: roster.databaseURL)
                #expect(!texts.contains { $0.contains("group_members") }, "\(texts)")
            }
        }

        @Test("a 100 000-member group is created by POST, read, and replaced by PUT within the body limit")
        func hundredThousandMembers() async throws {
            try await Roster.run { roster in
                let ids = try await Self.seedUsers(100_001, url: roster.databaseURL)
                let members = Array(ids.dropLast())
                let list = members.map { #"{"value":"\#($0)","type":"User"}"# }.joined(separator: ",")
                let body = #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"All","members":[\#(list)]}"#
                #expect(body.utf8.count < ScimLimits.maxRequestBytes)
                let created = try await roster.scim(.post, "/Groups?attributes=displayName", body: body)
                #expect(created.status == .created, "\(created.body.prefix(300))")
                let id = try #require(created.json["id"]?.stringValue)
                let read = try await roster.scim(.get, "/Groups/\(id)")
                #expect(read.json["members"]?.arrayValue?.count == 100_000)
                let swapped = members.dropFirst().map { #"{"value":"\#($0)"}"# } + [#"{"value":"\#(ids.last!)"}"#]
                let put = try await roster.scim(
                    .put, "/Groups/\(id)?attributes=displayName",
                    body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"All","members":[\#(swapped.joined(separator: ","))]}"#)
                #expect(put.status == .ok)
                let count = try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger) { db in
                    try await db.query("SELECT count(*) FROM group_members").first?.decode(Int.self)
                }
                #expect(count == 100_000)
            }
        }
    }
}
