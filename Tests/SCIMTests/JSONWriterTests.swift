import Foundation
import Testing

@testable import SCIM

@Suite("JSONValue's direct writer gives JSONEncoder's text")
struct JSONWriterTests {
    static func encoder(_ value: JSONValue) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return Array(try! encoder.encode(value))
    }

    @Test("scalars, escapes (every control character), slashes, non-ASCII, arrays and one-member objects byte for byte")
    func sameBytes() {
        var controls = ""
        for scalar in 0..<0x20 { controls.unicodeScalars.append(Unicode.Scalar(UInt8(scalar))) }
        let values: [JSONValue] = [
            .null, true, false, 0, -42, .integer(Int.max), .integer(Int.min), .decimal(1.5), .decimal(2), .decimal(-0.001), .decimal(1e21),
            "", "plain", #"quote " backslash \ slash / "#, .string(controls), "Zoë 東京 👩🏽‍💻", "\u{7F}\u{2028}",
            [], [1, "two", nil, [true]], ["key": "value"], ["k\"e/y": ["nested": [1, .decimal(2.5)]]], [:],
        ]
        for value in values {
            #expect(value.encodedBytes() == Self.encoder(value), "\(value)")
        }
    }

    @Test("objects of many members: the same JSON (member order is the dictionary's either way)")
    func objects() throws {
        let user: JSONValue = [
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "2819c223-7f76-453a-919d-413861904646",
            "userName": "bjensen@example.com", "name": ["givenName": "Barbara", "familyName": "Jensen"], "active": true,
            "emails": [["value": "bjensen@example.com", "type": "work", "primary": true]],
            "meta": ["resourceType": "User", "version": "W/\"3\"", "location": "https://example.com/v2/Users/2819c223"],
        ]
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(user.encodedBytes()))
        #expect(decoded == user)
        #expect(user.encodedBytes().count == Self.encoder(user).count)
    }
}
