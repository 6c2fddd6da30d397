import Foundation

/// An IPv4 or IPv6 address as a value: decisions are made on these bits, never on how a host was spelled.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt128)

    /// The standard text: dotted decimal, or RFC 5952's compressed IPv6 (which `SocketAddress(ipAddress:)` reads back).
    public var description: String {
        switch self {
        case .v4(let value): return Self.dotted(value)
        case .v6(let value): return Self.compressed(value)
        }
    }

    /// The address in standard notation only (`inet_pton`'s forms): four decimal parts, or RFC 4291 §2.2 IPv6 text.
    public init?(standard text: String) {
        if let value = Self.parseIPv6(Substring(text)) {
            self = .v6(value)
        } else if let (value, standard) = Self.parseIPv4(Substring(text)), standard {
            self = .v4(value)
        } else {
            return nil
        }
    }

    static func dotted(_ value: UInt32) -> String {
        [24, 16, 8, 0].map { String((value >> UInt32($0)) & 0xff) }.joined(separator: ".")
    }

    static func compressed(_ value: UInt128) -> String {
        let groups = (0..<8).map { UInt16(truncatingIfNeeded: value >> UInt128(112 - 16 * $0)) }
        // RFC 5952 §4.2: the longest run of two or more zero groups (the first of equals) becomes "::".
        var best: Range<Int>? = nil
        var start: Int? = nil
        for index in 0...8 {
            if index < 8, groups[index] == 0 {
                if start == nil { start = index }
            } else if let from = start {
                if index - from >= 2, index - from > (best?.count ?? 0) { best = from..<index }
                start = nil
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard let best else { return hex.joined(separator: ":") }
        return hex[..<best.lowerBound].joined(separator: ":") + "::" + hex[best.upperBound...].joined(separator: ":")
    }

    /// IPv4 as the C resolver's `inet_aton` reads it: one to four parts, each decimal, octal (leading 0) or
    /// hex (0x); the last part fills the remaining bytes (`127.1`, `2130706433`, `0x7f.0.0.1`, `0177.0.0.1`).
    /// `standard` is true only for four decimal parts without leading zeros.
    static func parseIPv4(_ text: Substring) -> (value: UInt32, standard: Bool)? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        var values: [UInt64] = []
        var standard = parts.count == 4
        for part in parts {
            guard let (value, decimal) = parseNumber(part) else { return nil }
            if !decimal { standard = false }
            values.append(value)
        }
        var result: UInt64 = 0
        for (index, value) in values.enumerated() {
            let last = index == values.count - 1
            let remainingBits = UInt64(8 * (4 - index))
            if last {
                guard value < (1 << remainingBits) else { return nil }
                result |= value
            } else {
                guard value <= 0xff else { return nil }
                result |= value << (remainingBits - 8)
            }
        }
        return (UInt32(result), standard)
    }

    /// One `inet_aton` part; `decimal` is false for octal, hex and decimal with a leading zero.
    private static func parseNumber(_ part: Substring) -> (value: UInt64, decimal: Bool)? {
        guard !part.isEmpty, part.count <= 32 else { return nil }
        let lower = part.lowercased()
        // Only these digits: Swift's integer parsing would also take a sign, which inet_aton does not.
        func digits(_ text: Substring, _ allowed: String) -> Bool { text.allSatisfy { allowed.contains($0) } }
        if lower.hasPrefix("0x") {
            let hex = lower.dropFirst(2)
            guard digits(hex, "0123456789abcdef") else { return nil }
            // inet_aton takes a bare "0x" as zero.
            return hex.isEmpty ? (0, false) : UInt64(hex, radix: 16).map { ($0, false) }
        }
        guard digits(Substring(lower), "0123456789") else { return nil }
        if lower.count > 1, lower.hasPrefix("0") {
            guard digits(lower.dropFirst(), "01234567") else { return nil }
            return UInt64(lower.dropFirst(), radix: 8).map { ($0, false) }
        }
        return UInt64(lower, radix: 10).map { ($0, true) }
    }

    /// RFC 4291 §2.2 text: eight groups, one "::", and a dotted IPv4 tail in the last 32 bits.
    static func parseIPv6(_ text: Substring) -> UInt128? {
        guard text.contains(":"), text.count <= 45 else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String, allowTail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            var result: [UInt16] = []
            for (index, field) in fields.enumerated() {
                if allowTail, index == fields.count - 1, field.contains(".") {
                    guard let (v4, standard) = parseIPv4(field), standard else { return nil }
                    result += [UInt16(v4 >> 16), UInt16(v4 & 0xffff)]
                } else {
                    guard (1...4).contains(field.count), field.allSatisfy(\.isHexDigit), let value = UInt16(field, radix: 16) else { return nil }
                    result.append(value)
                }
            }
            return result
        }
        let all: [UInt16]
        if halves.count == 2 {
            guard let head = groups(halves[0], allowTail: false), let tail = groups(halves[1], allowTail: true),
                head.count + tail.count <= 7
            else { return nil }
            all = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let every = groups(halves[0], allowTail: true), every.count == 8 else { return nil }
            all = every
        }
        return all.reduce(UInt128(0)) { ($0 << 16) | UInt128($1) }
    }
}
