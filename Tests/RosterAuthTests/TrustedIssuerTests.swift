import Foundation
@testable import RosterAuth
import Testing

@Suite("Trusted issuer configuration")
struct TrustedIssuerTests {
    static let jwks = URL(string: "https://login.example.com/.well-known/jwks.json")!

    @Test("only issuer, audience and jwksURL are required; the rest default (RS256, ES256, EdDSA; no directory tenants; sub matched to externalId; at+jwt only)")
    func defaults() throws {
        let json = #"{"issuer": "https://login.example.com", "audience": "roster", "jwksURL": "https://login.example.com/.well-known/jwks.json"}"#
        let issuer = try JSONDecoder().decode(TrustedIssuer.self, from: Data(json.utf8))
        #expect(issuer.algorithms == [.rs256, .es256, .eddsa])
        #expect(issuer.directoryTenants.isEmpty)
        #expect(issuer.userClaim == "sub")
        #expect(issuer.userAttribute == .externalId)
        #expect(issuer.allowUntypedAccessTokens == false)
        #expect(issuer.rolesClaim == nil)
        #expect(issuer.roleMappings.isEmpty)
        #expect(issuer.validate().isEmpty)
        #expect(try JSONDecoder().decode(TrustedIssuer.self, from: JSONEncoder().encode(issuer)) == issuer)
    }

    @Test("none and every HS* algorithm are refused with a reason, whatever is configured")
    func refusedAlgorithms() {
        let issuer = TrustedIssuer(issuer: "https://idp", audience: "roster", jwksURL: Self.jwks, algorithms: ["none", "HS256", "HS512", "ES256"])
        let problems = issuer.validate()
        #expect(problems.count == 3)
        #expect(problems.contains { $0.contains("'none' is never accepted") })
        #expect(problems.contains { $0.contains("'HS256' is never accepted") && $0.contains("symmetric") })
        #expect(throws: OIDCConfigurationError.self) { try OIDCVerifier(issuers: [issuer]) }
        // Verification never uses them even if validation were skipped.
        #expect(issuer.acceptedAlgorithms == [.es256])
    }

    @Test("an unsupported algorithm, empty fields, mappings without a roles claim and a duplicate issuer are each reported")
    func otherProblems() {
        let issuer = TrustedIssuer(
            issuer: "", audience: " ", jwksURL: URL(string: "https://user:pw@idp/keys")!, algorithms: ["XS1"],
            roleMappings: [RoleMapping(claimValue: "", role: "")], userClaim: "")
        let problems = issuer.validate()
        for fragment in ["'issuer'", "'audience'", "credentials", "'XS1' is not a supported", "need a 'rolesClaim'", "claimValue", "].role", "'userClaim'"] {
            #expect(problems.contains { $0.contains(fragment) }, "missing: \(fragment)")
        }
        let good = TrustedIssuer(issuer: "https://idp", audience: "roster", jwksURL: Self.jwks)
        #expect(throws: OIDCConfigurationError(problems: ["Issuer 'https://idp' is configured twice."])) {
            try OIDCVerifier(issuers: [good, good])
        }
    }

    @Test("a tenant in a role mapping is an id when it is a UUID, else a name")
    func tenantReference() throws {
        let json = #"[{"claimValue": "a", "role": "admin", "tenant": "acme"}, {"claimValue": "b", "role": "admin", "tenant": "9B2F3C1E-1111-4C1A-9F5E-0A2B3C4D5E6F"}]"#
        let mappings = try JSONDecoder().decode([RoleMapping].self, from: Data(json.utf8))
        #expect(mappings[0].tenant == .name("acme"))
        #expect(mappings[1].tenant == .id(UUID(uuidString: "9b2f3c1e-1111-4c1a-9f5e-0a2b3c4d5e6f")!))
    }

    @Test("directory tenants are read by name or id, and an empty one is reported")
    func directoryTenants() throws {
        let json = #"""
            {"issuer": "https://idp", "audience": "roster", "jwksURL": "https://idp/keys", "allowUntypedAccessTokens": true,
             "directoryTenants": ["acme", "9B2F3C1E-1111-4C1A-9F5E-0A2B3C4D5E6F"], "userClaim": "oid"}
            """#
        let issuer = try JSONDecoder().decode(TrustedIssuer.self, from: Data(json.utf8))
        #expect(issuer.directoryTenants == [.name("acme"), .id(UUID(uuidString: "9b2f3c1e-1111-4c1a-9f5e-0a2b3c4d5e6f")!)])
        #expect(issuer.userClaim == "oid")
        #expect(issuer.allowUntypedAccessTokens)
        #expect(issuer.validate().isEmpty)
        let empty = TrustedIssuer(issuer: "https://idp", audience: "roster", jwksURL: Self.jwks, directoryTenants: [TenantReference("")])
        #expect(empty.validate().contains { $0.contains("'directoryTenants[0]'") })
    }
}
