import HTTPTypes
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

    @Test("a valid ES256 token is accepted, with the user claim (sub → externalId by default) in the directory tenants and every matching role mapping applied")
    func es256() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let expires = Date(timeIntervalSince1970: (Date() + 600).timeIntervalSince1970.rounded(.down))
            let issuer = Self.trusted(jwks) { $0.directoryTenants = [TenantReference("acme")] }
            let verified = try await Self.verifier([issuer]).verify(key.token(Self.claims(["exp": TestJWT.seconds(expires)])))
            #expect(verified.issuer == Self.issuer)
            #expect(verified.subject == "00u1abcd")
            #expect(verified.user == UserMatch(attribute: .externalId, value: "00u1abcd", tenants: [.name("acme")]))
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
                $0.userAttribute = .userName
                $0.directoryTenants = [TenantReference("default")]
            }
            let token = key.token(Self.claims(["realm_access": ["roles": ["roster-admins"]], "preferred_username": "ada", "groups": nil]))
            let verified = try await Self.verifier([issuer]).verify(token)
            #expect(verified.user == UserMatch(attribute: .userName, value: "ada", tenants: [.name("default")]))
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

    @Test("a token without the configured user claim is refused, naming the claim, when the issuer matches a directory")
    func missingUserClaim() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let matching = Self.trusted(jwks) {
                $0.directoryTenants = [TenantReference("default")]
                $0.userClaim = "email"
            }
            let verifier = try Self.verifier([matching])
            #expect(await Self.refusal(verifier, key.token(Self.claims(["email": nil]))) == .missingClaim("email"))
        }
    }

    @Test("an issuer with no directory tenants matches no user: its tokens carry no user match, and need no user claim")
    func noDirectoryTenants() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let verifier = try Self.verifier([Self.trusted(jwks) { $0.userClaim = "email" }])
            let verified = try await verifier.verify(key.token(Self.claims(["email": nil])))
            #expect(verified.user == nil)
            #expect(verified.roleGrants.map(\.role) == ["admin", "helpdesk", "auditor"], "role mappings still apply")
        }
    }

    /// RFC 9068 §4 and RFC 7515 §4.1.9: `at+jwt`, with or without `application/`, in any case.
    static let accessTypes: [JSONValue] = ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"]
    /// ID tokens (`JWT`, none), other JWT profiles, near misses and non-strings.
    static let otherTypes: [JSONValue] = [
        "JWT", "jwt", "application/jwt", .null, "", "id+jwt", "dpop+jwt", "logout+jwt", "secevent+jwt", "at+jwt2", "at+jwt; x=1",
        "application/at+jwt+x", "text/at+jwt", " at+jwt ", "at+jwt\u{0}",
    ]

    @Test("only access tokens pass: typ at+jwt in any spelling RFC 9068 allows; an ID token (JWT or no typ) and every other typ are refused")
    func tokenType() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let verifier = try Self.verifier([Self.trusted(jwks)])
            for type in Self.accessTypes {
                #expect(await Self.refusal(verifier, key.token(Self.claims(), header: ["typ": type])) == nil, "\(type)")
            }
            for type in Self.otherTypes {
                guard case .notAnAccessToken = await Self.refusal(verifier, key.token(Self.claims(), header: ["typ": type])) else {
                    Issue.record("typ \(type) was not refused as not an access token")
                    continue
                }
            }
            #expect(await Self.refusal(verifier, key.token(Self.claims(), header: ["typ": 7])) == .malformed("the header's 'typ' is not a string."))
        }
    }

    @Test("an issuer allowing untyped access tokens accepts typ JWT or none as well, and still refuses every other typ")
    func untypedAllowance() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let verifier = try Self.verifier([Self.trusted(jwks) { $0.allowUntypedAccessTokens = true }])
            let untyped: [JSONValue] = ["JWT", "jwt", "application/jwt", .null]
            for type in Self.accessTypes + untyped {
                #expect(await Self.refusal(verifier, key.token(Self.claims(), header: ["typ": type])) == nil, "\(type)")
            }
            for type in Self.otherTypes where !untyped.contains(type) {
                guard case .notAnAccessToken = await Self.refusal(verifier, key.token(Self.claims(), header: ["typ": type])) else {
                    Issue.record("typ \(type) was not refused as not an access token")
                    continue
                }
            }
        }
    }

    @Test("the refusal names the typ only when it is printable, and says what is expected")
    func tokenTypeMessage() async throws {
        let key = TestIssuerKey.es256()
        try await JWKSServer.run(publishing: [key]) { _, jwks in
            let verifier = try Self.verifier([Self.trusted(jwks)])
            let cases: [(JSONValue, String)] = [("JWT", "'JWT'"), (.null, "absent"), ("<script>", "'unrecognised'"), (.string(String(repeating: "a", count: 41)), "'unrecognised'")]
            for (type, shown) in cases {
                let refusal = await Self.refusal(verifier, key.token(Self.claims(), header: ["typ": type]))
                #expect(refusal?.description.contains(shown) == true, "\(String(describing: refusal))")
                #expect(refusal?.description.contains("at+jwt") == true)
            }
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
            #expect(reason.contains("HTTP 500"), "the reason, for the log")
            let description = TokenError.jwksUnavailable(reason).description
            #expect(description == "The issuer's signing keys could not be fetched; try again later.", "what a response may say")
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
