import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import RosterAuth
import RosterServer
import RosterTestSupport
import SCIM
import Synchronization
import Testing

extension ServerSuite {
    /// Issue #14: a trusted issuer reaches only the directories it names, only its access tokens count, and a
    /// JWKS outage tells the client nothing about the upstream.
    @Suite("OIDC trust boundaries: directory tenants, token type, JWKS errors")
    struct OIDCTrustBoundaryTests {
        static let issuer = "https://login.example.test/bound/v2.0"

        static func claims(_ extra: [String: JSONValue] = [:]) -> [String: JSONValue] {
            let now = Date()
            var claims: [String: JSONValue] = [
                "iss": .string(issuer), "aud": "api://roster", "sub": "00u-ada", "email": "ada@example.com",
                "iat": TestJWT.seconds(now), "nbf": TestJWT.seconds(now), "exp": TestJWT.seconds(now.addingTimeInterval(600)),
            ]
            claims.merge(extra) { _, new in new }
            return claims
        }

        /// Issuers as ROSTER_OIDC_ISSUERS spells them: `members` is each one's JSON after issuer, audience and jwksURL.
        static func issuers(_ url: URL, _ members: [(issuer: String, json: String)]) throws -> [TrustedIssuer] {
            let objects = members.map { member in
                #"{"issuer":"\#(member.issuer)","audience":"api://roster","jwksURL":"\#(url.absoluteString)"\#(member.json.isEmpty ? "" : ",")\#(member.json)}"#
            }
            return try JSONDecoder().decode([TrustedIssuer].self, from: Data("[\(objects.joined(separator: ","))]".utf8))
        }

        /// Whether the token may list tenant-b's SCIM tokens (scope `scim-tokens` on tenant-b).
        static func reachesTenantB(_ roster: Roster, _ token: String) async throws -> Bool {
            let reply = try await roster.admin(.get, "/tenants/tenant-b/scim/tokens", bearer: token)
            #expect([.ok, .forbidden, .notFound].contains(reply.status), "\(reply.status): \(reply.body)")
            return reply.status == .ok
        }

        @Test(
            "an issuer's token gets directory roles only from the tenants it names: a same-named user elsewhere gives nothing",
            arguments: [
                // No directory tenants: only role mappings, whatever the directory holds.
                ("", false),
                (#""userClaim":"email","userAttribute":"userName""#, false),
                // Bound to the default tenant: tenant-b's user (and its group's grant) are out of reach, by any claim.
                (#""directoryTenants":["default"]"#, false),
                (#""directoryTenants":["default"],"userClaim":"email","userAttribute":"userName""#, false),
                (#""directoryTenants":["default"],"userClaim":"email","userAttribute":"emails""#, false),
                // A tenant that does not exist matches nothing.
                (#""directoryTenants":["no-such-tenant"],"userClaim":"email","userAttribute":"userName""#, false),
                // Bound to tenant-b: the default match (sub against externalId), or an explicit one, reaches its user.
                (#""directoryTenants":["tenant-b"]"#, true),
                (#""directoryTenants":["default","tenant-b"],"userClaim":"email","userAttribute":"userName""#, true),
                // Bound to tenant-b, but on an attribute the token's claim does not hold there.
                (#""directoryTenants":["tenant-b"],"userClaim":"email""#, false),
            ])
        func directoryTenants(members: String, granted: Bool) async throws {
            let key = TestIssuerKey.es256()
            try await JWKSServer.run(publishing: [key]) { _, url in
                try await Roster.run(configure: { configuration in
                    configuration.identity.allowInsecureLoopbackJWKS = true
                    configuration.identity.trustedIssuers = try! Self.issuers(url, [(Self.issuer, members)])
                }) { roster in
                    // The same person in both tenants; only tenant-b's group holds a role.
                    _ = try await roster.createUser("ada@example.com", extra: #","externalId":"00u-ada","emails":[{"value":"ada@example.com"}]"#)
                    let (_, tokenB) = try await roster.otherTenant("tenant-b")
                    let created = try await roster.scim(
                        .post, "/Users", token: tokenB,
                        body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com","externalId":"00u-ada"}"#)
                    let adaB = try #require(created.json["id"]?.stringValue, "\(created.body)")
                    let group = try await roster.scim(
                        .post, "/Groups", token: tokenB,
                        body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"B Admins","members":[{"value":"\#(adaB)"}]}"#)
                    #expect(group.status == .created, "\(group.body)")
                    let grant = try await roster.admin(.post, "/admin/roles/admin/grants", body: #"{"group":{"tenant":"tenant-b","group":"B Admins"},"tenant":"tenant-b"}"#)
                    #expect(grant.status == .created, "\(grant.body)")

                    #expect(try await Self.reachesTenantB(roster, key.token(Self.claims())) == granted, "\(members)")
                }
            }
        }

        @Test("a directory tenant named by id works like its name, and a change at run time applies at once")
        func directoryTenantByID() async throws {
            let key = TestIssuerKey.es256()
            try await JWKSServer.run(publishing: [key]) { _, url in
                try await Roster.run(configure: { $0.identity.allowInsecureLoopbackJWKS = true }) { roster in
                    let (tenantB, tokenB) = try await roster.otherTenant("tenant-b")
                    let created = try await roster.scim(
                        .post, "/Users", token: tokenB,
                        body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada","externalId":"00u-ada"}"#)
                    let ada = try #require(created.json["id"]?.stringValue)
                    _ = try await roster.scim(
                        .post, "/Groups", token: tokenB,
                        body: #"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"B Admins","members":[{"value":"\#(ada)"}]}"#)
                    _ = try await roster.admin(.post, "/admin/roles/admin/grants", body: #"{"group":{"tenant":"tenant-b","group":"B Admins"},"tenant":"tenant-b"}"#)
                    let token = key.token(Self.claims())
                    for (tenants, granted) in [("[]", false), (#"["\#(tenantB.uppercased())"]"#, true), (#"["default"]"#, false)] {
                        let body = #"{"trusted_issuers":[{"issuer":"\#(Self.issuer)","audience":"api://roster","jwksURL":"\#(url.absoluteString)","directoryTenants":\#(tenants)}]}"#
                        let put = try await roster.send(
                            .put, "/api/v1/config/trusted-issuers",
                            headers: [.init("X-Admin-API-Key")!: roster.adminKey, .contentType: "application/json", .ifMatch: "*"], body: body)
                        #expect(put.status == .ok, "\(put.body)")
                        #expect(try await Self.reachesTenantB(roster, token) == granted, "\(tenants)")
                    }
                }
            }
        }

        @Test("only access tokens are accepted: an ID token (typ JWT or none) is 401, unless the issuer allows untyped tokens")
        func tokenType() async throws {
            let key = TestIssuerKey.es256()
            let untyped = "https://login.example.test/untyped/v2.0"
            let mapping = #""rolesClaim":"groups","roleMappings":[{"claimValue":"roster-auditors","role":"auditor"}]"#
            try await JWKSServer.run(publishing: [key]) { _, url in
                try await Roster.run(configure: { configuration in
                    configuration.identity.allowInsecureLoopbackJWKS = true
                    configuration.identity.trustedIssuers = try! Self.issuers(
                        url, [(Self.issuer, mapping), (untyped, mapping + #","allowUntypedAccessTokens":true"#)])
                }) { roster in
                    let cases: [(issuer: String, typ: JSONValue, accepted: Bool)] = [
                        (Self.issuer, "at+jwt", true), (Self.issuer, "application/at+jwt", true), (Self.issuer, "AT+JWT", true),
                        (Self.issuer, "JWT", false), (Self.issuer, .null, false), (Self.issuer, "jwt", false),
                        (Self.issuer, "logout+jwt", false), (Self.issuer, "dpop+jwt", false),
                        (untyped, "at+jwt", true), (untyped, "JWT", true), (untyped, .null, true),
                        (untyped, "logout+jwt", false), (untyped, "secevent+jwt", false),
                    ]
                    for (issuer, typ, accepted) in cases {
                        let token = key.token(Self.claims(["iss": .string(issuer), "groups": ["roster-auditors"]]), header: ["typ": typ])
                        let reply = try await roster.admin(.get, "/audit", bearer: token)
                        if accepted {
                            #expect(reply.status == .ok, "\(issuer) typ \(typ): \(reply.body)")
                        } else {
                            #expect(reply.status == .unauthorized, "\(issuer) typ \(typ): \(reply.body)")
                            #expect(reply.json["error"]?["message"]?.stringValue?.contains("not an access token") == true, "\(reply.body)")
                        }
                    }
                }
            }
        }

        @Test("a JWKS that cannot be fetched is a 401 saying only that; the upstream's address and answer go to the log, with the issuer")
        func jwksFailure() async throws {
            let key = TestIssuerKey.es256()
            try await JWKSServer.run(publishing: [key]) { server, url in
                await server.fail(with: .internalServerError)
                let postgres = try TestPostgres.require()
                let capture = LogCapture()
                var logger = Logger(label: "roster-test", factory: capture.handler)
                logger.logLevel = .debug
                var configuration = RosterConfiguration(databaseURL: try await postgres.freshDatabase(), databaseMaxConnections: 2)
                configuration.webhooksEnabled = false
                configuration.secrets = TestSecrets.atRest
                configuration.identity.allowInsecureLoopbackJWKS = true
                configuration.identity.trustedIssuers = try Self.issuers(url, [(Self.issuer, "")])
                let token = key.token(Self.claims())
                let app = try buildApplication(configuration, logger: logger)
                try await testApplication(app, .router) { client in
                    try await client.execute(uri: "/api/v1/audit", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                        #expect(response.status == .unauthorized)
                        let body = String(buffer: response.body)
                        #expect(body.contains("The issuer's signing keys could not be fetched"), "\(body)")
                        for leak in ["127.0.0.1", ":\(url.port ?? 0)", "500", "HTTP", "jwks.json", "http:"] {
                            #expect(!body.contains(leak), "the 401 body shows '\(leak)': \(body)")
                        }
                    }
                }
                let records = capture.records.withLock { $0 }
                let logged = try #require(records.first { $0.message.contains("signing keys could not be fetched") }, "nothing logged")
                #expect(logged.metadata["issuer"] == Self.issuer)
                #expect(logged.metadata["reason"]?.contains("HTTP 500") == true, "\(logged.metadata)")
                #expect(!records.contains { $0.message.contains(token) || $0.metadata.values.contains { $0.contains(token) } }, "a token was logged")
            }
        }
    }
}
