import Foundation
import SCIM
import Testing

@Suite("Bodies are read strictly: no trailing commas, no empty required values")
struct StrictBodyTests {
    @Test("a trailing comma anywhere outside a string is invalidSyntax; commas inside strings are content", arguments: [
        (#"{"userName":"a",}"#, true), (#"{"a":[1,2,]}"#, true), (#"{"a":[1,2 , ] }"#, true), ("[1,\n]", true),
        (#"{"a":{"b":1,},"c":2}"#, true), (#"{"a":"x,}"}"#, false), (#"{"a":"x\",]"}"#, false), (#"{"a":[1,2],"b":{}}"#, false),
        (#"{"a":"\\",}"#, true), (#"{}"#, false),
    ])
    func trailingCommas(body: String, refused: Bool) {
        do {
            _ = try JSONValue.parse(Array(body.utf8))
            #expect(!refused, "\(body) was accepted")
        } catch {
            #expect(refused, "\(body) was refused: \(error.detail)")
            #expect(error.scimType == .invalidSyntax)
        }
    }

    @Test("an empty or blank userName or displayName is invalidValue", arguments: ["", " ", "\t\n"])
    func emptyRequired(value: String) throws {
        let user = #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"\#(value.debugDescription.dropFirst().dropLast())"}"#
        let group = #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"\#(value.debugDescription.dropFirst().dropLast())"}"#
        #expect(throws: ScimError.self) { try Fixtures.users.validate(Fixtures.json(user)) }
        #expect(throws: ScimError.self) { try Fixtures.groups.validate(Fixtures.json(group)) }
        do { _ = try Fixtures.users.validate(Fixtures.json(user)) } catch { #expect(error.scimType == .invalidValue) }
    }
}
