import RosterTestSupport
import Crypto
import Foundation
import RosterAuth
import SCIM
import Testing

@Suite("Access tokens from trusted OIDC issuers")
struct OIDCVerifierTests {
    static let issuer = "https://login.example.com/tenant-1/v2.0"
    static let audience = "api://roster"

    /// The issuer under test, its JWKS on the loopback server (allowed by `allowInsecureLoopback`, as in `roster dev`).
    static func trusted(_ jwks: URL, _ changes: (inout TrustedIssuer) -> Void = { _ in }) -> TrustedIssuer {
        var issuer = TrustedIssuer(
            issuer: Self.issuer, audience: Self.audience, jwksURL: jwks, rolesClaim: "groups",
            roleMappings: [
                RoleMapping(claimValue: "roster-admins", role: "admin"),
                RoleMapping(claimValue: "acme-helpdesk", role: "helpdesk", tenant: TenantReference("acme")),
                RoleMapping(claimValue: "roster-admins", role: "auditor", tenant: TenantReference("9b2f3c1e-1111-4c1a-9f5e-0a2b3c4d5e6f")),
            ])
        changes(&issuer)
        return issuer
    }

    static func verifier(_ issuers: [TrustedIssuer], refetchInterval: Duration = OIDCVerifier.defaultRefetchInterval) throws -> OIDCVerifier {
        try OIDCVerifier(issuers: issuers, allowInsecureLoopback: true, refetchInterval: refetchInterval)
    }

    /// Claims of a good token, valid for ten minutes from now.
    static func claims(_ changes: [String: JSONValue] = [:]) -> [String: JSONValue] {
        let now = Date()
        var claims: [String: JSONValue] = [
            "iss": .string(issuer), "aud": .string(audience), "sub": "00u1abcd", "email": "ada@example.com",
            "groups": ["roster-admins", "acme-helpdesk", "unmapped-group"],
            "iat": TestJWT.seconds(now), "nbf": TestJWT.seconds(now), "exp": TestJWT.seconds(now + 600),
        ]
        claims.merge(changes) { _, new in new }
        return claims
    }

    static func refusal(_ verifier: OIDCVerifier, _ token: String) async -> TokenError? {
        do {
            _ = try await verifier.verify(token)
            return nil
        } catch {
            return error as? TokenError
        }
    }

    @Test("a valid ES256 token is accepted, with the user claim and every matching role mapping applied")
    func es256() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let expires = Date(timeIntervalSince1970: (Date() + 600).timeIntervalSince1970.rounded(.down))
            let verified = try await Self.verifier([Self.trusted(jwks)]).verify(key.token(Self.claims(["exp": TestJWT.seconds(expires)])))
            #expect(verified.issuer == Self.issuer)
            #expect(verified.subject == "00u1abcd")
            #expect(verified.user == UserMatch(attribute: .userName, value: "ada@example.com"))
            #expect(verified.roleGrants == [
                RoleGrant(role: "admin"), RoleGrant(role: "helpdesk", tenant: .name("acme")),
                RoleGrant(role: "auditor", tenant: .id(UUID(uuidString: "9b2f3c1e-1111-4c1a-9f5e-0a2b3c4d5e6f")!)),
            ])
            #expect(verified.expires == expires)
        }
    }

    @Test("a valid EdDSA token is accepted; a dotted roles claim (Keycloak realm_access.roles) and another user claim apply")
    func eddsa() async throws {
        let key = TestIssuerKey.ed25519()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let issuer = Self.trusted(jwks) {
                $0.rolesClaim = "realm_access.roles"
                $0.userClaim = "preferred_username"
                $0.userAttribute = .externalId
            }
            let token = key.token(Self.claims(["realm_access": ["roles": ["roster-admins"]], "preferred_username": "ada", "groups": nil]))
            let verified = try await Self.verifier([issuer]).verify(token)
            #expect(verified.user == UserMatch(attribute: .externalId, value: "ada"))
            #expect(verified.roleGrants.map(\.role) == ["admin", "auditor"])
        }
    }

    @Test("alg none is refused, even with the issuer's kid")
    func algNone() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let verifier = try Self.verifier([Self.trusted(jwks)])
            let token = TestJWT.unsigned(key.token(Self.claims()), header: ["alg": "none"])
            #expect(await Self.refusal(verifier, token) == .disallowedAlgorithm("none"))
        }
    }

    @Test("a token with one flipped signature bit is refused")
    func flippedSignature() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let verifier = try Self.verifier([Self.trusted(jwks)])
            let token = key.token(Self.claims())
            _ = try await verifier.verify(token)
            #expect(await Self.refusal(verifier, TestJWT.flippingSignatureBit(token)) == .badSignature)
        }
    }

    @Test("HS256 signed with the issuer's public key as the HMAC secret is refused (algorithm confusion)")
    func hmacWithPublicKey() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let verifier = try Self.verifier([Self.trusted(jwks)])
            let secret = SymmetricKey(data: Data(key.publicKeyPEM.utf8))
            let forged = TestJWT.encode(header: ["alg": "HS256", "kid": .string(key.kid), "typ": "JWT"], claims: Self.claims()) {
                Data(HMAC<SHA256>.authenticationCode(for: $0, using: secret))
            }
            #expect(await Self.refusal(verifier, forged) == .disallowedAlgorithm("HS256"))
        }
    }

    @Test("an unknown kid refetches the JWKS once, and again only after the refetch interval")
    func unknownKeyIsRateLimited() async throws {
        let key = TestIssuerKey.es256()
        let stranger = TestIssuerKey.es256(kid: "not-published")
        try await JWKSServer.run(publishing: [key]) { server, jwks in
            let verifier = try Self.verifier([Self.trusted(jwks)], refetchInterval: .seconds(2))
            _ = try await verifier.verify(key.token(Self.claims()))
            #expect(await server.fetches == 1)
            #expect(await Self.refusal(verifier, stranger.token(Self.claims())) == .unknownKey)
            #expect(await server.fetches == 2)
            #expect(await Self.refusal(verifier, stranger.token(Self.claims())) == .unknownKey)
            #expect(await server.fetches == 2, "a second unknown kid within the interval must not fetch again")
            try await Task.sleep(for: .milliseconds(2100))
            #expect(await Self.refusal(verifier, stranger.token(Self.claims())) == .unknownKey)
            #expect(await server.fetches == 3)
        }
    }

    @Test("a key the issuer rotates in is found by refetching the JWKS")
    func rotatedIssuerKey() async throws {
        let old = TestIssuerKey.es256()
        let new = TestIssuerKey.ed25519()
        try await JWKSServer.run(publishing: [old]) { server, jwks in
            let verifier = try Self.verifier([Self.trusted(jwks)])
            _ = try await verifier.verify(old.token(Self.claims()))
            await server.publish([old, new])
            _ = try await verifier.verify(new.token(Self.claims()))
            #expect(await server.fetches == 2)
        }
    }

    @Test("a token from an issuer that is not trusted is refused without fetching anything")
    func untrustedIssuer() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { server, jwks in
            let verifier = try Self.verifier([Self.trusted(jwks)])
            #expect(await Self.refusal(verifier, key.token(Self.claims(["iss": "https://evil.example.com"]))) == .unknownIssuer)
            #expect(await server.fetches == 0)
        }
    }

    @Test("an expired token is refused beyond the clock skew, and accepted within it")
    func expired() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let verifier = try Self.verifier([Self.trusted(jwks)])
            let past = Date() - TokenValidity.clockSkew - 30
            #expect(await Self.refusal(verifier, key.token(Self.claims(["exp": TestJWT.seconds(past)]))) == .expired)
            _ = try await verifier.verify(key.token(Self.claims(["exp": TestJWT.seconds(Date() - TokenValidity.clockSkew + 30)])))
        }
    }

    @Test("a token whose nbf is in the future (beyond the clock skew) is refused")
    func notYetValid() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let verifier = try Self.verifier([Self.trusted(jwks)])
            let future = Date() + TokenValidity.clockSkew + 120
            #expect(await Self.refusal(verifier, key.token(Self.claims(["nbf": TestJWT.seconds(future)]))) == .notYetValid)
        }
    }

    @Test("a token for another audience is refused; an audience array that names Roster is accepted")
    func audience() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let verifier = try Self.verifier([Self.trusted(jwks)])
            #expect(await Self.refusal(verifier, key.token(Self.claims(["aud": "api://someone-else"]))) == .wrongAudience)
            #expect(await Self.refusal(verifier, key.token(Self.claims(["aud": ["api://a", "api://b"]]))) == .wrongAudience)
            _ = try await verifier.verify(key.token(Self.claims(["aud": ["api://other", .string(Self.audience)]])))
        }
    }

    @Test("a token without the configured user claim is refused, naming the claim")
    func missingUserClaim() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let verifier = try Self.verifier([Self.trusted(jwks)])
            #expect(await Self.refusal(verifier, key.token(Self.claims(["email": nil]))) == .missingClaim("email"))
        }
    }

    @Test("a JWKS endpoint that fails makes verification fail as unavailable, and is not asked again within the interval")
    func jwksUnavailable() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { server, jwks in
            await server.fail(with: .internalServerError)
            let verifier = try Self.verifier([Self.trusted(jwks)])
            guard case .jwksUnavailable(let reason) = await Self.refusal(verifier, key.token(Self.claims())) else {
                Issue.record("expected jwksUnavailable")
                return
            }
            #expect(reason.contains("HTTP 500"))
            _ = await Self.refusal(verifier, key.token(Self.claims()))
            #expect(await server.fetches == 1)
        }
    }

    @Test("a JWKS URL over plain http is refused unless it is loopback and insecure loopback is allowed")
    func insecureJWKSURL() throws {
        let remote = Self.trusted(URL(string: "http://login.example.com/keys")!)
        #expect(remote.validate(allowInsecureLoopback: true).contains { $0.contains("https") })
        #expect(throws: OIDCConfigurationError.self) { try OIDCVerifier(issuers: [remote], allowInsecureLoopback: true) }
        let loopback = Self.trusted(URL(string: "http://127.0.0.1:18380/keys")!)
        #expect(throws: OIDCConfigurationError.self) { try OIDCVerifier(issuers: [loopback]) }
        #expect(loopback.validate(allowInsecureLoopback: true).isEmpty)
        #expect(Self.trusted(URL(string: "https://login.example.com/keys")!).validate().isEmpty)
    }
}
