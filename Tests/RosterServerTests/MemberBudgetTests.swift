import Foundation
import HTTPTypes
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Group lists load a bounded number of member rows per page")
    struct MemberBudgetTests {
        @Test("a page whose groups have more members together than the budget is 400 tooMany; fewer groups, or no members, pass")
        func budget() async throws {
            try await Roster.run(configure: { $0.limits.groupListMemberBudget = 5 }) { roster in
                var users: [String] = []
                for i in 0..<6 { users.append(try await roster.createUser("u\(i)")) }
                let g1 = try await roster.createGroup("g1", members: Array(users[0..<3]))
                let g2 = try await roster.createGroup("g2", members: Array(users[0..<4]))
                let search = #"{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"sortBy":"displayName"}"#
                // g1 (3) and g2 (4) make 7 > 5, however the page is asked for.
                for reply in [
                    try await roster.scim(.get, "/Groups?sortBy=displayName"),
                    try await roster.scim(.post, "/Groups/.search", body: search),
                    try await roster.scim(.get, "/Groups?sortBy=displayName&attributes=displayName,members"),
                    try await roster.scim(.get, "/Groups?sortBy=displayName&cursor"),
                ] {
                    reply.expectScimError(.badRequest, "tooMany")
                    #expect(reply.body.contains("excludedAttributes=members"))
                }
                // One group a page fits; so does a page without members, as Entra ID and Okta ask.
                let first = try await roster.scim(.get, "/Groups?sortBy=displayName&count=1")
                #expect(first.json["Resources"]?[0]?["members"]?.arrayValue?.count == 3, "\(first.body)")
                let excluded = try await roster.scim(.get, "/Groups?excludedAttributes=members")
                #expect(excluded.status == .ok && excluded.json["totalResults"] == 2)
                // A group's own GET returns all its members, and its users page through /Users.
                #expect(try await roster.scim(.get, "/Groups/\(g2)").json["members"]?.arrayValue?.count == 4)
                #expect(try await roster.scim(.get, "/Groups/\(g1)").json["members"]?.arrayValue?.count == 3)
                let paged = try await roster.scim(.get, "/Users?count=2&filter=" + #"groups[value eq "\#(g2)" and type eq "direct"]"#.urlQueryEncoded)
                #expect(paged.json["totalResults"] == 4, "\(paged.body)")
            }
        }

        @Test("a page of large groups past the budget reads no member rows; within it, all of them")
        func largeGroups() async throws {
            try await Roster.run(configure: { $0.limits.groupListMemberBudget = 3000 }) { roster in
                let ids = try await LargeGroupTests.seedUsers(2500, url: roster.databaseURL)
                for name in ["big-1", "big-2", "big-3"] { _ = try await roster.createGroup(name, members: ids) }
                try await LargeGroupTests.resetStatements(url: roster.databaseURL)
                let refused = try await roster.scim(.get, "/Groups?sortBy=displayName")
                refused.expectScimError(.badRequest, "tooMany")
                let (rows, texts) = try await LargeGroupTests.statements(url: roster.databaseURL)
                // The counts stop at 3 001 index entries per group and return one row each; no member row is loaded.
                #expect(rows < 100, "\(rows) rows: \(texts)")
                let one = try await roster.scim(.get, "/Groups?sortBy=displayName&count=1")
                #expect(one.json["Resources"]?[0]?["members"]?.arrayValue?.count == 2500)
            }
        }
    }
}
