import Foundation

/// RFC 8259 JSON read straight into `JSONValue`: the counterpart of `JSONWriter.swift`.
///
/// Foundation's `JSONDecoder` reached `JSONValue` through `Decodable` (a container and a boxed value per node, and
/// a trial decode per scalar type); reading each stored body that way was 15 % of a GET by id's CPU in `perf`.
/// This reader is strict where the decoder was lenient (a trailing comma, invalid UTF-8 and raw control characters
/// in strings, a repeated member name are refused) and keeps its number rule: a number that is an exact integer fitting `Int` is
/// `.integer`, any other `.decimal`. Nesting is bounded, so a hostile body cannot exhaust the stack.
struct JSONReader {
    /// Deeper than any SCIM body (a Bulk operation's data is about five levels); far below what the stack takes.
    static let maximumDepth = 256

    enum Failure: Error, Equatable {
        case syntax(String, offset: Int)
        case tooDeep
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// One JSON text: a value with only whitespace around it.
    static func read(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> JSONValue {
        var reader = JSONReader(bytes.bindMemory(to: UInt8.self))
        // A UTF-8 byte order mark is not JSON (RFC 8259 §8.1 lets a reader ignore it), and JSONDecoder skipped it.
        if reader.bytes.starts(with: [0xEF, 0xBB, 0xBF]) { reader.index = 3 }
        let value = try reader.value()
        reader.skipWhitespace()
        guard reader.index == reader.bytes.count else { throw reader.failure("text after the value") }
        return value
    }

    private func failure(_ what: String) -> Failure {
        .syntax(what, offset: index)
    }

    private var current: UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func value() throws(Failure) -> JSONValue {
        skipWhitespace()
        guard let byte = current else { throw failure("a value was expected") }
        switch byte {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw failure("a value was expected")
        }
    }

    private mutating func enter() throws(Failure) {
        depth += 1
        guard depth <= Self.maximumDepth else { throw .tooDeep }
    }

    private mutating func object() throws(Failure) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw failure("a member name was expected") }
            let key = try string()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw failure("':' was expected") }
            index += 1
            // A repeated name is refused: decoders disagree about which value wins (JSONDecoder kept the first),
            // and a body that means two things to two readers is how a check gets smuggled past.
            let start = index
            guard members.updateValue(try value(), forKey: key) == nil else {
                throw .syntax("the member name \"\(key.prefix(64))\" repeated", offset: start)
            }
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            default: throw failure("',' or '}' was expected")
            }
        }
    }

    private mutating func array() throws(Failure) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            elements.append(try value())
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(elements)
            default: throw failure("',' or ']' was expected")
            }
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw failure("a value was expected") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
            throw failure("a value was expected")
        }
        index += count
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws(Failure) -> JSONValue {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        guard let first = current, isDigit(first) else { throw failure("a digit was expected") }
        index += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        var integral = true
        if current == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard let digit = current, isDigit(digit) else { throw failure("a digit was expected after '.'") }
            skipDigits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            integral = false
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard let digit = current, isDigit(digit) else { throw failure("a digit was expected in the exponent") }
            skipDigits()
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if integral, let value = Int(text) { return .integer(value) }
        guard let value = Double(text), value.isFinite else { throw .syntax("a number out of range", offset: start) }
        // JSONDecoder's rule, kept: `1.0` and `1e2` are integers when exact and in range.
        if value.rounded() == value, let exact = Int(exactly: value) { return .integer(exact) }
        return .decimal(value)
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func skipDigits() {
        while let byte = current, isDigit(byte) { index += 1 }
    }

    /// A string from its opening quote; escapes decoded, the result valid UTF-8 or refused.
    private mutating func string() throws(Failure) -> String {
        index += 1
        let start = index
        // The common case: no escape, so the bytes between the quotes are the string.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = try validated(UnsafeBufferPointer(rebasing: bytes[start..<index]))
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw failure("a control character in a string") }
            index += 1
        }
        var scratch = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return try scratch.withUnsafeBufferPointer { buffer throws(Failure) in try validated(buffer) }
            case UInt8(ascii: "\\"):
                index += 1
                try escape(into: &scratch)
            case 0x00..<0x20:
                throw failure("a control character in a string")
            default:
                scratch.append(byte)
                index += 1
            }
        }
        throw failure("an unterminated string")
    }

    private func validated(_ buffer: UnsafeBufferPointer<UInt8>) throws(Failure) -> String {
        guard let text = String(validating: buffer, as: UTF8.self) else { throw failure("a string that is not UTF-8") }
        return text
    }

    private mutating func escape(into scratch: inout [UInt8]) throws(Failure) {
        guard let byte = current else { throw failure("an unterminated string") }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(byte)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try hexQuad())
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate must be followed by an escaped low one.
                guard current == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                    throw failure("a lone surrogate in a \\u escape")
                }
                index += 2
                let low = UInt32(try hexQuad())
                guard (0xDC00..<0xE000).contains(low) else { throw failure("a lone surrogate in a \\u escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(scalar) {
                throw failure("a lone surrogate in a \\u escape")
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw failure("an invalid \\u escape") }
            scratch.append(contentsOf: UTF8.encode(unicode)!)
        default:
            throw failure("an invalid escape")
        }
    }

    private mutating func hexQuad() throws(Failure) -> UInt16 {
        guard index + 4 <= bytes.count else { throw failure("an invalid \\u escape") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("an invalid \\u escape")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }
}

extension JSONValue {
    /// Reads one JSON text from raw bytes (a request body, a jsonb column).
    public static func read(_ bytes: UnsafeRawBufferPointer) throws(JSONReadError) -> JSONValue {
        do throws(JSONReader.Failure) {
            return try JSONReader.read(bytes)
        } catch {
            switch error {
            case .tooDeep: throw JSONReadError(description: "nested more than \(JSONReader.maximumDepth) levels deep")
            case .syntax(let what, let offset): throw JSONReadError(description: "\(what) at byte \(offset)")
            }
        }
    }
}

/// Why bytes are not a JSON text, with the byte offset where reading stopped.
public struct JSONReadError: Error, Sendable, CustomStringConvertible {
    public var description: String
}
