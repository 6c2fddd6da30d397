import Foundation

/// Which webhook URLs Roster sends to. A receiver on loopback, a private network or a link-local
/// address (a cloud's metadata service) would let whoever creates a subscription reach inside the
/// network Roster runs in, so those are refused unless the operator allows them (`roster dev` does).
public struct WebhookURLPolicy: Sendable {
    public var allowPrivate: Bool

    public init(allowPrivate: Bool) {
        self.allowPrivate = allowPrivate
    }

    /// Why `text` cannot be a webhook URL, or nil when it can (as far as its text tells: a host name
    /// is checked again, by its addresses, when a delivery connects).
    public func problem(with text: String) -> String? {
        guard text.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else { return "'url' must be an absolute http or https URL, e.g. \"https://app.example.com/webhooks/roster\"." }
        if url.user != nil || url.password != nil { return "'url' must not carry credentials." }
        if !allowPrivate, Self.isPrivate(host: host) {
            return "'url' points at a loopback, private or link-local address, which this server does not send to."
        }
        return nil
    }

    /// A host name or address literal that names this machine or a private network.
    public static func isPrivate(host: String) -> Bool {
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]."))
        if name == "localhost" || name.hasSuffix(".localhost") || name.hasSuffix(".local") || name.hasSuffix(".internal") { return true }
        if let v4 = IPv4(name) { return v4.isPrivate }
        if name.contains(":") { return IPv6Private(name) }
        return false
    }

    struct IPv4 {
        let octets: [UInt8]

        init?(_ text: String) {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var octets: [UInt8] = []
            for part in parts {
                guard let value = UInt8(part) else { return nil }
                octets.append(value)
            }
            self.octets = octets
        }

        var isPrivate: Bool {
            let (a, b) = (octets[0], octets[1])
            return a == 0 || a == 10 || a == 127 || a >= 224  // this network, private, loopback, multicast and reserved
                || (a == 100 && (64...127).contains(b))  // carrier-grade NAT
                || (a == 169 && b == 254)  // link-local, cloud metadata
                || (a == 172 && (16...31).contains(b)) || (a == 192 && b == 168)
        }
    }

    static func IPv6Private(_ text: String) -> Bool {
        let lower = text.lowercased()
        if lower == "::1" || lower == "::" { return true }
        // IPv4-mapped (::ffff:10.0.0.1) answers as its IPv4 address.
        if let last = lower.split(separator: ":").last, let v4 = IPv4(String(last)) { return v4.isPrivate }
        guard let first = lower.split(separator: ":").first, let head = UInt16(first, radix: 16) else { return lower.hasPrefix("::") }
        return (head & 0xfe00) == 0xfc00 || (head & 0xffc0) == 0xfe80  // unique local, link-local
    }
}
