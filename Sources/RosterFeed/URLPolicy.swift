import Foundation
#if canImport(Glibc)
import Glibc
#endif

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

    /// At delivery: `problem(with:)`, and unless private addresses are allowed, every address the
    /// host resolves to (a public name can point at a private address). Resolutions are cached for
    /// 30 s. The HTTP client resolves the name again to connect, so a name that changes its answer
    /// in between (DNS rebinding) is not caught here.
    public func problem(resolving text: String) async -> String? {
        if let problem = problem(with: text) { return problem }
        guard !allowPrivate, let host = URL(string: text)?.host, IPv4(host) == nil, !host.contains(":") else { return nil }
        let addresses = await Self.resolver.addresses(of: host)
        if addresses.isEmpty { return "the host name '\(host)' does not resolve." }
        if addresses.contains(where: Self.isPrivate(host:)) {
            return "the host name '\(host)' resolves to a loopback, private or link-local address, which this server does not send to."
        }
        return nil
    }

    static let resolver = Resolver()

    /// getaddrinfo on its own thread (it blocks), with a short cache.
    actor Resolver {
        private var cache: [String: (addresses: [String], until: ContinuousClock.Instant)] = [:]

        func addresses(of host: String) async -> [String] {
            if let hit = cache[host], hit.until > .now { return hit.addresses }
            let addresses = await withCheckedContinuation { continuation in
                Thread.detachNewThread { continuation.resume(returning: Self.lookup(host)) }
            }
            cache[host] = (addresses, .now + .seconds(30))
            return addresses
        }

        static func lookup(_ host: String) -> [String] {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
            defer { freeaddrinfo(first) }
            var addresses: [String] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let info = cursor {
                var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if getnameinfo(info.pointee.ai_addr, info.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                    addresses.append(String(cString: buffer))
                }
                cursor = info.pointee.ai_next
            }
            return addresses
        }
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
