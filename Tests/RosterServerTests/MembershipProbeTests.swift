import Foundation
import HTTPTypes
import PostgresNIO
import RosterAuth
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Admin API: is a user in a group (the membership probe)")
    struct MembershipProbeTests {
        func probe(_ roster: Roster, group: String, member: String, tenant: String = "default", key: String? = nil) async throws -> Reply {
            try await roster.admin(.get, "/tenants/\(tenant)/groups/\(group)/members/\(member)", key: key)
        }

        @Test("direct, indirect through nested groups, and not a member")
        func answers() async throws {
            try await Roster.run { roster in
                let alice = try await roster.createUser("alice")
                let bob = try await roster.createUser("bob")
                let inner = try await roster.createGroup("Inner", members: [alice])
                let outer = try await roster.createGroup("Outer", members: [inner])
                let top = try await roster.createGroup("Top", members: [outer, alice])

                let direct = try await probe(roster, group: inner, member: alice)
                #expect(direct.status == .ok, "\(direct.body)")
                #expect(direct.json == ["group_id": .string(inner), "member_id": .string(alice), "member": true, "direct": true])
                let indirect = try await probe(roster, group: outer, member: alice).json
                #expect(indirect["member"] == true)
                #expect(indirect["direct"] == false)
                #expect(try await probe(roster, group: top, member: alice).json["direct"] == true, "direct wins over indirect")
                #expect(try await probe(roster, group: top, member: inner).json["member"] == true, "groups are members too")
                let outsider = try await probe(roster, group: outer, member: bob)
                #expect(outsider.status == .ok)
                #expect(outsider.json["member"] == false)
                #expect(outsider.json["direct"] == false)

                // Membership follows SCIM changes at once.
                try await roster.patch("/Groups/\(outer)", #"[{"op":"remove","path":"members[value eq \"\#(inner)\"]"}]"#)
                #expect(try await probe(roster, group: outer, member: alice).json["member"] == false)
            }
        }

        @Test("an unknown or malformed group or member is 404; another tenant's group is 404; the scope and tenant binding hold")
        func refusals() async throws {
            try await Roster.run { roster in
                let alice = try await roster.createUser("alice")
                let group = try await roster.createGroup("G", members: [alice])
                try await probe(roster, group: UUID().uuidString, member: alice).expectAdminError(.notFound)
                try await probe(roster, group: group, member: UUID().uuidString).expectAdminError(.notFound)
                try await probe(roster, group: "not-a-uuid", member: alice).expectAdminError(.notFound)
                _ = try await roster.otherTenant("other")
                try await probe(roster, group: group, member: alice, tenant: "other").expectAdminError(.notFound)

                let (tenants, bound) = try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger) { db in
                    let keys = AdminKeyRepository(database: db)
                    let other = try #require(try await TenantRepository(database: db).find("other"))
                    return (
                        try await keys.create(name: "t", tenant: nil, scopes: [.tenants], by: .system).1.reveal(),
                        try await keys.create(name: "b", tenant: other.id, scopes: [.directoryRead], by: .system).1.reveal())
                }
                try await probe(roster, group: group, member: alice, key: tenants).expectAdminError(.forbidden)
                try await probe(roster, group: group, member: alice, key: bound).expectAdminError(.notFound)
                try await roster.send(.get, "/api/v1/tenants/default/groups/\(group)/members/\(alice)", headers: [.authorization: "Bearer \(roster.scimToken)"])
                    .expectAdminError(.unauthorized)
            }
        }

        @Test("the probe reads a fraction of what reading a 10 000-member group's member list reads")
        func cheap() async throws {
            try await Roster.run { roster in
                let ids = try await LargeGroupTests.seedUsers(10_000, url: roster.databaseURL)
                let group = try await roster.createGroup("Everyone", members: ids)
                let logger = try TestPostgres.require().logger
                // Warm every pooled connection's catalog caches first: only the statements' own reads count.
                for index in 0..<8 { _ = try await probe(roster, group: group, member: ids[index]) }
                // pg_stat_statements is the cluster's: another test's reset between the reads and this one wipes them, so measure again.
                var measured: (probe: Int64, list: Int64)?
                for _ in 0..<5 where measured == nil {
                    try await LargeGroupTests.resetStatements(url: roster.databaseURL)
                    #expect(try await probe(roster, group: group, member: ids[5_000]).json["member"] == true)
                    _ = try await withDatabase(url: roster.databaseURL, logger: logger) { db in
                        try await db.query("SELECT member_id FROM group_members WHERE group_id = \(UUID(uuidString: group)!)")
                    }
                    let blocks = try await withDatabase(url: roster.databaseURL, logger: logger) { db in
                        try await db.query(
                            """
                            SELECT query, shared_blks_hit + shared_blks_read FROM pg_stat_statements
                            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                              AND (query LIKE 'WITH RECURSIVE up(group_id%' OR query LIKE 'SELECT member_id FROM group_members%')
                            """
                        ).map { try $0.decode((String, Int64).self) }
                    }
                    if let probe = blocks.first(where: { $0.0.hasPrefix("WITH") })?.1, let list = blocks.first(where: { $0.0.hasPrefix("SELECT") })?.1 {
                        measured = (probe, list)
                    }
                }
                let (probe, list) = try #require(measured, "pg_stat_statements was reset under every measurement")
                #expect(probe * 4 < list, "probe read \(probe) blocks, the member list \(list)")
            }
        }
    }
}
