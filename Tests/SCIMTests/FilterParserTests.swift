import SCIM
import Testing

@Suite("Filter parser (RFC 7644 §3.4.2.2)")
struct FilterParserTests {
    @Test("eq with a quoted string parses to a comparison")
    func equality() throws {
        #expect(try FilterParser.parse(#"userName eq "bjensen""#) == .comparison(.init(attribute: "userName"), .eq, "bjensen"))
    }

    @Test("operators and keywords are case-insensitive")
    func caseInsensitiveOperators() throws {
        #expect(try FilterParser.parse(#"userName EQ "a" AND displayName Eq "b""#)
            == .and(.comparison(.init(attribute: "userName"), .eq, "a"), .comparison(.init(attribute: "displayName"), .eq, "b")))
    }

    @Test("and binds tighter than or")
    func precedence() throws {
        let filter = try FilterParser.parse(#"a eq "1" or b eq "2" and c eq "3""#)
        #expect(filter == .or(
            .comparison(.init(attribute: "a"), .eq, "1"),
            .and(.comparison(.init(attribute: "b"), .eq, "2"), .comparison(.init(attribute: "c"), .eq, "3"))))
    }

    @Test("parentheses and not group as written")
    func grouping() throws {
        let filter = try FilterParser.parse(#"not (a eq "1" or b pr)"#)
        #expect(filter == .not(.or(.comparison(.init(attribute: "a"), .eq, "1"), .present(.init(attribute: "b")))))
    }

    @Test("schema-qualified paths and sub-attributes")
    func paths() throws {
        let filter = try FilterParser.parse(#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "J""#)
        #expect(filter == .comparison(
            .init(schema: "urn:ietf:params:scim:schemas:core:2.0:User", attribute: "name", subAttribute: "familyName"), .eq, "J"))
    }

    @Test("string escapes are decoded the JSON way")
    func escapes() throws {
        #expect(try FilterParser.parse(#"userName eq "a\"b\\c""#) == .comparison(.init(attribute: "userName"), .eq, #"a"b\c"#))
    }

    @Test("literals: booleans, numbers, null")
    func literals() throws {
        #expect(try FilterParser.parse("active eq true") == .comparison(.init(attribute: "active"), .eq, true))
        #expect(try FilterParser.parse("x gt 10") == .comparison(.init(attribute: "x"), .gt, 10))
        #expect(try FilterParser.parse("x eq null") == .comparison(.init(attribute: "x"), .eq, .null))
    }

    @Test("every comparison operator parses", arguments: Filter.ComparisonOperator.allCases)
    func operators(op: Filter.ComparisonOperator) throws {
        #expect(try FilterParser.parse(#"title \#(op.rawValue) "x""#) == .comparison(.init(attribute: "title"), op, "x"))
    }

    @Test("value paths: emails[type eq \"work\" and value co \"@x\"]")
    func valuePath() throws {
        #expect(try FilterParser.parse(#"emails[type eq "work" and value co "@x"]"#) == .valuePath(
            .init(attribute: "emails"),
            .and(.comparison(.init(attribute: "type"), .eq, "work"), .comparison(.init(attribute: "value"), .co, "@x"))))
    }

    @Test("a sub-attribute after a value path joins its filter: emails[type eq \"work\"].value eq \"a\"")
    func valuePathSubAttribute() throws {
        #expect(try FilterParser.parse(#"emails[type eq "work"].value eq "a""#) == .valuePath(
            .init(attribute: "emails"),
            .and(.comparison(.init(attribute: "type"), .eq, "work"), .comparison(.init(attribute: "value"), .eq, "a"))))
    }

    @Test("not binds tighter than and")
    func notPrecedence() throws {
        #expect(try FilterParser.parse(#"not (a pr) and b pr"#) == .and(.not(.present(.init(attribute: "a"))), .present(.init(attribute: "b"))))
    }

    @Test("value path errors", arguments: [#"emails[type eq "a""#, #"emails[type eq "a"[x eq "b"]]"#, #"name.x[a pr]"#, #"emails[]"#])
    func valuePathErrors(text: String) {
        #expect(throws: ScimError.self) { try FilterParser.parse(text) }
    }

    @Test("grammar errors are invalidFilter", arguments: [
        "", "userName", #"userName eq"#, #"userName zz "a""#, #"userName eq bjensen"#, #"(userName eq "a""#,
        #"userName eq "a" and"#, #"userName eq "unterminated"#, #"1abc eq "x""#, #"userName eq "a" )"#,
    ])
    func grammarErrors(text: String) {
        #expect(throws: ScimError.self) { try FilterParser.parse(text) }
        do {
            _ = try FilterParser.parse(text)
        } catch {
            #expect(error.scimType == .invalidFilter)
            #expect(error.status == 400)
        }
    }

    @Test("filters longer than the limit are refused")
    func tooLong() {
        let text = "userName eq \"" + String(repeating: "a", count: FilterParser.maximumLength) + "\""
        #expect(throws: ScimError.invalidFilter("The filter is longer than \(FilterParser.maximumLength) bytes.")) {
            try FilterParser.parse(text)
        }
    }

    @Test("nesting deeper than the limit is refused")
    func tooDeep() {
        let depth = FilterParser.maximumDepth + 1
        let text = String(repeating: "(", count: depth) + #"a eq "1""# + String(repeating: ")", count: depth)
        #expect(throws: ScimError.self) { try FilterParser.parse(text) }
    }
}
