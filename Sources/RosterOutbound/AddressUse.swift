/// What an address is for, by the IANA special-purpose registries (RFC 6890 and its updates).
public enum AddressUse: String, Sendable, Equatable, CaseIterable {
    case global
    case loopback
    case privateNetwork
    case uniqueLocal
    case sharedAddressSpace
    case linkLocal
    case siteLocal
    case unspecified
    case thisNetwork
    case multicast
    case broadcast
    case documentation
    case benchmarking
    case reserved
    case protocolAssignments
    case ipv4Compatible
    case teredo
    case discardOnly
    case localNAT64

    /// Uses the operator may allow (`roster dev`, tests, a deliberately private deployment); the rest are never connected to.
    public var operatorMayAllow: Bool {
        [.loopback, .privateNetwork, .uniqueLocal, .sharedAddressSpace].contains(self)
    }

    /// A noun phrase: "a loopback address".
    public var phrase: String {
        switch self {
        case .global: "a public address"
        case .loopback: "a loopback address"
        case .privateNetwork: "a private-network address"
        case .uniqueLocal: "a unique-local (private) address"
        case .sharedAddressSpace: "a carrier-grade NAT (shared) address"
        case .linkLocal: "a link-local address (cloud metadata services live there)"
        case .siteLocal: "a site-local address"
        case .unspecified: "the unspecified address"
        case .thisNetwork: "a 'this network' address"
        case .multicast: "a multicast address"
        case .broadcast: "the broadcast address"
        case .documentation: "a documentation address"
        case .benchmarking: "a benchmarking address"
        case .reserved: "a reserved address"
        case .protocolAssignments: "an IETF protocol-assignment address"
        case .ipv4Compatible: "a deprecated IPv4-compatible IPv6 address"
        case .teredo: "a Teredo tunnel address"
        case .discardOnly: "a discard-only address"
        case .localNAT64: "a local-use NAT64 address"
        }
    }
}

/// An address's use, and the IPv4 address inside it when it is an IPv6 form that stands for one.
public struct AddressClass: Sendable, Equatable {
    public var use: AddressUse
    /// The embedding (e.g. "IPv4-mapped") and the IPv4 address it carries, whose use `use` is.
    public var embedded: (form: String, address: IPAddress)?

    public static func == (lhs: AddressClass, rhs: AddressClass) -> Bool {
        lhs.use == rhs.use && lhs.embedded?.form == rhs.embedded?.form && lhs.embedded?.address == rhs.embedded?.address
    }
}

extension IPAddress {
    /// Classifies by value; an IPv6 form that carries an IPv4 address takes that address's use.
    public var addressClass: AddressClass {
        switch self {
        case .v4(let value): return AddressClass(use: Self.use(v4: value))
        case .v6(let value): return Self.classify(v6: value)
        }
    }

    static func use(v4 a: UInt32) -> AddressUse {
        func within(_ base: UInt32, _ bits: UInt32) -> Bool { bits == 0 || (a >> (32 - bits)) == (base >> (32 - bits)) }
        if a == 0 { return .unspecified }
        if a == 0xffff_ffff { return .broadcast }
        let table: [(UInt32, UInt32, AddressUse)] = [
            (0x0000_0000, 8, .thisNetwork),  // 0.0.0.0/8
            (0x0a00_0000, 8, .privateNetwork),  // 10/8
            (0x6440_0000, 10, .sharedAddressSpace),  // 100.64/10, RFC 6598
            (0x7f00_0000, 8, .loopback),  // 127/8
            (0xa9fe_0000, 16, .linkLocal),  // 169.254/16, incl. 169.254.169.254
            (0xac10_0000, 12, .privateNetwork),  // 172.16/12
            (0xc000_0000, 24, .protocolAssignments),  // 192.0.0/24
            (0xc000_0200, 24, .documentation),  // 192.0.2/24 TEST-NET-1
            (0xc058_6300, 24, .reserved),  // 192.88.99/24, the retired 6to4 relay anycast (RFC 7526)
            (0xc0a8_0000, 16, .privateNetwork),  // 192.168/16
            (0xc612_0000, 15, .benchmarking),  // 198.18/15, RFC 2544
            (0xc633_6400, 24, .documentation),  // 198.51.100/24 TEST-NET-2
            (0xcb00_7100, 24, .documentation),  // 203.0.113/24 TEST-NET-3
            (0xe000_0000, 4, .multicast),  // 224/4
            (0xf000_0000, 4, .reserved),  // 240/4
        ]
        return table.first { within($0.0, $0.1) }?.2 ?? .global
    }

    static func classify(v6 a: UInt128) -> AddressClass {
        func within(_ base: UInt128, _ bits: Int) -> Bool { (a >> UInt128(128 - bits)) == (base >> UInt128(128 - bits)) }
        func embedding(_ form: String, _ v4: UInt32) -> AddressClass {
            AddressClass(use: use(v4: v4), embedded: (form, .v4(v4)))
        }
        let low32 = UInt32(truncatingIfNeeded: a)
        if a == 0 { return AddressClass(use: .unspecified) }
        if a == 1 { return AddressClass(use: .loopback) }
        // RFC 4291 §2.5.5.2: ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket.
        if within(0xffff << 32, 96) { return embedding("IPv4-mapped", low32) }
        // RFC 4291 §2.5.5.1: ::a.b.c.d, deprecated; refused whatever it carries.
        if within(0, 96) {
            let inner = use(v4: low32)
            return AddressClass(use: inner == .global ? .ipv4Compatible : inner, embedded: ("IPv4-compatible", .v4(low32)))
        }
        // RFC 2765 §2.1 IPv4-translated ::ffff:0:a.b.c.d.
        if within(0xffff_0000 << 32, 96) { return embedding("IPv4-translated", low32) }
        // RFC 6052 §2.1 well-known NAT64 prefix: the translator connects to the IPv4 address inside.
        if within(0x0064_ff9b << 96, 96) { return embedding("NAT64", low32) }
        // RFC 8215: local-use NAT64, the network's own translator.
        if within(0x0064_ff9b_0001 << 80, 48) { return AddressClass(use: .localNAT64) }
        if within(0x0100 << 112, 64) { return AddressClass(use: .discardOnly) }  // 100::/64, RFC 6666
        // RFC 4380 Teredo tunnels to an IPv4 host: never connected to.
        if within(0x2001 << 112, 32) { return AddressClass(use: .teredo) }
        if within(0x2001_0002 << 96, 48) { return AddressClass(use: .benchmarking) }  // RFC 5180
        if within(0x2001 << 112, 23) { return AddressClass(use: .protocolAssignments) }  // 2001::/23, RFC 2928
        if within(0x2001_0db8 << 96, 32) { return AddressClass(use: .documentation) }  // RFC 3849
        if within(0x3fff << 112, 20) { return AddressClass(use: .documentation) }  // 3fff::/20, RFC 9637
        // RFC 3056 6to4: 2002:AABB:CCDD::/48 stands for AA.BB.CC.DD.
        if within(0x2002 << 112, 16) { return embedding("6to4", UInt32(truncatingIfNeeded: a >> 80)) }
        if within(0xfc00 << 112, 7) { return AddressClass(use: .uniqueLocal) }
        if within(0xfe80 << 112, 10) { return AddressClass(use: .linkLocal) }
        if within(0xfec0 << 112, 10) { return AddressClass(use: .siteLocal) }
        if within(0xff00 << 112, 8) { return AddressClass(use: .multicast) }
        return AddressClass(use: .global)
    }
}
