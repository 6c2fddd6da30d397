import RosterOutbound
import Testing

/// What the policy makes of a URL when it is created: allowed, or the kind of refusal.
enum Verdict: Equatable, CustomStringConvertible {
    case allowed
    case denied(AddressUse)
    case nonstandard
    case invalidHost
    case zone
    case privateName
    case notHTTP
    case credentials

    init(_ refusal: OutboundRefusal?) {
        switch refusal {
        case nil: self = .allowed
        case .deniedAddress(_, _, let addressClass, _): self = .denied(addressClass.use)
        case .nonstandardAddress: self = .nonstandard
        case .invalidHost: self = .invalidHost
        case .zoneIdentifier: self = .zone
        case .privateName: self = .privateName
        case .notHTTP: self = .notHTTP
        case .credentials: self = .credentials
        case .unresolvable: self = .allowed  // creation accepts a name that does not resolve yet
        }
    }

    var description: String {
        switch self {
        case .allowed: "allowed"
        case .denied(let use): "denied(\(use.rawValue))"
        case .nonstandard: "nonstandard"
        case .invalidHost: "invalidHost"
        case .zone: "zone"
        case .privateName: "privateName"
        case .notHTTP: "notHTTP"
        case .credentials: "credentials"
        }
    }
}

@Suite("Outbound policy: URL forms")
struct URLFormTableTests {
    /// Names the stub resolver knows; any other name does not resolve.
    static let resolver = StubResolver(answers: [
        "public.test": ["93.184.216.34"], "dual.test": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
        "evil.test": ["127.0.0.1"], "mixed.test": ["93.184.216.34", "10.0.0.1"], "meta.test": ["169.254.169.254"],
        "v6loop.test": ["::1"], "nat64.test": ["64:ff9b::7f00:1"], "mapped.test": ["::ffff:10.0.0.1"], "ula.test": ["fd00::2"],
    ])

    /// Every spelling of every denied range the issue names, and the public neighbours that must pass.
    static let table: [(url: String, strict: Verdict)] = [
        // IPv4 as inet_aton reads it: loopback in every notation.
        ("http://127.0.0.1/hook", .denied(.loopback)), ("http://127.1/", .denied(.loopback)), ("http://127.0.1/", .denied(.loopback)),
        ("http://0x7f.1/", .denied(.loopback)), ("http://0x7f000001/", .denied(.loopback)), ("http://0X7F.0.0.1/", .denied(.loopback)),
        ("http://2130706433/", .denied(.loopback)), ("http://017700000001/", .denied(.loopback)), ("http://0177.0.0.1/", .denied(.loopback)),
        ("http://127.0.0.1./", .denied(.loopback)), ("http://127.255.255.254:8080/", .denied(.loopback)),
        // Other IPv4 ranges (RFC 6890 and updates).
        ("http://0/", .denied(.unspecified)), ("http://0.0.0.0/", .denied(.unspecified)), ("http://0.1.2.3/", .denied(.thisNetwork)),
        ("http://10.0.0.1/", .denied(.privateNetwork)), ("http://012.0.0.1/", .denied(.privateNetwork)),
        ("http://172.16.0.1/", .denied(.privateNetwork)), ("http://172.31.255.255/", .denied(.privateNetwork)),
        ("http://192.168.1.1/", .denied(.privateNetwork)), ("http://3232235777/", .denied(.privateNetwork)),
        ("http://169.254.169.254/latest/meta-data", .denied(.linkLocal)), ("http://0xa9fea9fe/", .denied(.linkLocal)),
        ("http://169.254.0.1/", .denied(.linkLocal)), ("http://100.64.0.1/", .denied(.sharedAddressSpace)),
        ("http://100.127.255.255/", .denied(.sharedAddressSpace)), ("http://198.18.0.1/", .denied(.benchmarking)),
        ("http://198.19.255.255/", .denied(.benchmarking)), ("http://192.0.2.1/", .denied(.documentation)),
        ("http://198.51.100.7/", .denied(.documentation)), ("http://203.0.113.9/", .denied(.documentation)),
        ("http://192.0.0.8/", .denied(.protocolAssignments)), ("http://192.88.99.1/", .denied(.reserved)),
        ("http://240.0.0.1/", .denied(.reserved)), ("http://255.255.255.255/", .denied(.broadcast)),
        ("http://224.0.0.1/", .denied(.multicast)), ("http://239.255.255.250/", .denied(.multicast)),
        // IPv6 literals that stand for loopback or carry an IPv4 address.
        ("http://[::1]/", .denied(.loopback)), ("http://[0:0:0:0:0:0:0:1]/", .denied(.loopback)),
        ("http://[0000:0000:0000:0000:0000:0000:0000:0001]:8080/", .denied(.loopback)), ("http://[::]/", .denied(.unspecified)),
        ("http://[::ffff:127.0.0.1]/", .denied(.loopback)), ("http://[::ffff:7f00:1]/", .denied(.loopback)),
        ("http://[0:0:0:0:0:ffff:127.0.0.1]/", .denied(.loopback)), ("http://[::ffff:169.254.169.254]/", .denied(.linkLocal)),
        ("http://[::ffff:10.0.0.1]/", .denied(.privateNetwork)), ("http://[::127.0.0.1]/", .denied(.loopback)),
        ("http://[::7f00:1]/", .denied(.loopback)), ("http://[::8.8.8.8]/", .denied(.ipv4Compatible)),
        ("http://[::ffff:0:7f00:1]/", .denied(.loopback)), ("http://[64:ff9b::7f00:1]/", .denied(.loopback)),
        ("http://[64:ff9b::127.0.0.1]/", .denied(.loopback)), ("http://[64:ff9b::10.0.0.1]/", .denied(.privateNetwork)),
        ("http://[64:ff9b::a9fe:a9fe]/", .denied(.linkLocal)), ("http://[64:ff9b:1::a00:1]/", .denied(.localNAT64)),
        ("http://[2002:7f00:1::]/", .denied(.loopback)), ("http://[2002:a9fe:a9fe::1]/", .denied(.linkLocal)),
        ("http://[2002:c0a8:101::1]/", .denied(.privateNetwork)), ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", .denied(.teredo)),
        ("http://[2001:2::1]/", .denied(.benchmarking)), ("http://[2001:10::1]/", .denied(.protocolAssignments)),
        ("http://[2001:db8::1]/", .denied(.documentation)), ("http://[3fff::1]/", .denied(.documentation)),
        ("http://[100::1]/", .denied(.discardOnly)), ("http://[fe80::1]/", .denied(.linkLocal)),
        ("http://[febf::1]/", .denied(.linkLocal)), ("http://[fec0::1]/", .denied(.siteLocal)), ("http://[fc00::1]/", .denied(.uniqueLocal)),
        ("http://[fd12:3456::1]/", .denied(.uniqueLocal)), ("http://[ff02::1]/", .denied(.multicast)),
        ("http://[FF05::1:3]/", .denied(.multicast)),
        // Names: special-use names, and names whose addresses are denied (all of them are checked).
        ("http://localhost:8080/", .privateName), ("http://LOCALHOST/", .privateName), ("http://api.localhost/", .privateName),
        ("http://localhost./", .privateName), ("http://metadata.google.internal/", .privateName), ("http://printer.local/", .privateName),
        ("http://router.home.arpa/", .privateName), ("http://evil.test/", .denied(.loopback)), ("http://EVIL.test:9/", .denied(.loopback)),
        ("http://mixed.test/", .denied(.privateNetwork)), ("http://meta.test/", .denied(.linkLocal)),
        ("http://v6loop.test/", .denied(.loopback)), ("http://nat64.test/", .denied(.loopback)),
        ("http://mapped.test/", .denied(.privateNetwork)), ("http://ula.test/", .denied(.uniqueLocal)),
        // Zone ids, hosts that are neither a name nor an address, other schemes, credentials.
        ("http://[fe80::1%25eth0]/", .zone), ("http://[::1%251]/", .zone), ("http://1.2.3.4.5/", .invalidHost),
        ("http://08.1.2.3/", .invalidHost), ("http://0x1g.1/", .invalidHost), ("http://4294967296/", .invalidHost),
        ("http://256.1.1.1/", .invalidHost), ("http://exa%6dple.com/", .invalidHost), ("http://[1:2:3:4:5:6:7:8:9]/", .invalidHost),
        ("http://[::ffff:127.1]/", .invalidHost), ("http://under_score..test/", .invalidHost), ("ftp://example.com/", .notHTTP),
        ("file:///etc/passwd", .notHTTP), ("gopher://127.0.0.1/", .notHTTP), ("example.com/hook", .notHTTP), ("", .notHTTP),
        ("https:///path", .notHTTP), ("https://user:pw@example.com/", .credentials), ("https://user@example.com/", .credentials),
        // Public addresses written in other notations: refused, to be written plainly.
        ("http://0x08080808/", .nonstandard), ("http://134744072/", .nonstandard), ("http://8.8.2056/", .nonstandard),
        ("http://010.8.8.8/", .nonstandard), ("http://8.8.8.8./", .nonstandard), ("http://8.0x8.8.8/", .nonstandard),
        // Public neighbours of every denied range: allowed.
        ("https://8.8.8.8/", .allowed), ("https://1.1.1.1/hook", .allowed), ("http://93.184.216.34/hook", .allowed),
        ("http://1.0.0.0/", .allowed), ("http://9.255.255.255/", .allowed), ("http://11.0.0.1/", .allowed),
        ("http://100.63.255.255/", .allowed), ("http://100.128.0.1/", .allowed), ("http://126.255.255.255/", .allowed),
        ("http://128.0.0.1/", .allowed), ("http://169.253.255.255/", .allowed), ("http://169.255.0.1/", .allowed),
        ("http://172.15.255.255/", .allowed), ("http://172.32.0.1/", .allowed), ("http://192.0.1.1/", .allowed),
        ("http://192.0.3.1/", .allowed), ("http://192.167.255.255/", .allowed), ("http://192.169.0.1/", .allowed),
        ("http://198.17.255.255/", .allowed), ("http://198.20.0.1/", .allowed), ("http://198.51.99.1/", .allowed),
        ("http://203.0.114.1/", .allowed), ("http://223.255.255.254/", .allowed), ("https://[2606:4700::1111]/", .allowed),
        ("https://[2001:4860:4860::8888]:8443/", .allowed), ("http://[64:ff9c::1]/", .allowed), ("http://[64:ff9b::808:808]/", .allowed),
        ("http://[64:ff9b::8.8.8.8]/", .allowed), ("http://[::ffff:8.8.8.8]/", .allowed), ("http://[2002:808:808::1]/", .allowed),
        ("http://[2001:200::1]/", .allowed), ("http://[2001:db9::1]/", .allowed), ("http://[fbff::1]/", .allowed),
        ("http://[fe00::1]/", .allowed), ("https://public.test/hook", .allowed), ("https://dual.test/hook", .allowed),
        ("https://Public.Test:8443/a?b=c", .allowed), ("https://not-yet-there.test/", .allowed),
        ("https://localhost.example.com/", .allowed), ("https://local.example.com/", .allowed), ("https://0x.example.com/", .allowed),
        ("https://app.example.com./hooks", .allowed), ("https://xn--bcher-kva.example/", .allowed),
    ]

    @Test("the URL table: every address form a resolver or HTTP client accepts is judged by the address it stands for")
    func table() async {
        #expect(Self.table.count >= 60)
        let strict = OutboundPolicy(allowPrivate: false, resolver: Self.resolver)
        for (url, expected) in Self.table {
            let verdict = Verdict(await strict.refusal(creating: url))
            #expect(verdict == expected, "\(url): \(verdict), expected \(expected)")
        }
    }

    /// Loopback and private addresses the table writes in other notations: allowed addresses, still to be written plainly.
    static let otherNotations: Set<String> = [
        "http://127.1/", "http://127.0.1/", "http://0x7f.1/", "http://0x7f000001/", "http://0X7F.0.0.1/", "http://2130706433/",
        "http://017700000001/", "http://0177.0.0.1/", "http://127.0.0.1./", "http://012.0.0.1/", "http://3232235777/",
    ]

    @Test("the operator's allowance lets loopback, private, unique-local and CGNAT through, and nothing else")
    func allowance() async {
        let allowing = OutboundPolicy(allowPrivate: true, resolver: Self.resolver)
        for (url, strict) in Self.table {
            let verdict = Verdict(await allowing.refusal(creating: url))
            let expected: Verdict
            switch strict {
            case .denied(let use) where use.operatorMayAllow: expected = Self.otherNotations.contains(url) ? .nonstandard : .allowed
            case .privateName: expected = .allowed
            default: expected = strict
            }
            #expect(verdict == expected, "\(url): \(verdict), expected \(expected)")
        }
    }

    @Test("a refusal names the host, the address it stands for and the range, and whether the operator could allow it")
    func wording() async {
        let strict = OutboundPolicy(allowPrivate: false, resolver: Self.resolver)
        let hex = await strict.refusal(creating: "http://0x7f.1/hook")
        #expect(hex?.sentence(subject: "'url'") == "'url' points at '0x7f.1', that is 127.0.0.1 (a loopback address), which this server does not connect to.")
        #expect(hex?.operatorMayAllow == true)
        let nat64 = await strict.refusal(creating: "http://[64:ff9b::7f00:1]/")
        #expect(nat64?.sentence(subject: "'url'").contains("64:ff9b::7f00:1 (NAT64 127.0.0.1, a loopback address)") == true, "\(String(describing: nat64))")
        let name = await strict.refusal(creating: "https://evil.test/")
        #expect(name?.sentence(subject: "'url'") == "'url' names 'evil.test', which resolves to 127.0.0.1 (a loopback address), which this server does not connect to.")
        let metadata = await strict.refusal(creating: "http://169.254.169.254/")
        #expect(metadata?.operatorMayAllow == false)
        #expect(await strict.refusal(creating: "http://134744072/")?.sentence(subject: "'url'").contains("standard notation (8.8.8.8)") == true)
    }
}
