import Foundation
import SCIM
import Testing

private let member1 = "2819c223-7f76-453a-919d-413861904646"
private let member2 = "902c246b-6245-4190-8e05-00816be7344a"

@Suite("The members rule: a group's members are stored apart from its body")
struct MembershipChangeTests {
    static let groupURN = "urn:ietf:params:scim:schemas:core:2.0:Group"
    let group = Fixtures.registry.group
    let user = Fixtures.registry.user

    func body(_ json: String) -> [String: JSONValue] {
        Fixtures.json(json).objectValue ?? [:]
    }

    func reference(_ id: String, _ type: MemberType? = nil) -> MemberReference {
        MemberReference(id: UUID(uuidString: id)!, type: type)
    }

    // Moved from ResourceValidatorTests with `extractMembers`, which `separatingMembers` replaced.
    @Test("group members are taken out of the body with their ids and types")
    func groupMembers() throws {
        let validated = try Fixtures.groups.validate(Fixtures.json(#"""
            {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Admins",
             "members":[{"value":"6B0C8C8E-1B7A-4A39-9A0B-9E4D0F7E2C11","type":"User"},{"value":"6b0c8c8e-1b7a-4a39-9a0b-9e4d0f7e2c11"}]}
            """#))
        let (body, membership) = try group.separatingMembers(validated, on: .create)
        #expect(membership == [.add([reference("6b0c8c8e-1b7a-4a39-9a0b-9e4d0f7e2c11", .user)])])
        #expect(body["members"] == nil)
        #expect(body["displayName"] == "Admins")
    }

    @Test("a member value that is not an id is invalidValue")
    func badMemberValue() throws {
        let validated = try Fixtures.groups.validate(Fixtures.json(
            #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"A","members":[{"value":"nope"}]}"#))
        #expect(throws: ScimError.invalidValue("Member 'nope' is not the id of a User or Group of this tenant.")) {
            try group.separatingMembers(validated, on: .create)
        }
    }

    @Test(
        "POST adds the members named, PUT sets the whole list (none when absent)",
        arguments: [
            (#"{"displayName":"A"}"#, .create, [.add([])]),
            (#"{"displayName":"A"}"#, .replace, [.replace([])]),
            (#"{"displayName":"A","members":[]}"#, .replace, [.replace([])]),
            (#"{"displayName":"A","members":[{"value":"\#(member1)"}]}"#, .create, [.add([MemberReference(id: UUID(uuidString: member1)!)])]),
            (
                #"{"displayName":"A","members":[{"value":"\#(member1)","type":"Group"},{"value":"\#(member2)","type":"User"}]}"#, .replace,
                [.replace([MemberReference(id: UUID(uuidString: member1)!, type: .group), MemberReference(id: UUID(uuidString: member2)!, type: .user)])]
            ),
        ] as [(String, ResourceType.BodyWrite, [MembershipChange])])
    func groupBodies(json: String, write: ResourceType.BodyWrite, expected: [MembershipChange]) throws {
        let (body, membership) = try group.separatingMembers(body(json), on: write)
        #expect(membership == expected)
        #expect(body == ["displayName": "A"])
    }

    @Test("a user's body is kept whole and changes no membership", arguments: [ResourceType.BodyWrite.create, .replace])
    func userBody(write: ResourceType.BodyWrite) throws {
        let user = body(#"{"userName":"bjensen","members":[{"value":"nope"}]}"#)
        let (body, membership) = try self.user.separatingMembers(user, on: write)
        #expect(body == user)
        #expect(membership.isEmpty)
    }

    @Test(
        "a member without an id, with a value that is no id, or of an unknown type is invalidValue",
        arguments: [
            (#"[{"display":"Ada"}]"#, "Each member needs a 'value' holding the member's id."),
            (#"[{"value":42}]"#, "Each member needs a 'value' holding the member's id."),
            (#"[{"value":"nope"}]"#, "Member 'nope' is not the id of a User or Group of this tenant."),
            (#"[{"value":"\#(member1)","type":"Robot"}]"#, "Member type must be User or Group, not 'Robot'."),
            (#"[{"value":"\#(member1)"},{"value":"\#(member2)","type":"user"}]"#, "Member type must be User or Group, not 'user'."),
        ])
    func badMembers(members: String, detail: String) {
        #expect(throws: ScimError.invalidValue(detail)) {
            try group.separatingMembers(body(#"{"displayName":"A","members":\#(members)}"#), on: .replace)
        }
    }

    @Test("an id named twice is one member, with the type it was first named with")
    func duplicates() throws {
        let references = try group.memberReferences(Fixtures.json(
            #"[{"value":"\#(member1)","type":"User"},{"value":"\#(member2)"},{"value":"\#(member1.uppercased())"}]"#
        ).arrayValue ?? [])
        #expect(references == [reference(member1, .user), reference(member2)])
    }

    @Test("PUT and PATCH replace of members yield the same change from the same values")
    func putAndPatchAgree() throws {
        let members = #"[{"value":"\#(member1)","type":"User"},{"value":"\#(member1)"}]"#
        let put = try group.separatingMembers(body(#"{"displayName":"A","members":\#(members)}"#), on: .replace)
        let patch = try PatchEngine(resourceType: group).apply(
            PatchRequest(Fixtures.json(#"""
                {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"members","value":\#(members)}]}
                """#)),
            to: ["schemas": [.string(Self.groupURN)], "displayName": "A"])
        #expect(put.membership == [.replace([reference(member1, .user)])])
        #expect(patch.membershipChanges == put.membership)
        #expect(patch.body["members"] == nil)
    }

    @Test("PUT and PATCH refuse a bad member value with the same error")
    func putAndPatchRefuseAlike() throws {
        let members = #"[{"value":"nope"}]"#
        let expected = ScimError.invalidValue("Member 'nope' is not the id of a User or Group of this tenant.")
        #expect(throws: expected) {
            try group.separatingMembers(body(#"{"displayName":"A","members":\#(members)}"#), on: .replace)
        }
        #expect(throws: expected) {
            try PatchEngine(resourceType: group).apply(
                PatchRequest(Fixtures.json(#"""
                    {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":\#(members)}]}
                    """#)),
                to: ["schemas": [.string(Self.groupURN)], "displayName": "A"])
        }
    }

    @Test("only a group's core members attribute is stored apart")
    func storesApart() {
        #expect(group.storesApart("members"))
        #expect(!group.storesApart("displayName"))
        #expect(!user.storesApart("members"))
        #expect(!user.storesApart("groups"))
    }
}
