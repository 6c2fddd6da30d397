import Crypto
import Foundation
import HTTPTypes
import RosterAuth
import RosterServer
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Admin API with a trusted OIDC issuer's access tokens")
    struct OIDCAccessTests {
        static let issuer = "https://login.example.test/tenant-a/v2.0"

        func claims(_ extra: [String: JSONValue] = [:]) -> [String: JSONValue] {
            let now = Date()
            var claims: [String: JSONValue] = [
                "iss": .string(Self.issuer), "aud": "api://roster", "sub": "00u-ada", "email": "ada@example.com",
                "iat": TestJWT.seconds(now), "nbf": TestJWT.seconds(now), "exp": TestJWT.seconds(now.addingTimeInterval(600)),
            ]
            claims.merge(extra) { _, new in new }
            return claims
        }

        /// A Roster trusting one issuer whose JWKS is served on loopback, mapping its "groups" claim value "roster-auditors" to
        /// `auditor`, and matching its `sub` to the externalId of the default tenant's users.
        func run(_ body: @escaping @Sendable (Roster, TestIssuerKey) async throws -> Void) async throws {
            let key = TestIssuerKey.es256()
            try await JWKSServer.run(publishing: [key]) { _, url in
                try await Roster.run(configure: { configuration in
                    configuration.identity.allowInsecureLoopbackJWKS = true
                    configuration.identity.trustedIssuers = [
                        TrustedIssuer(
                            issuer: Self.issuer, audience: "api://roster", jwksURL: url, rolesClaim: "groups",
                            roleMappings: [RoleMapping(claimValue: "roster-auditors", role: "auditor")],
                            directoryTenants: [TenantReference("default")])
                    ]
                }) { roster in try await body(roster, key) }
            }
        }

        @Test("a valid token gets the roles its claim maps to; the audit log names the OIDC subject")
        func mappedRoles() async throws {
            try await run { roster, key in
                let token = key.token(claims(["groups": ["roster-auditors"]]))
                #expect(try await roster.admin(.get, "/audit", bearer: token).status == .ok)
                try await roster.admin(.get, "/tenants", bearer: token).expectAdminError(.forbidden)
                let none = key.token(claims(["groups": ["someone-else"]]))
                try await roster.admin(.get, "/audit", bearer: none).expectAdminError(.forbidden)
            }
        }

        @Test("roles come also from the SCIM groups of the directory tenant's user whose externalId is the token's sub")
        func directoryRoles() async throws {
            try await run { roster, key in
                let ada = try await roster.createUser("ada@example.com", extra: #","externalId":"00u-ada""#)
                _ = try await roster.createGroup("Roster Admins", members: [ada])
                // The operator's directory: its groups may hold roles on every tenant.
                _ = try await roster.admin(.patch, "/tenants/default", body: #"{"operator_directory":true}"#)
                _ = try await roster.admin(.post, "/admin/roles/admin/grants", body: #"{"group":{"tenant":"default","group":"Roster Admins"}}"#)
                let token = key.token(claims())
                #expect(try await roster.admin(.get, "/tenants", bearer: token).status == .ok)
                let created = try await roster.admin(.post, "/tenants", bearer: token, body: #"{"name":"oidc-made"}"#)
                #expect(created.status == .created)
                let audit = try await roster.admin(.get, "/audit?action=tenant.created")
                let entry = try #require(audit.json["data"]?.arrayValue?.last)
                #expect(entry["actor"]?["type"] == "oidc")
                #expect(entry["actor"]?["subject"] == .string(Self.issuer + " 00u-ada"))
            }
        }

        @Test("tampered, foreign, expired, early and wrongly addressed tokens are 401 with a reason")
        func rejected() async throws {
            try await run { roster, key in
                let good = key.token(claims(["groups": ["roster-auditors"]]))
                let cases: [(String, String)] = [
                    (TestJWT.flippingSignatureBit(good), "signature"),
                    (TestJWT.unsigned(good, header: ["alg": "none"]), "algorithm"),
                    (key.token(claims(["groups": ["roster-auditors"]]), header: ["kid": "unknown-kid"]), "key"),
                    (key.token(claims(["iss": "https://evil.example.test"])), "issuer"),
                    (key.token(claims(["exp": TestJWT.seconds(Date().addingTimeInterval(-600))])), "expired"),
                    (key.token(claims(["nbf": TestJWT.seconds(Date().addingTimeInterval(600))])), "not valid yet"),
                    (key.token(claims(["aud": "api://someone-else"])), "audience"),
                    (TestJWT.encode(header: ["alg": "HS256", "kid": .string(key.kid)], claims: claims()) { input in
                        Data(HMAC<SHA256>.authenticationCode(for: input, using: SymmetricKey(data: Data(key.publicKeyPEM.utf8))))
                    }, "algorithm"),
                ]
                for (token, reason) in cases {
                    let reply = try await roster.admin(.get, "/audit", bearer: token)
                    reply.expectAdminError(.unauthorized)
                    #expect(reply.json["error"]?["message"]?.stringValue?.contains(reason) == true, "\(reason): \(reply.body)")
                }
            }
        }
    }
}
