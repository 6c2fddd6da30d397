public import Foundation

/// The one rule for every request Roster makes to a URL someone supplied (webhooks, test sends, JWKS):
/// http(s) only, no credentials in the URL, a host that is a proper name or an address in standard
/// notation, and every address it stands for outside the deny list (`AddressUse`). Loopback and private
/// networks are allowed only when the operator says so (`allowPrivate`: `roster dev`, tests).
public struct OutboundPolicy: Sendable {
    public var allowPrivate: Bool
    public var resolver: any HostResolver

    public init(allowPrivate: Bool, resolver: any HostResolver = SystemResolver()) {
        self.allowPrivate = allowPrivate
        self.resolver = resolver
    }

    /// Names for this machine or a private network (RFC 6761 `localhost`, mDNS `.local`, `.internal`, RFC 8375 `home.arpa`).
    static let privateNameSuffixes = ["localhost", "local", "internal", "home.arpa"]

    /// The refusal for `address`, nil when it may be connected to.
    public func refusal(of address: IPAddress, host: String? = nil) -> OutboundRefusal? {
        let addressClass = address.addressClass
        if addressClass.use == .global || (allowPrivate && addressClass.use.operatorMayAllow) { return nil }
        return .deniedAddress(host: host, address: address, addressClass)
    }

    /// What the URL's text decides: the URL to use, or why not. A host name is checked by its addresses later.
    public func check(_ text: String) -> Result<OutboundURL, OutboundRefusal> {
        guard text.utf8.count <= 4096, let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let components = URLComponents(string: text), let rawHost = components.encodedHost ?? components.percentEncodedHost, !rawHost.isEmpty,
            let host = url.host, !host.isEmpty
        else { return .failure(.notHTTP) }
        if components.user != nil || components.password != nil { return .failure(.credentials) }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65535).contains(port) else { return .failure(.invalidHost(rawHost)) }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if rawHost.hasPrefix("[") || bare.contains(":") {
            // RFC 6874 zone ids name this machine's interfaces: nothing to reach outside it.
            if rawHost.contains("%") || bare.contains("%") { return .failure(.zoneIdentifier) }
            guard let value = IPAddress.parseIPv6(Substring(bare)) else { return .failure(.invalidHost(rawHost)) }
            let address = IPAddress.v6(value)
            if let refusal = refusal(of: address) { return .failure(refusal) }
            return .success(OutboundURL(url: url, scheme: scheme, host: bare, name: bare, port: port, literal: address))
        }
        // A percent-encoded host can decode into anything, an address included.
        if rawHost.contains("%") { return .failure(.invalidHost(rawHost)) }
        // The host in ASCII (an IDN as punycode), as it is resolved.
        let name = rawHost.lowercased()
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        let labels = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_")
        guard !trimmed.isEmpty, trimmed.count <= 253, labels.allSatisfy({ (1...63).contains($0.count) && $0.allSatisfy(allowed.contains) })
        else { return .failure(.invalidHost(rawHost)) }
        // Whatever inet_aton reads as an address is one, however it is written (WHATWG: a host ending in a number).
        if let last = labels.last, last.allSatisfy(\.isNumber) || last.hasPrefix("0x") {
            guard let (value, standard) = IPAddress.parseIPv4(Substring(trimmed)) else { return .failure(.invalidHost(rawHost)) }
            let address = IPAddress.v4(value)
            if let refusal = refusal(of: address) { return .failure(refusal.written(as: rawHost)) }
            guard standard, trimmed == name else { return .failure(.nonstandardAddress(host: rawHost, address: address)) }
            return .success(OutboundURL(url: url, scheme: scheme, host: bare, name: trimmed, port: port, literal: address))
        }
        if !allowPrivate, Self.privateNameSuffixes.contains(where: { trimmed == $0 || trimmed.hasSuffix("." + $0) }) {
            return .failure(.privateName(trimmed))
        }
        return .success(OutboundURL(url: url, scheme: scheme, host: bare, name: name, port: port, literal: nil))
    }

    /// The addresses a request to `url` may connect to: resolved once, every one checked. A name with
    /// one denied address is refused as a whole (an attacker's name may answer a mix).
    public func target(for url: OutboundURL) async -> Result<OutboundTarget, OutboundRefusal> {
        if let literal = url.literal { return .success(OutboundTarget(url: url, addresses: [literal])) }
        let addresses = await resolver.addresses(of: url.name)
        if addresses.isEmpty { return .failure(.unresolvable(url.name)) }
        for address in addresses {
            if let refusal = refusal(of: address, host: url.name) { return .failure(refusal) }
        }
        return .success(OutboundTarget(url: url, addresses: addresses))
    }

    /// The check when a URL is created or changed: its text, and the addresses its name resolves to now.
    /// A name that does not resolve yet is accepted; every connection checks again.
    public func refusal(creating text: String) async -> OutboundRefusal? {
        switch check(text) {
        case .failure(let refusal): return refusal
        case .success(let url):
            if case .failure(let refusal) = await target(for: url), refusal != .unresolvable(url.name) { return refusal }
            return nil
        }
    }
}

/// A URL the policy's text check passed: `host` as the HTTP client sees it (no brackets), `name` as resolved
/// (lowercased ASCII), and the address when it is one.
public struct OutboundURL: Sendable {
    public var url: URL
    public var scheme: String
    public var host: String
    public var name: String
    public var port: Int
    public var literal: IPAddress?
}

/// A URL and the checked addresses a request to it may connect to, in the resolver's order.
public struct OutboundTarget: Sendable {
    public var url: OutboundURL
    public var addresses: [IPAddress]
}
