import Foundation
import Testing

@testable import SCIM

@Suite("JSONReader reads RFC 8259 strictly, as JSONDecoder read JSONValue where both accept")
struct JSONReaderTests {
    static func read(_ bytes: [UInt8]) throws(ScimError) -> JSONValue {
        try JSONValue.parse(bytes)
    }

    /// What Foundation's decoder made of the same text (the reader's predecessor), for the texts both accept.
    static func decoded(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    @Test("valid texts read as JSONDecoder read them", arguments: [
        #"{}"#, #"[]"#, #"  {"a" : 1 }  "#, "\n[\t1 ,\r2]\n", #"null"#, #"true"#, #"false"#, #""plain""#,
        #"{"userName":"bjensen","name":{"givenName":"Barbara"},"emails":[{"value":"b@example.com","primary":true}]}"#,
        #"[0, -0, 1, -1, 9223372036854775807, -9223372036854775808]"#,
        #"[1.5, -2.25, 1e3, 1E-2, 1.0, 2e0, 0.1, 123456789.125, 1e300, 9223372036854775808]"#,
        #"["\"\\\/\b\f\n\r\t", "\u00e9\u4e2d", "\ud83d\ude00", "é中😀", "\u0000"]"#,
        #"[[[[[]]]]]"#, #"{"":""}"#, "\u{FEFF}{\"a\":1}",
    ])
    func agreesWithDecoder(text: String) throws {
        #expect(try Self.read(Array(text.utf8)) == (try Self.decoded(text)))
    }

    @Test("numbers: exact integers in range are integers, the rest decimals", arguments: [
        ("0", JSONValue.integer(0)), ("-12", .integer(-12)), ("1.0", .integer(1)), ("1e2", .integer(100)),
        ("1.5", .decimal(1.5)), ("9223372036854775808", .decimal(9223372036854775808.0)), ("-0.5", .decimal(-0.5)),
    ])
    func numbers(text: String, expected: JSONValue) throws {
        #expect(try Self.read(Array(text.utf8)) == expected)
    }

    @Test("invalid texts are invalidSyntax", arguments: [
        "", " ", "{", "[", "}", "[1,]", #"{"a":1,}"#, "[1 2]", #"{"a" 1}"#, #"{a:1}"#, "{'a':1}", "01", "1.", ".5", "+1",
        "-", "1e", "1e+", "NaN", "Infinity", "-Infinity", "1e400", "tru", "nul", "True", #""abc"#, #""\x""#, #""\u12""#,
        #""\u12g4""#, #"{"a":1,"a":2}"#, #"{"a":{},"b":1,"a":{}}"#, #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, "\"a\tb\"", "\"a\nb\"", "[1] [2]", "{} x", "[1]]",
    ])
    func refused(text: String) {
        #expect(throws: ScimError.self, "\(text.debugDescription) was accepted") { try Self.read(Array(text.utf8)) }
        do { _ = try Self.read(Array(text.utf8)) } catch { #expect(error.scimType == .invalidSyntax) }
    }

    @Test("bytes that are not UTF-8 inside a string are refused, not repaired", arguments: [
        [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0x61, 0xE2, 0x82, 0x22],
        [0x22, 0x5C, 0x6E, 0xC0, 0xAF, 0x22],
    ] as [[UInt8]])
    func invalidUTF8(bytes: [UInt8]) {
        #expect(throws: ScimError.self) { try Self.read(bytes) }
    }

    @Test("nesting is bounded: the limit reads, one more is refused, a megabyte of brackets does not exhaust the stack")
    func depth() throws {
        let limit = JSONReader.maximumDepth
        for (open, inner, close) in [("[", "", "]"), (#"{"a":"#, "1", "}")] {
            let deepest = String(repeating: open, count: limit) + inner + String(repeating: close, count: limit)
            #expect(throws: Never.self) { try Self.read(Array(deepest.utf8)) }
            let deeper = String(repeating: open, count: limit + 1) + inner + String(repeating: close, count: limit + 1)
            do {
                _ = try Self.read(Array(deeper.utf8))
                Issue.record("\(limit + 1) levels were read")
            } catch {
                #expect(error.detail.contains("nested more than \(limit) levels deep"))
            }
        }
        let hostile = [UInt8](repeating: UInt8(ascii: "["), count: 1 << 20)
        #expect(throws: ScimError.self) { try Self.read(hostile) }
    }

    @Test("the detail says where reading stopped")
    func detailNamesTheOffset() {
        do {
            _ = try Self.read(Array(#"{"userName":"a",}"#.utf8))
        } catch {
            #expect(error.detail == "The request body is not valid JSON: a member name was expected at byte 16.")
        }
    }

    @Test("what the writer writes, the reader reads back")
    func roundTrip() throws {
        let value: JSONValue = [
            "s": "quote \" backslash \\ slash / tab \t nul \u{0} é 😀", "n": 42, "d": .decimal(0.25), "b": false, "z": nil,
            "a": [1, "two", [3], ["four": 4]], "o": ["nested": ["deeper": [true]]],
        ]
        #expect(try Self.read(value.encodedBytes()) == value)
    }
}
