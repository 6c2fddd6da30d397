import SCIM
import Testing

@Suite("attributes and excludedAttributes (RFC 7644 §3.4.2.5)")
struct ProjectionTests {
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    var user: JSONValue {
        [
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "meta": ["resourceType": "User"],
            "userName": "b", "displayName": "B", "name": ["givenName": "Bo", "familyName": "Ek"],
            "emails": [["value": "b@x", "type": "work"]],
            .init(stringLiteral: enterprise): ["employeeNumber": "7", "department": "R&D"],
        ]
    }

    func project(attributes: String? = nil, excluded: String? = nil) throws -> JSONValue {
        try Projection(attributes: attributes, excludedAttributes: excluded).apply(to: user, of: Fixtures.registry.user)
    }

    @Test("attributes keeps what is named plus id, schemas and meta")
    func attributes() throws {
        let result = try project(attributes: "displayName")
        #expect(Set(result.objectValue?.keys.map { $0 } ?? []) == ["schemas", "id", "meta", "displayName"])
    }

    @Test("attributes with a sub-attribute keeps only that sub-attribute")
    func subAttribute() throws {
        #expect(try project(attributes: "name.familyName")["name"] == ["familyName": "Ek"])
        #expect(try project(attributes: "emails.value")["emails"] == [["value": "b@x"]])
    }

    @Test("attributes can name extension attributes by their full path")
    func extensionAttribute() throws {
        #expect(try project(attributes: "\(enterprise):department")[enterprise] == ["department": "R&D"])
    }

    @Test("excludedAttributes drops what is named but never id")
    func excluded() throws {
        let result = try project(excluded: "name,emails.type,id")
        #expect(result["name"] == nil)
        #expect(result["emails"] == [["value": "b@x"]])
        #expect(result["id"] == "1")
        #expect(result["userName"] == "b")
    }

    @Test("names are case-insensitive")
    func caseInsensitive() throws {
        #expect(try project(attributes: "DISPLAYNAME")["displayName"] == "B")
    }

    @Test("an invalid path is invalidPath")
    func invalidPath() {
        #expect(throws: ScimError(status: 400, scimType: .invalidPath, detail: "'a..b' is not a valid attribute path.")) {
            try Projection(attributes: "a..b", excludedAttributes: nil)
        }
    }
}
