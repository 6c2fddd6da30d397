import Foundation
import HTTPTypes
import PostgresNIO
import RosterAuth
import RosterServer
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Keys an OIDC subject makes act within that subject's latest verified rights, and only while they are recent")
    struct OIDCOwnedKeyTests {
        static let issuer = "https://login.example.test/tenant-a/v2.0"
        static let subject = issuer + " 00u-ada"

        static func token(_ key: TestIssuerKey, groups: [String]) -> String {
            let now = Date()
            return key.token([
                "iss": .string(issuer), "aud": "api://roster", "sub": "00u-ada", "email": "ada@example.com",
                "iat": TestJWT.seconds(now), "nbf": TestJWT.seconds(now), "exp": TestJWT.seconds(now.addingTimeInterval(600)),
                "groups": .array(groups.map(JSONValue.string)),
            ])
        }

        /// A Roster trusting one issuer whose "groups" claim values "roster-admins" and "roster-viewers" map to `admin` and `viewer`.
        func run(_ body: @escaping @Sendable (Roster, TestIssuerKey) async throws -> Void) async throws {
            let key = TestIssuerKey.es256()
            try await JWKSServer.run(publishing: [key]) { _, url in
                try await Roster.run(configure: { configuration in
                    configuration.identity.allowInsecureLoopbackJWKS = true
                    configuration.identity.trustedIssuers = [
                        TrustedIssuer(
                            issuer: Self.issuer, audience: "api://roster", jwksURL: url, rolesClaim: "groups",
                            roleMappings: [
                                RoleMapping(claimValue: "roster-admins", role: "admin"), RoleMapping(claimValue: "roster-viewers", role: "viewer"),
                            ])
                    ]
                }) { roster in try await body(roster, key) }
            }
        }

        struct Change: Sendable, CustomTestStringConvertible {
            var testDescription: String
            var apply: @Sendable (Roster, TestIssuerKey) async throws -> Void
            /// What the subject's keys then answer on GET /tenants.
            var status: HTTPResponse.Status
        }

        static let changes: [Change] = [
            Change(testDescription: "the subject's next token no longer maps to a role", apply: { roster, key in
                try await roster.admin(.get, "/tenants", bearer: token(key, groups: [])).expectAdminError(.forbidden)
            }, status: .forbidden),
            Change(testDescription: "the subject's next token maps to a lesser role", apply: { roster, key in
                try await roster.admin(.get, "/tenants", bearer: token(key, groups: ["roster-viewers"])).expectAdminError(.forbidden)
            }, status: .forbidden),
            Change(testDescription: "no token of the subject's has been seen within the bound", apply: { roster, _ in
                try await roster.sql("UPDATE admin_oidc_rights SET valid_until = now() - interval '1 second' WHERE subject = \(subject)")
            }, status: .unauthorized),
        ]

        @Test("an OIDC subject's key, and keys that key makes, follow the subject's latest rights and stop once they are stale", arguments: changes)
        func subjectOwnedKeys(_ change: Change) async throws {
            try await run { roster, key in
                let access = Self.token(key, groups: ["roster-admins"])
                let made = try await roster.createKey(#"{"name":"oidc ci","scopes":["tenants","admin-keys"]}"#, bearer: access)
                let record = try await roster.admin(.get, "/admin-keys/\(made.id)")
                #expect(record.json["owner_subject"] == .string(Self.subject), "\(record.body)")
                let grandchild = try await roster.createKey(#"{"name":"made by the key","scopes":["tenants"]}"#, key: made.key)
                for credential in [made.key, grandchild.key] {
                    #expect(try await roster.admin(.get, "/tenants", key: credential).status == .ok)
                }
                try await change.apply(roster, key)
                for credential in [made.key, grandchild.key] {
                    let reply = try await roster.admin(.get, "/tenants", key: credential)
                    reply.expectAdminError(change.status)
                }
            }
        }
    }
}
