import Foundation
import HTTPTypes
import PostgresNIO
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("SCIM Groups and membership")
    struct GroupsTests {
        let groupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"

        @Test("POST with members stores them and returns value, $ref and type; display when asked")
        func createWithMembers() async throws {
            try await Roster.run { roster in
                let alice = try await roster.createUser("alice", extra: #","displayName":"Alice A""#)
                let inner = try await roster.createGroup("Inner")
                let reply = try await roster.scim(.post, "/Groups", body: #"""
                    {"schemas":["\#(groupSchema)"],"displayName":"Outer",
                     "members":[{"value":"\#(alice)","type":"User"},{"value":"\#(inner)"}]}
                    """#)
                #expect(reply.status == .created, "\(reply.body)")
                let members = try #require(reply.json["members"]?.arrayValue)
                #expect(members.count == 2)
                let user = try #require(members.first { $0["value"] == .string(alice) })
                #expect(user["type"] == "User")
                #expect(user["display"] == nil, "display is returned on request only")
                let id = try #require(reply.json["id"]?.stringValue)
                let asked = try await roster.scim(.get, "/Groups/\(id)?attributes=members.value,members.display")
                let shown = try #require(asked.json["members"]?.arrayValue?.first { $0["value"] == .string(alice) })
                #expect(shown["display"] == "Alice A")
                #expect(user["$ref"] == .string("\(Roster.scimBase)/Users/\(alice)"))
                let group = try #require(members.first { $0["value"] == .string(inner) })
                #expect(group["type"] == "Group")
                #expect(group["$ref"] == .string("\(Roster.scimBase)/Groups/\(inner)"))
            }
        }

        @Test("membership lives in group_members, never in the group's body")
        func membershipTable() async throws {
            try await Roster.run { roster in
                let alice = try await roster.createUser("alice")
                let group = try await roster.createGroup("G", members: [alice])
                let (rows, body) = try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger) { db in
                    let rows = try await db.query("SELECT count(*) FROM group_members").first?.decode(Int.self) ?? 0
                    let body = try await db.query("SELECT body::text FROM groups WHERE id = \(UUID(uuidString: group)!)")
                        .first?.decode(String.self) ?? ""
                    return (rows, body)
                }
                #expect(rows == 1)
                #expect(!body.contains("members"))
                #expect(!body.contains(alice))
            }
        }

        @Test("a member that is not a User or Group of the tenant is invalidValue, and nothing is written")
        func unknownMember() async throws {
            try await Roster.run { roster in
                try await roster.scim(.post, "/Groups", body: #"""
                    {"schemas":["\#(groupSchema)"],"displayName":"G","members":[{"value":"\#(UUID().uuidString)"}]}
                    """#).expectScimError(.badRequest, "invalidValue")
                #expect(try await roster.scim(.get, "/Groups").json["totalResults"] == 0)
            }
        }

        @Test("a member whose claimed type is wrong is invalidValue")
        func wrongMemberType() async throws {
            try await Roster.run { roster in
                let alice = try await roster.createUser("alice")
                try await roster.scim(.post, "/Groups", body: #"""
                    {"schemas":["\#(groupSchema)"],"displayName":"G","members":[{"value":"\#(alice)","type":"Group"}]}
                    """#).expectScimError(.badRequest, "invalidValue")
            }
        }

        @Test("PUT replaces the member list")
        func replaceMembers() async throws {
            try await Roster.run { roster in
                let a = try await roster.createUser("a")
                let b = try await roster.createUser("b")
                let c = try await roster.createUser("c")
                let group = try await roster.createGroup("G", members: [a, b])
                let reply = try await roster.scim(.put, "/Groups/\(group)", body: #"""
                    {"schemas":["\#(groupSchema)"],"displayName":"G2","members":[{"value":"\#(b)"},{"value":"\#(c)"}]}
                    """#)
                #expect(reply.status == .ok, "\(reply.body)")
                let ids = Set(reply.json["members"]?.arrayValue?.compactMap { $0["value"]?.stringValue } ?? [])
                #expect(ids == [b, c])
                #expect(reply.json["displayName"] == "G2")
                #expect(reply.json["meta"]?["version"] == #"W/"2""#)
            }
        }

        @Test("a group cannot contain itself, directly or through a nested group")
        func cycles() async throws {
            try await Roster.run { roster in
                let parent = try await roster.createGroup("Parent")
                let child = try await roster.createGroup("Child", members: [parent])
                try await roster.scim(.put, "/Groups/\(parent)", body: #"""
                    {"schemas":["\#(groupSchema)"],"displayName":"Parent","members":[{"value":"\#(parent)"}]}
                    """#).expectScimError(.badRequest, "invalidValue")
                try await roster.scim(.put, "/Groups/\(parent)", body: #"""
                    {"schemas":["\#(groupSchema)"],"displayName":"Parent","members":[{"value":"\#(child)"}]}
                    """#).expectScimError(.badRequest, "invalidValue")
            }
        }

        @Test("two PATCHes that would close a nesting cycle from both ends never both succeed")
        func concurrentCycle() async throws {
            try await Roster.run { roster in
                for round in 0..<15 {
                    let a = try await roster.createGroup("A\(round)")
                    let b = try await roster.createGroup("B\(round)")
                    let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                        for (parent, child) in [(a, b), (b, a)] {
                            group.addTask { try await roster.patch("/Groups/\(parent)", #"[{"op":"add","path":"members","value":[{"value":"\#(child)"}]}]"#) }
                        }
                        return try await group.reduce(into: []) { $0.append($1) }
                    }
                    let applied = replies.filter { $0.status.kind == .successful }
                    #expect(applied.count == 1, "round \(round): \(replies.map(\.status))")
                    for refused in replies where refused.status.kind != .successful { refused.expectScimError(.badRequest, "invalidValue") }
                    let nested = try await roster.sql { db in
                        try await db.query(
                            "SELECT count(*) FROM group_members WHERE member_type = 'Group' AND group_id = ANY(\([UUID(uuidString: a)!, UUID(uuidString: b)!]))"
                        ).first!.decode(Int.self)
                    }
                    #expect(nested == 1, "round \(round): A in B and B in A")
                }
            }
        }

        @Test("deleting a user removes its memberships")
        func deleteUserRemovesMemberships() async throws {
            try await Roster.run { roster in
                let a = try await roster.createUser("a")
                let b = try await roster.createUser("b")
                let group = try await roster.createGroup("G", members: [a, b])
                #expect(try await roster.scim(.delete, "/Users/\(a)").status == .noContent)
                let reply = try await roster.scim(.get, "/Groups/\(group)")
                #expect(reply.json["members"]?.arrayValue?.compactMap { $0["value"]?.stringValue } == [b])
                #expect(reply.json["meta"]?["version"] == #"W/"2""#)
            }
        }

        @Test("deleting a group removes it and its memberships in other groups")
        func deleteGroup() async throws {
            try await Roster.run { roster in
                let inner = try await roster.createGroup("Inner")
                let outer = try await roster.createGroup("Outer", members: [inner])
                #expect(try await roster.scim(.delete, "/Groups/\(inner)").status == .noContent)
                try await roster.scim(.get, "/Groups/\(inner)").expectScimError(.notFound)
                #expect(try await roster.scim(.get, "/Groups/\(outer)").json["members"] == nil)
            }
        }

        @Test("displayName is required for a group")
        func displayNameRequired() async throws {
            try await Roster.run { roster in
                try await roster.scim(.post, "/Groups", body: #"{"schemas":["\#(groupSchema)"]}"#)
                    .expectScimError(.badRequest, "invalidValue")
            }
        }

        @Test("Entra ID's create-group request, with its ADSCIM group marker in schemas, creates the group; the marker is not stored")
        func entraGroupMarker() async throws {
            try await Roster.run { roster in
                // As Microsoft documents it ("Develop and plan provisioning for a SCIM endpoint", Create Group).
                let created = try await roster.scim(.post, "/Groups", body: """
                    {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                     "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}}
                    """)
                #expect(created.status == .created, "\(created.body)")
                #expect(created.json["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Group"])
                let id = try #require(created.json["id"]?.stringValue)
                #expect(try await roster.scim(.get, "/Groups/\(id)").json["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Group"])
                // Only on a group, and only that URN: anything else unknown in schemas is still refused.
                try await roster.scim(.post, "/Users", body: """
                    {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"userName":"x"}
                    """).expectScimError(.badRequest, "invalidSyntax")
                try await roster.scim(.post, "/Groups", body: """
                    {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/User"],"displayName":"y"}
                    """).expectScimError(.badRequest, "invalidSyntax")
            }
        }
    }
}
