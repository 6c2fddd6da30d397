import Foundation
import RosterAuth
import RosterOutbound
import RosterTestSupport
import Testing

/// A resolver with fixed answers, so a test decides what a JWKS host stands for.
struct FixedJWKSResolver: HostResolver {
    var answers: [String: [String]]

    func addresses(of host: String) async -> [IPAddress] {
        (answers[host.lowercased()] ?? []).compactMap { IPAddress(standard: $0) }
    }
}

@Suite("JWKS fetches under the outbound policy")
struct JWKSOutboundTests {
    static func unavailable(_ verifier: OIDCVerifier, _ key: TestIssuerKey) async -> String? {
        guard case .jwksUnavailable(let reason) = await OIDCVerifierTests.refusal(verifier, key.token(OIDCVerifierTests.claims())) else { return nil }
        return reason
    }

    @Test("an issuer whose JWKS URL redirects to loopback: the redirect is not followed, the key fetch fails, the target sees no request")
    func redirectNotFollowed() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { target, targetURL in
            try await JWKSServer.run(publishing: []) { issuer, issuerURL in
                await issuer.redirect(to: targetURL)
                let verifier = try OIDCVerifierTests.verifier([OIDCVerifierTests.trusted(issuerURL)])
                let reason = await Self.unavailable(verifier, key)
                #expect(reason?.contains("HTTP 302") == true && reason?.contains("not followed") == true, "\(reason ?? "accepted")")
                #expect(await issuer.fetches == 1)
                #expect(await target.fetches == 0, "the redirect's target was never asked")
            }
        }
    }

    @Test("a JWKS host that resolves to loopback is refused before connecting unless the operator allows loopback")
    func resolvedToLoopback() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { server, jwks in
            let resolver = FixedJWKSResolver(answers: ["keys.example.com": ["127.0.0.1"]])
            // https, as production requires: the name is public-looking, its address is not.
            let url = try #require(URL(string: "https://keys.example.com:\(jwks.port ?? 0)/jwks.json"))
            let verifier = try OIDCVerifier(issuers: [OIDCVerifierTests.trusted(url)], resolver: resolver)
            let reason = await Self.unavailable(verifier, key)
            #expect(reason?.contains("127.0.0.1 (a loopback address)") == true, "\(reason ?? "accepted")")
            #expect(await server.fetches == 0)
        }
    }

    @Test("a JWKS URL whose host is a denied address in any spelling fails validation, naming the address")
    func literalHostsRefused() throws {
        for text in ["https://0x7f.1/jwks", "https://[::ffff:127.0.0.1]/jwks", "https://169.254.169.254/jwks", "https://[64:ff9b::a9fe:a9fe]/jwks",
            "https://2130706433/jwks", "https://[0:0:0:0:0:0:0:1]/jwks"]
        {
            let url = try #require(URL(string: text))
            let problems = OIDCVerifierTests.trusted(url).validate()
            #expect(problems.contains { $0.hasPrefix("'jwksURL' ") }, "\(text): \(problems)")
        }
        #expect(OIDCVerifierTests.trusted(URL(string: "https://[2606:4700::1111]/jwks")!).validate().isEmpty)
    }
}
