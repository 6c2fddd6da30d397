import Foundation
import SCIM
import Testing

@Suite("Bad input the SCIM layer refuses before anything is written")
struct BadInputShapeTests {
    static let userURN = "urn:ietf:params:scim:schemas:core:2.0:User"
    static let groupURN = "urn:ietf:params:scim:schemas:core:2.0:Group"
    let users = PatchEngine(resourceType: Fixtures.registry.user)
    let groups = PatchEngine(resourceType: Fixtures.registry.group)
    let user: [String: JSONValue] = [
        "schemas": [.string(userURN)], "userName": "bjensen", "name": ["givenName": "Barbara"],
        "emails": [["value": "b@work.example", "type": "work"]],
    ]
    let group: [String: JSONValue] = ["schemas": [.string(groupURN)], "displayName": "Admins"]

    func patchError(_ engine: PatchEngine, _ body: [String: JSONValue], _ operations: String) -> ScimError? {
        do {
            let request = try PatchRequest(Fixtures.json(#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":\#(operations)}"#))
            _ = try engine.apply(request, to: body)
            return nil
        } catch let error as ScimError {
            return error
        } catch {
            return ScimError(status: 500, detail: "\(error)")
        }
    }

    // MARK: PATCH values of the wrong shape

    @Test("a string for the complex attribute 'name' is invalidValue, by path or in a path-less value", arguments: [
        #"[{"op":"replace","path":"name","value":"Barbara Jensen"}]"#,
        #"[{"op":"add","path":"name","value":"Barbara Jensen"}]"#,
        #"[{"op":"replace","value":{"name":"Barbara Jensen"}}]"#,
        #"[{"op":"add","path":"name","value":["Barbara"]}]"#,
        #"[{"op":"replace","path":"name","value":42}]"#,
    ])
    func stringForComplex(operations: String) {
        let error = patchError(users, user, operations)
        #expect(error?.status == 400)
        #expect(error?.scimType == .invalidValue, "\(String(describing: error))")
    }

    @Test("a string for the multi-valued complex attribute 'emails' is invalidValue, not coerced into {value}", arguments: [
        #"[{"op":"add","path":"emails","value":"x@example.com"}]"#,
        #"[{"op":"replace","path":"emails","value":"x@example.com"}]"#,
        #"[{"op":"add","path":"emails","value":["x@example.com"]}]"#,
        #"[{"op":"replace","value":{"emails":"x@example.com"}}]"#,
        #"[{"op":"replace","path":"emails[type eq \"work\"]","value":"x@example.com"}]"#,
        #"[{"op":"remove","path":"emails","value":"b@work.example"}]"#,
    ])
    func stringForMultiValuedComplex(operations: String) {
        let error = patchError(users, user, operations)
        #expect(error?.status == 400)
        #expect(error?.scimType == .invalidValue, "\(String(describing: error))")
    }

    @Test("a bare member id instead of {\"value\": id} is invalidValue")
    func bareMemberID() {
        let error = patchError(groups, group, #"[{"op":"add","path":"members","value":"2819c223-7f76-453a-919d-413861904646"}]"#)
        #expect(error?.scimType == .invalidValue)
    }

    @Test("the documented shapes still apply: Entra's manager by bare id and string booleans, Okta's path-less value object")
    func documentedShapesKept() throws {
        let request = try PatchRequest(Fixtures.json(#"""
            {"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
             {"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m-1"},
             {"op":"Replace","path":"active","value":"False"},
             {"op":"replace","value":{"name":{"givenName":"Babs"},"emails":[{"value":"babs@example.com","type":"work"}]}}]}
            """#))
        let body = try users.apply(request, to: user).body
        #expect(body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]?["manager"] == ["value": "m-1"])
        #expect(body["active"] == false)
        #expect(body["name"] == ["givenName": "Babs"])
        #expect(body["emails"] == [["value": "babs@example.com", "type": "work"]])
    }

    @Test("a PatchOp with an empty 'Operations' array is invalidSyntax (RFC 7644 §3.5.2: one or more operations)")
    func emptyOperations() {
        #expect(throws: ScimError.invalidSyntax("A PATCH body's 'Operations' must hold at least one operation.")) {
            try PatchRequest(Fixtures.json(#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}"#))
        }
    }

    // MARK: Indexed attribute lengths

    /// `count` characters of a 4-byte UTF-8 scalar: the worst case for PostgreSQL's index entry size.
    static func text(_ count: Int) -> String { String(repeating: "𝄞", count: count) }

    @Test("each indexed attribute takes its documented maximum, in 4-byte characters, and refuses one more", arguments: IndexedAttributeLimit.all)
    func lengthLimits(limit: IndexedAttributeLimit) throws {
        let validator = limit.resourceType == "User" ? Fixtures.users : Fixtures.groups
        func body(_ value: String) -> JSONValue {
            var object: [String: JSONValue] =
                limit.resourceType == "User"
                ? ["schemas": [.string(Self.userURN)], "userName": "bjensen"] : ["schemas": [.string(Self.groupURN)], "displayName": "Admins"]
            if limit.path == "emails.value" {
                object["emails"] = [["value": .string(value)]]
            } else {
                object[limit.path] = .string(value)
            }
            return .object(object)
        }
        _ = try validator.validate(body(Self.text(limit.maxCharacters)))
        do {
            _ = try validator.validate(body(Self.text(limit.maxCharacters + 1)))
            Issue.record("\(limit.resourceType).\(limit.path) of \(limit.maxCharacters + 1) characters was accepted")
        } catch {
            #expect(error.status == 400)
            #expect(error.scimType == .invalidValue)
            #expect(error.detail.contains("'\(limit.path)'") && error.detail.contains("at most \(limit.maxCharacters)"))
        }
        #expect(limit.maxCharacters * 4 + 16 < 2_600, "the limit must fit a btree entry with the tenant id")
    }

    @Test("PATCH is held to the same lengths: a 1 MB displayName by path or path-less is invalidValue")
    func patchLengths() {
        let huge = String(repeating: "x", count: 1_000_000)
        for operations in [
            #"[{"op":"replace","path":"displayName","value":"\#(huge)"}]"#,
            #"[{"op":"replace","value":{"userName":"\#(huge)"}}]"#,
            #"[{"op":"add","path":"emails[type eq \"work\"].value","value":"\#(huge)"}]"#,
        ] {
            #expect(patchError(users, user, operations)?.scimType == .invalidValue)
        }
        #expect(patchError(groups, group, #"[{"op":"replace","path":"externalId","value":"\#(huge)"}]"#)?.scimType == .invalidValue)
    }
}
