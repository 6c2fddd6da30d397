/// Parses RFC 7644 §3.4.2.2 filter expressions into a `Filter`.
///
/// Precedence follows the RFC: `not` binds tightest, then `and`, then `or`; parentheses group.
/// Keywords and operators are case-insensitive. Every failure is a 400 `invalidFilter`.
public struct FilterParser {
    public static let maximumLength = 4096
    public static let maximumDepth = 32

    private enum Token: Equatable {
        case word(String)
        case string(String)
        case number(JSONValue)
        case openParen, closeParen, openBracket, closeBracket
    }

    private var tokens: [Token]
    private var position = 0
    private var depth = 0
    private var insideValuePath = false

    public static func parse(_ text: String) throws(ScimError) -> Filter {
        guard text.utf8.count <= maximumLength else {
            throw .invalidFilter("The filter is longer than \(maximumLength) bytes.")
        }
        var parser = FilterParser(tokens: try tokenize(text))
        guard !parser.tokens.isEmpty else { throw .invalidFilter("The filter is empty.") }
        let filter = try parser.parseOr()
        if parser.position < parser.tokens.count {
            throw .invalidFilter("Unexpected \(parser.describe(parser.tokens[parser.position])) in filter.")
        }
        return filter
    }

    private init(tokens: [Token]) {
        self.tokens = tokens
    }

    private mutating func parseOr() throws(ScimError) -> Filter {
        var left = try parseAnd()
        while keyword("or") {
            left = .or(left, try parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws(ScimError) -> Filter {
        var left = try parseUnary()
        while keyword("and") {
            left = .and(left, try parseUnary())
        }
        return left
    }

    private mutating func parseUnary() throws(ScimError) -> Filter {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maximumDepth else {
            throw .invalidFilter("The filter nests deeper than \(Self.maximumDepth) levels.")
        }
        if keyword("not") {
            guard next() == .openParen else { throw .invalidFilter("'not' must be followed by a parenthesised filter.") }
            let inner = try parseOr()
            guard next() == .closeParen else { throw .invalidFilter("Missing ')' after 'not (' filter.") }
            return .not(inner)
        }
        if peek() == .openParen {
            position += 1
            let inner = try parseOr()
            guard next() == .closeParen else { throw .invalidFilter("Missing ')' in filter.") }
            return inner
        }
        return try parseAttributeExpression()
    }

    private mutating func parseAttributeExpression() throws(ScimError) -> Filter {
        guard case .word(let word)? = next() else {
            throw .invalidFilter("Expected an attribute name in filter.")
        }
        let path = try Self.attributePath(word)
        if peek() == .openBracket {
            return try parseValuePath(path)
        }
        return try parseComparison(path, word: word)
    }

    /// `attr[filter]`, and the common extension `attr[filter].sub op value` (= `attr[filter and sub op value]`).
    private mutating func parseValuePath(_ path: AttributePath) throws(ScimError) -> Filter {
        guard path.subAttribute == nil else {
            throw .invalidFilter("A value filter applies to an attribute, not to '\(path)'.")
        }
        position += 1
        guard !insideValuePath else { throw .invalidFilter("Value filters cannot be nested.") }
        insideValuePath = true
        let inner = try parseOr()
        insideValuePath = false
        guard next() == .closeBracket else { throw .invalidFilter("Missing ']' after the value filter on '\(path)'.") }
        if case .word(let word)? = peek(), word.hasPrefix(".") {
            position += 1
            let sub = try Self.attributePath(String(word.dropFirst()))
            guard sub.schema == nil, sub.subAttribute == nil else {
                throw .invalidFilter("'\(word)' is not a sub-attribute name.")
            }
            return .valuePath(path, .and(inner, try parseComparison(sub, word: sub.attribute)))
        }
        return .valuePath(path, inner)
    }

    private mutating func parseComparison(_ path: AttributePath, word: String) throws(ScimError) -> Filter {
        guard case .word(let op)? = next() else {
            throw .invalidFilter("Expected an operator after '\(word)'.")
        }
        if op.lowercased() == "pr" { return .present(path) }
        guard let comparison = Filter.ComparisonOperator(rawValue: op.lowercased()) else {
            throw .invalidFilter("Unknown operator '\(op)'.")
        }
        switch next() {
        case .string(let value)?: return .comparison(path, comparison, .string(value))
        case .number(let value)?: return .comparison(path, comparison, value)
        case .word(let literal)?:
            switch literal.lowercased() {
            case "true": return .comparison(path, comparison, .bool(true))
            case "false": return .comparison(path, comparison, .bool(false))
            case "null": return .comparison(path, comparison, .null)
            default: throw .invalidFilter("Invalid comparison value '\(literal)'; strings must be in double quotes.")
            }
        default:
            throw .invalidFilter("Expected a value after '\(word) \(op)'.")
        }
    }

    /// `urn:…:User:name.givenName` → schema `urn:…:User`, attribute `name`, sub-attribute `givenName`.
    public static func attributePath(_ text: String) throws(ScimError) -> AttributePath {
        var schema: String?
        var rest = Substring(text)
        if text.lowercased().hasPrefix("urn:"), let colon = text.lastIndex(of: ":") {
            schema = String(text[..<colon])
            rest = text[text.index(after: colon)...]
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ isAttributeName($0) }) else {
            throw .invalidFilter("'\(text)' is not a valid attribute path.")
        }
        return AttributePath(schema: schema, attribute: String(parts[0]), subAttribute: parts.count == 2 ? String(parts[1]) : nil)
    }

    /// RFC 7643 §2.1: ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA; `$ref` is allowed too.
    private static func isAttributeName(_ name: Substring) -> Bool {
        if name == "$ref" { return true }
        guard let first = name.first, first.isASCII, first.isLetter else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    private mutating func keyword(_ word: String) -> Bool {
        if case .word(let w)? = peek(), w.lowercased() == word {
            position += 1
            return true
        }
        return false
    }

    private func peek() -> Token? { position < tokens.count ? tokens[position] : nil }

    private mutating func next() -> Token? {
        defer { position += 1 }
        return peek()
    }

    private func describe(_ token: Token) -> String {
        switch token {
        case .word(let w): "'\(w)'"
        case .string(let s): "\"\(s)\""
        case .number(let n): "\(n)"
        case .openParen: "'('"
        case .closeParen: "')'"
        case .openBracket: "'['"
        case .closeBracket: "']'"
        }
    }

    private static func tokenize(_ text: String) throws(ScimError) -> [Token] {
        var tokens: [Token] = []
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            switch c {
            case " ", "\t", "\n", "\r": i += 1
            case "(": tokens.append(.openParen); i += 1
            case ")": tokens.append(.closeParen); i += 1
            case "[": tokens.append(.openBracket); i += 1
            case "]": tokens.append(.closeBracket); i += 1
            case "\"":
                var j = i + 1
                var escaped = false
                while j < scalars.count {
                    if escaped { escaped = false } else if scalars[j] == "\\" { escaped = true } else if scalars[j] == "\"" { break }
                    j += 1
                }
                guard j < scalars.count else { throw .invalidFilter("Unterminated string in filter.") }
                var literal = String.UnicodeScalarView()
                literal.append(contentsOf: scalars[i...j])
                // The RFC's string values are JSON strings; decode escapes the JSON way.
                guard case .string(let value)? = try? JSONValue.parse(Array(String(literal).utf8)) else {
                    throw .invalidFilter("Invalid string literal \(String(literal)) in filter.")
                }
                guard !value.unicodeScalars.contains("\u{0}") else { throw .invalidFilter("Filter strings cannot contain NUL characters.") }
                tokens.append(.string(value))
                i = j + 1
            default:
                var j = i
                while j < scalars.count, !" \t\n\r()[]\"".unicodeScalars.contains(scalars[j]) { j += 1 }
                var word = String.UnicodeScalarView()
                word.append(contentsOf: scalars[i..<j])
                let text = String(word)
                if let first = text.first, first.isNumber || first == "-" {
                    if let int = Int(text) {
                        tokens.append(.number(.integer(int)))
                    } else if let double = Double(text), double.isFinite {
                        tokens.append(.number(.decimal(double)))
                    } else {
                        throw .invalidFilter("Invalid number '\(text)' in filter.")
                    }
                } else {
                    tokens.append(.word(text))
                }
                i = j
            }
        }
        return tokens
    }
}
