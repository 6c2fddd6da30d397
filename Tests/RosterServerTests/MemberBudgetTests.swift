import Foundation
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Group lists load a bounded number of member rows per page")
    struct MemberBudgetTests {
        static let urn = "urn:roster:params:scim:schemas:extension:2.0:Group"

        /// Member counts by displayName, and which groups the page says it left out.
        static func page(_ reply: Reply) -> (members: [String: Int], omitted: Set<String>) {
            var members: [String: Int] = [:]
            var omitted = Set<String>()
            for group in reply.json["Resources"]?.arrayValue ?? [] {
                let name = group["displayName"]?.stringValue ?? "?"
                members[name] = group["members"]?.arrayValue?.count ?? 0
                if group[urn]?["membersOmitted"] == true {
                    omitted.insert(name)
                    #expect(group["schemas"]?.arrayValue?.contains(.string(urn)) == true, "the extension is named in schemas")
                    #expect(group["members"] == nil)
                }
            }
            return (members, omitted)
        }

        @Test("groups get their members in page order while they fit; a group that does not fit is marked, and GET returns it whole")
        func budget() async throws {
            try await Roster.run(configure: { $0.limits.groupListMemberBudget = 5 }) { roster in
                var users: [String] = []
                for i in 0..<6 { users.append(try await roster.createUser("u\(i)")) }
                let g1 = try await roster.createGroup("g1", members: Array(users[0..<3]))
                let g2 = try await roster.createGroup("g2", members: Array(users[0..<4]))
                _ = try await roster.createGroup("g3", members: [users[5]])
                _ = try await roster.createGroup("g4")
                let search = #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"sortBy":"displayName"}"#
                for reply in [
                    try await roster.scim(.get, "/Groups?sortBy=displayName"),
                    try await roster.scim(.post, "/Groups/.search", body: search),
                    try await roster.scim(.get, "/Groups?sortBy=displayName&attributes=displayName,members"),
                ] {
                    #expect(reply.status == .ok, "\(reply.body)")
                    let (members, omitted) = Self.page(reply)
                    // g1 (3) fits, g2 (4) would make 7 > 5, g3 (1) still fits, g4 has none.
                    #expect(members == ["g1": 3, "g2": 0, "g3": 1, "g4": 0], "\(reply.body)")
                    #expect(omitted == ["g2"])
                }
                let whole = try await roster.scim(.get, "/Groups/\(g2)")
                #expect(whole.json["members"]?.arrayValue?.count == 4)
                #expect(whole.json[Self.urn] == nil)
                // The user members of an omitted group page through /Users.
                let paged = try await roster.scim(.get, "/Users?count=2&filter=" + #"groups[value eq "\#(g2)" and type eq "direct"]"#.urlQueryEncoded)
                #expect(paged.json["totalResults"] == 4, "\(paged.body)")
                // A group's own GET is unchanged, and excluding members skips the budget altogether.
                #expect(try await roster.scim(.get, "/Groups/\(g1)").json["members"]?.arrayValue?.count == 3)
                let excluded = try await roster.scim(.get, "/Groups?excludedAttributes=members")
                #expect(Self.page(excluded).omitted.isEmpty)
            }
        }

        @Test("a page of large groups loads no more member rows than the budget")
        func largeGroups() async throws {
            try await Roster.run(configure: { $0.limits.groupListMemberBudget = 3000 }) { roster in
                let ids = try await LargeGroupTests.seedUsers(2500, url: roster.databaseURL)
                for name in ["big-1", "big-2", "big-3"] { _ = try await roster.createGroup(name, members: ids) }
                _ = try await roster.createGroup("small", members: Array(ids.prefix(10)))
                try await LargeGroupTests.resetStatements(url: roster.databaseURL)
                let reply = try await roster.scim(.get, "/Groups?sortBy=displayName")
                let (rows, texts) = try await LargeGroupTests.statements(url: roster.databaseURL)
                let (members, omitted) = Self.page(reply)
                #expect(members == ["big-1": 2500, "big-2": 0, "big-3": 0, "small": 10])
                #expect(omitted == ["big-2", "big-3"])
                // Member rows returned: the 2 510 listed, not the 7 510 of every group on the page.
                #expect(rows < 3000, "\(rows) rows: \(texts)")
            }
        }

        @Test("the extension is a schema like any other: /Schemas and the Group resource type name it")
        func discovery() async throws {
            try await Roster.run { roster in
                let schema = try await roster.send(.get, "/scim/v2/Schemas/\(Self.urn)")
                #expect(schema.status == .ok)
                let attribute = schema.json["attributes"]?[0]
                #expect(attribute?["name"] == "membersOmitted")
                #expect(attribute?["mutability"] == "readOnly")
                let group = try await roster.send(.get, "/scim/v2/ResourceTypes/Group")
                #expect(group.json["schemaExtensions"]?[0]?["schema"] == .string(Self.urn))
                #expect(group.json["schemaExtensions"]?[0]?["required"] == false)
                // A client cannot set it: readOnly values are ignored (RFC 7643 §7).
                let created = try await roster.scim(.post, "/Groups", body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","\#(Self.urn)"],"displayName":"x","\#(Self.urn)":{"membersOmitted":true}}"#)
                #expect(created.status == .created, "\(created.body)")
                #expect(created.json[Self.urn] == nil)
            }
        }
    }
}
