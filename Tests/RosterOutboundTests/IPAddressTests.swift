import RosterOutbound
import Testing

@Suite("Outbound policy: addresses")
struct IPAddressTests {
    @Test("standard notation reads back as RFC 5952 text; other notations are not standard")
    func notation() {
        let cases: [(String, String?)] = [
            ("127.0.0.1", "127.0.0.1"), ("0:0:0:0:0:0:0:1", "::1"), ("::ffff:127.0.0.1", "::ffff:7f00:1"), ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2606:4700::1111", "2606:4700::1111"), ("::", "::"), ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"), ("fe80::", "fe80::"),
            ("127.1", nil), ("0x7f.0.0.1", nil), ("010.0.0.1", nil), ("1.2.3.256", nil), ("+1.2.3.4", nil), ("::ffff:1.2.3.04", nil),
            ("1::2::3", nil), ("12345::", nil), ("1:2:3:4:5:6:7:8:9", nil), ("g::", nil), ("", nil),
        ]
        for (text, expected) in cases {
            #expect(IPAddress(standard: text)?.description == expected, "\(text)")
        }
    }

    @Test("classification is by value: the IPv4 inside mapped, translated, NAT64 and 6to4 forms decides")
    func embedded() throws {
        let mapped = try #require(IPAddress(standard: "::ffff:10.1.2.3")).addressClass
        #expect(mapped.use == .privateNetwork && mapped.embedded?.form == "IPv4-mapped" && mapped.embedded?.address == IPAddress(standard: "10.1.2.3"))
        #expect(IPAddress(standard: "2002:0a01:0203::")?.addressClass.embedded?.address == IPAddress(standard: "10.1.2.3"))
        #expect(IPAddress(standard: "64:ff9b::0a01:0203")?.addressClass.use == .privateNetwork)
        #expect(IPAddress(standard: "64:ff9b::8.8.4.4")?.addressClass.use == .global)
        #expect(IPAddress(standard: "::8.8.4.4")?.addressClass.use == .ipv4Compatible)
        #expect(AddressUse.allCases.filter(\.operatorMayAllow) == [.loopback, .privateNetwork, .uniqueLocal, .sharedAddressSpace])
    }
}
