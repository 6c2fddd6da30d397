import Foundation
import HTTPTypes
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("A user's groups (RFC 7643 §4.1.2), direct and through nested groups")
    struct UserGroupsTests {
        /// alice ∈ Engineering ∈ Staff; bob ∈ Staff.
        static func seed(_ roster: Roster) async throws -> (alice: String, bob: String, engineering: String, staff: String) {
            let alice = try await roster.createUser("alice")
            let bob = try await roster.createUser("bob")
            let engineering = try await roster.createGroup("Engineering", members: [alice])
            let staff = try await roster.createGroup("Staff", members: [engineering, bob])
            return (alice, bob, engineering, staff)
        }

        @Test("GET shows direct and indirect groups with value, $ref, display and type")
        func groupsAttribute() async throws {
            try await Roster.run { roster in
                let s = try await Self.seed(roster)
                let alice = try await roster.scim(.get, "/Users/\(s.alice)")
                let groups = try #require(alice.json["groups"]?.arrayValue)
                #expect(groups.count == 2)
                let engineering = try #require(groups.first { $0["value"] == .string(s.engineering) })
                #expect(engineering["type"] == "direct")
                #expect(engineering["display"] == "Engineering")
                #expect(engineering["$ref"] == .string("\(Roster.scimBase)/Groups/\(s.engineering)"))
                #expect(groups.first { $0["value"] == .string(s.staff) }?["type"] == "indirect")
                let bob = try await roster.scim(.get, "/Users/\(s.bob)")
                #expect(bob.json["groups"]?.arrayValue?.compactMap { $0["type"]?.stringValue } == ["direct"])
                let listed = try await roster.scim(.get, "/Users?filter=" + #"userName eq "alice""#.urlQueryEncoded)
                #expect(listed.json["Resources"]?[0]?["groups"]?.arrayValue?.count == 2)
                let excluded = try await roster.scim(.get, "/Users/\(s.alice)?excludedAttributes=groups")
                #expect(excluded.json["groups"] == nil)
            }
        }

        @Test("groups is read-only: writes ignore it, PATCH refuses it")
        func readOnly() async throws {
            try await Roster.run { roster in
                let s = try await Self.seed(roster)
                try await roster.patch("/Users/\(s.bob)", #"[{"op":"add","path":"groups","value":[{"value":"\#(s.engineering)"}]}]"#)
                    .expectScimError(.badRequest, "mutability")
            }
        }

        @Test("filters on groups: groups.value eq finds direct and indirect members; type narrows", arguments: [
            ("groups.value eq", ["alice", "bob"]),
            ("groups[value eq] type direct", ["bob"]),
            ("groups[value eq] type indirect", ["alice"]),
        ])
        func filters(kind: String, expected: [String]) async throws {
            try await Roster.run { roster in
                let s = try await Self.seed(roster)
                let filter = switch kind {
                case "groups.value eq": #"groups.value eq "\#(s.staff)""#
                case "groups[value eq] type direct": #"groups[value eq "\#(s.staff)" and type eq "direct"]"#
                default: #"groups[value eq "\#(s.staff)" and type eq "indirect"]"#
                }
                #expect(Set(try await roster.userNames(filter: filter)) == Set(expected), "\(filter)")
            }
        }

        @Test("leaving a group updates the user's groups at once")
        func leaving() async throws {
            try await Roster.run { roster in
                let s = try await Self.seed(roster)
                try await roster.patch("/Groups/\(s.staff)", #"[{"op":"remove","path":"members[value eq \"\#(s.engineering)\"]"}]"#)
                let alice = try await roster.scim(.get, "/Users/\(s.alice)")
                #expect(alice.json["groups"]?.arrayValue?.compactMap { $0["value"]?.stringValue } == [s.engineering])
                #expect(try await roster.userNames(filter: #"groups.value eq "\#(s.staff)""#) == ["bob"])
            }
        }
    }
}
