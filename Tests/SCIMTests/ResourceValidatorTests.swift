import SCIM
import Testing

@Suite("Resource validation against the schema documents")
struct ResourceValidatorTests {
    let user = "urn:ietf:params:scim:schemas:core:2.0:User"
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

    @Test("a minimal user validates to its canonical body")
    func minimalUser() throws {
        let body = try Fixtures.users.validate(Fixtures.json(#"{"schemas":["\#(user)"],"userName":"bjensen"}"#))
        #expect(body["userName"] == "bjensen")
        #expect(body["schemas"] == [.string(user)])
    }

    @Test("attribute names are matched case-insensitively and stored as the schema spells them")
    func caseInsensitiveNames() throws {
        let body = try Fixtures.users.validate(Fixtures.json(#"{"SCHEMAS":["\#(user)"],"USERNAME":"b","Name":{"GIVENNAME":"B"}}"#))
        #expect(body["userName"] == "b")
        #expect(body["name"] == ["givenName": "B"])
    }

    @Test("missing userName is invalidValue")
    func missingUserName() {
        #expect(throws: ScimError.invalidValue("'userName' is required.")) {
            try Fixtures.users.validate(Fixtures.json(#"{"schemas":["\#(user)"],"displayName":"x"}"#))
        }
    }

    @Test("wrong types are invalidValue", arguments: [
        #""userName": 42"#, #""userName":"b","active": "yes""#, #""userName":"b","emails": {"value":"a@b"}"#,
        #""userName":"b","name": "Barbara""#,
    ])
    func wrongTypes(fields: String) throws {
        let input = Fixtures.json(#"{"schemas":["\#(user)"],\#(fields)}"#)
        do {
            _ = try Fixtures.users.validate(input)
            Issue.record("expected invalidValue for \(fields)")
        } catch {
            #expect(error.scimType == .invalidValue)
        }
    }

    @Test("unknown schema URNs are invalidSyntax")
    func unknownSchema() {
        #expect(throws: ScimError.self) {
            try Fixtures.users.validate(Fixtures.json(#"{"schemas":["urn:example:unknown"],"userName":"b"}"#))
        }
    }

    @Test("schemas is required")
    func schemasRequired() throws {
        do {
            _ = try Fixtures.users.validate(Fixtures.json(#"{"userName":"b"}"#))
            Issue.record("expected an error")
        } catch {
            #expect(error.scimType == .invalidSyntax)
        }
    }

    @Test("unknown attributes are invalidValue naming them")
    func unknownAttribute() throws {
        do {
            _ = try Fixtures.users.validate(Fixtures.json(#"{"schemas":["\#(user)"],"userName":"b","shoeSize":42}"#))
            Issue.record("expected an error")
        } catch {
            #expect(error.scimType == .invalidValue)
            #expect(error.detail.contains("shoeSize"))
        }
    }

    @Test("readOnly attributes, id and meta from the client are ignored")
    func readOnlyIgnored() throws {
        let body = try Fixtures.users.validate(Fixtures.json(
            #"{"schemas":["\#(user)"],"userName":"b","id":"x","meta":{"version":"1"},"groups":[{"value":"g"}]}"#))
        #expect(body["id"] == nil)
        #expect(body["meta"] == nil)
        #expect(body["groups"] == nil)
    }

    @Test("password is accepted but never kept")
    func passwordDropped() throws {
        let body = try Fixtures.users.validate(Fixtures.json(#"{"schemas":["\#(user)"],"userName":"b","password":"hunter2"}"#))
        #expect(body["password"] == nil)
    }

    @Test("Entra's string booleans become booleans")
    func stringBooleans() throws {
        let body = try Fixtures.users.validate(Fixtures.json(#"{"schemas":["\#(user)"],"userName":"b","active":"False"}"#))
        #expect(body["active"] == false)
    }

    @Test("canonical values are enforced and normalised")
    func canonicalValues() throws {
        let body = try Fixtures.users.validate(Fixtures.json(
            #"{"schemas":["\#(user)"],"userName":"b","emails":[{"value":"b@example.com","type":"WORK"}]}"#))
        #expect(body["emails"] == [["value": "b@example.com", "type": "work"]])
        #expect(throws: ScimError.self) {
            try Fixtures.users.validate(Fixtures.json(
                #"{"schemas":["\#(user)"],"userName":"b","emails":[{"value":"b@example.com","type":"carrier-pigeon"}]}"#))
        }
    }

    @Test("two primary values are invalidValue")
    func twoPrimaries() {
        #expect(throws: ScimError.self) {
            try Fixtures.users.validate(Fixtures.json(
                #"{"schemas":["\#(user)"],"userName":"b","emails":[{"value":"a@x","primary":true},{"value":"b@x","primary":true}]}"#))
        }
    }

    @Test("enterprise extension attributes live under their URN, and the URN joins schemas")
    func enterpriseExtension() throws {
        let body = try Fixtures.users.validate(Fixtures.json(
            #"{"schemas":["\#(user)"],"userName":"b","\#(enterprise)":{"employeeNumber":"7","manager":{"value":"m1"}}}"#))
        #expect(body[enterprise] == ["employeeNumber": "7", "manager": ["value": "m1"]])
        #expect(body["schemas"] == [.string(user), .string(enterprise)])
    }

    @Test("dateTime values parse as RFC 3339 and nothing else")
    func dateTimes() {
        #expect(SCIMDate.parse("2024-05-01T10:00:00Z") != nil)
        #expect(SCIMDate.parse("2024-05-01T10:00:00.123Z") != nil)
        #expect(SCIMDate.parse("yesterday") == nil)
    }

    @Test("immutable attributes cannot change on replace")
    func immutable() throws {
        let group = "urn:ietf:params:scim:schemas:core:2.0:Group"
        // Group has no top-level immutable attribute; construct a schema with one to test the rule.
        let schema = Schema(id: group, name: "Group", description: nil, attributes: [
            SchemaAttribute(name: "displayName", type: .string, required: true),
            SchemaAttribute(name: "code", type: .string, mutability: .immutable),
        ])
        let strict = ResourceValidator(resourceType: ResourceType(name: "Group", endpoint: "/Groups", description: "", schema: schema))
        let existing = try strict.validate(Fixtures.json(#"{"schemas":["\#(group)"],"displayName":"a","code":"x"}"#))
        #expect(throws: ScimError.mutability("'code' is immutable and cannot be changed.")) {
            try strict.validate(Fixtures.json(#"{"schemas":["\#(group)"],"displayName":"a","code":"y"}"#), existing: existing)
        }
        _ = try strict.validate(Fixtures.json(#"{"schemas":["\#(group)"],"displayName":"b","code":"x"}"#), existing: existing)
    }
}
