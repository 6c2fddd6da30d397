import Foundation
import SCIM
import Testing

@Suite("PATCH engine (RFC 7644 §3.5.2) as identity providers send it")
struct PatchEngineTests {
    static let userURN = "urn:ietf:params:scim:schemas:core:2.0:User"
    static let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    let users = PatchEngine(resourceType: Fixtures.registry.user)
    let groups = PatchEngine(resourceType: Fixtures.registry.group)

    var user: [String: JSONValue] {
        [
            "schemas": [.string(Self.userURN)], "userName": "bjensen", "active": true,
            "name": ["givenName": "Barbara", "familyName": "Jensen"],
            "emails": [["value": "b@work.example", "type": "work", "primary": true], ["value": "b@home.example", "type": "home"]],
        ]
    }
    let group: [String: JSONValue] = ["schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Admins"]

    func patch(_ engine: PatchEngine, _ body: [String: JSONValue], _ operations: String) throws -> PatchEngine.Outcome {
        let request = try PatchRequest(Fixtures.json(#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":\#(operations)}"#))
        return try engine.apply(request, to: body)
    }

    func patchError(_ engine: PatchEngine, _ body: [String: JSONValue], _ operations: String) -> ScimError? {
        do {
            _ = try patch(engine, body, operations)
            return nil
        } catch let error as ScimError {
            return error
        } catch {
            return nil
        }
    }

    static let member1 = "2819c223-7f76-453a-919d-413861904646"
    static let member2 = "902c246b-6245-4190-8e05-00816be7344a"

    // MARK: Entra ID (default)

    @Test("Entra: capitalised ops and a string boolean")
    func entraCapitalisedOps() throws {
        let result = try patch(users, user, #"[{"op":"Replace","path":"active","value":"False"},{"op":"Add","path":"title","value":"CTO"}]"#)
        #expect(result.body["active"] == false)
        #expect(result.body["title"] == "CTO")
    }

    @Test("Entra: Remove members with a value array removes only those members")
    func entraRemoveMembersByValue() throws {
        let result = try patch(groups, group, #"[{"op":"Remove","path":"members","value":[{"value":"\#(Self.member1)"}]}]"#)
        #expect(result.membershipChanges == [.remove([UUID(uuidString: Self.member1)!])])
    }

    @Test("Entra: Add members with a value array")
    func entraAddMembers() throws {
        let result = try patch(groups, group, #"[{"op":"Add","path":"members","value":[{"value":"\#(Self.member1)"},{"value":"\#(Self.member2)"}]}]"#)
        #expect(result.membershipChanges == [.add([.init(id: UUID(uuidString: Self.member1)!), .init(id: UUID(uuidString: Self.member2)!)])])
    }

    @Test("Entra: add to emails[type eq \"work\"].value creates the element when there is none")
    func entraAddFilteredValueCreates() throws {
        var body = user
        body["emails"] = nil
        let result = try patch(users, body, #"[{"op":"Add","path":"emails[type eq \"work\"].value","value":"new@work.example"}]"#)
        #expect(result.body["emails"] == [["type": "work", "value": "new@work.example"]])
    }

    @Test("Entra: add to addresses[type eq \"work\"].streetAddress creates the address")
    func entraAddAddress() throws {
        let result = try patch(users, user, #"[{"op":"Add","path":"addresses[type eq \"work\"].streetAddress","value":"1 Main St"}]"#)
        #expect(result.body["addresses"] == [["type": "work", "streetAddress": "1 Main St"]])
    }

    @Test("Entra: replace emails[type eq \"work\"].value changes only the work email")
    func entraReplaceFilteredValue() throws {
        let result = try patch(users, user, #"[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"c@work.example"}]"#)
        let emails = try #require(result.body["emails"]?.arrayValue)
        #expect(emails.contains(["value": "c@work.example", "type": "work", "primary": true]))
        #expect(emails.contains(["value": "b@home.example", "type": "home"]))
    }

    @Test("Entra: enterprise manager replaced with a bare id, with {value}, and removed by path")
    func entraManager() throws {
        let bare = try patch(users, user, #"[{"op":"Replace","path":"\#(Self.enterprise):manager","value":"m-1"}]"#)
        #expect(bare.body[Self.enterprise]?["manager"] == ["value": "m-1"])
        #expect(bare.body["schemas"]?.arrayValue?.contains(.string(Self.enterprise)) == true)
        let object = try patch(users, bare.body, #"[{"op":"Replace","path":"\#(Self.enterprise):manager","value":{"value":"m-2"}}]"#)
        #expect(object.body[Self.enterprise]?["manager"] == ["value": "m-2"])
        let removed = try patch(users, object.body, #"[{"op":"Remove","path":"\#(Self.enterprise):manager"}]"#)
        #expect(removed.body[Self.enterprise] == nil)
        #expect(removed.body["schemas"] == [.string(Self.userURN)])
    }

    @Test("a path naming the whole enterprise extension adds its attributes, ignores echoed schemas, and removes it all")
    func wholeExtension() throws {
        let added = try patch(users, user, #"[{"op":"add","path":"\#(Self.enterprise)","value":{"schemas":["x"],"department":"R&D","employeeNumber":"9"}}]"#)
        #expect(added.body[Self.enterprise] == ["department": "R&D", "employeeNumber": "9"])
        let removed = try patch(users, added.body, #"[{"op":"remove","path":"\#(Self.enterprise)"}]"#)
        #expect(removed.body[Self.enterprise] == nil)
    }

    // MARK: Entra ID with aadOptscim062020

    @Test("Entra aadOptscim062020: remove members[value eq id]")
    func entraFlagRemoveMemberByFilter() throws {
        let result = try patch(groups, group, #"[{"op":"remove","path":"members[value eq \"\#(Self.member2)\"]"}]"#)
        #expect(result.membershipChanges == [.remove([UUID(uuidString: Self.member2)!])])
    }

    @Test("Entra aadOptscim062020: path-less replace with dotted and URN-qualified keys and real booleans")
    func entraFlagPathlessReplace() throws {
        let result = try patch(users, user, #"""
            [{"op":"replace","value":{"name.givenName":"A","active":false,"\#(Self.enterprise):employeeNumber":"7"}}]
            """#)
        #expect(result.body["name"] == ["givenName": "A", "familyName": "Jensen"])
        #expect(result.body["active"] == false)
        #expect(result.body[Self.enterprise]?["employeeNumber"] == "7")
    }

    // MARK: Okta

    @Test("Okta: path-less replace {active: false} deactivates")
    func oktaDeactivate() throws {
        let result = try patch(users, user, #"[{"op":"replace","value":{"active":false}}]"#)
        #expect(result.body["active"] == false)
        #expect(result.body["userName"] == "bjensen")
    }

    @Test("Okta: group push adds members, removes one by filter, renames")
    func oktaGroupPush() throws {
        let result = try patch(groups, group, #"""
            [{"op":"add","path":"members","value":[{"value":"\#(Self.member1)","display":"b@example.com"}]},
             {"op":"remove","path":"members[value eq \"\#(Self.member2)\"]"},
             {"op":"replace","path":"displayName","value":"Admins 2"}]
            """#)
        #expect(result.membershipChanges == [.add([.init(id: UUID(uuidString: Self.member1)!)]), .remove([UUID(uuidString: Self.member2)!])])
        #expect(result.body["displayName"] == "Admins 2")
    }

    // MARK: RFC semantics

    @Test("add to a multi-valued attribute merges without duplicates")
    func addMerges() throws {
        let result = try patch(users, user, #"[{"op":"add","path":"emails","value":[{"value":"B@WORK.example","type":"work"},{"value":"x@other.example","type":"other"}]}]"#)
        let emails = try #require(result.body["emails"]?.arrayValue)
        #expect(emails.count == 3)
    }

    @Test("setting primary true clears it on the other values")
    func primaryMovesOver() throws {
        let result = try patch(users, user, #"[{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}]"#)
        let emails = try #require(result.body["emails"]?.arrayValue)
        #expect(emails.first { $0["type"] == "home" }?["primary"] == true)
        #expect(emails.first { $0["type"] == "work" }?["primary"] == false)
    }

    @Test("remove with a value filter removes only matching values")
    func removeFiltered() throws {
        let result = try patch(users, user, #"[{"op":"remove","path":"emails[type eq \"home\"]"}]"#)
        #expect(result.body["emails"]?.arrayValue?.count == 1)
    }

    @Test("remove with a filter matching nothing is noTarget")
    func removeNoTarget() {
        #expect(patchError(users, user, #"[{"op":"remove","path":"emails[type eq \"other\"]"}]"#)?.scimType == .noTarget)
    }

    @Test("replace of a complex attribute keeps the sub-attributes not given")
    func replaceComplexMerges() throws {
        let result = try patch(users, user, #"[{"op":"replace","path":"name","value":{"familyName":"Ek"}}]"#)
        #expect(result.body["name"] == ["givenName": "Barbara", "familyName": "Ek"])
    }

    @Test("all operations apply or none: a bad second operation leaves nothing changed")
    func atomic() {
        #expect(patchError(users, user, #"[{"op":"replace","path":"title","value":"x"},{"op":"replace","path":"active","value":[1]}]"#)?.scimType == .invalidValue)
    }

    @Test("readOnly targets are mutability errors", arguments: ["id", "meta", "groups"])
    func readOnly(path: String) {
        #expect(patchError(users, user, #"[{"op":"replace","path":"\#(path)","value":"x"}]"#)?.scimType == .mutability)
    }

    @Test("removing a required attribute is a 400")
    func removeRequired() {
        #expect(patchError(users, user, #"[{"op":"remove","path":"userName"}]"#)?.status == 400)
    }

    @Test("unknown attributes and bad paths are invalidPath; bad filters invalidFilter")
    func badPaths() {
        #expect(patchError(users, user, #"[{"op":"replace","path":"shoeSize","value":1}]"#)?.scimType == .invalidPath)
        #expect(patchError(users, user, #"[{"op":"replace","path":"name.middle.x","value":1}]"#)?.scimType == .invalidPath)
        #expect(patchError(users, user, #"[{"op":"replace","path":"emails[type eq]","value":1}]"#)?.scimType == .invalidFilter)
        #expect(patchError(users, user, #"[{"op":"replace","path":"title[type eq \"x\"]","value":1}]"#)?.scimType == .invalidPath)
    }

    @Test("malformed PATCH bodies are invalidSyntax")
    func malformed() {
        #expect(throws: ScimError.self) { try PatchRequest(Fixtures.json(#"{"Operations":[]}"#)) }
        #expect(throws: ScimError.self) { try PatchRequest(Fixtures.json(#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"move","path":"a"}]}"#)) }
        #expect(throws: ScimError.self) { try PatchRequest(Fixtures.json(#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove"}]}"#)) }
    }

    @Test("remove members without a value removes all; replace members replaces the list")
    func membersWhole() throws {
        #expect(try patch(groups, group, #"[{"op":"remove","path":"members"}]"#).membershipChanges == [.removeAll])
        #expect(try patch(groups, group, #"[{"op":"replace","path":"members","value":[{"value":"\#(Self.member1)"}]}]"#).membershipChanges
            == [.replace([.init(id: UUID(uuidString: Self.member1)!)])])
    }
}
