import Crypto
import Foundation
import PostgresNIO
import RosterAuth
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension AuthSuite {
    @Suite("Roster's own admin access tokens")
    struct AccessTokenAuthorityTests {
        static let issuer = "https://roster.example.com"
        static let audience = "roster-admin"

        static func authority(
            _ database: RosterDatabase, issuer: String = issuer, audience: String = audience, shift: TimeInterval = 0
        ) -> AccessTokenAuthority {
            AccessTokenAuthority(keys: SigningKeyRepository(database: database), issuer: issuer, audience: audience, now: { Date() + shift })
        }

        static func refusal(_ authority: AccessTokenAuthority, _ token: String) async -> TokenError? {
            do {
                _ = try await authority.verify(token)
                return nil
            } catch {
                return error as? TokenError
            }
        }

        static func kid(of token: String) -> String? { TestJWT.header(of: token)["kid"]?.stringValue }

        @Test("an issued token verifies to the claims it was issued with; its header names EdDSA, at+jwt and the key")
        func roundTrip() async throws {
            try await withDatabase(url: try await TestPostgres.require().freshDatabase()) { database in
                let authority = Self.authority(database)
                let (token, claims) = try await authority.issue(subject: .user(UUID()), sessionID: UUID())
                #expect(try await authority.verify(token) == claims)
                #expect(claims.expires.timeIntervalSince(claims.issuedAt) == 3600)
                let header = TestJWT.header(of: token)
                #expect(header["alg"] == "EdDSA")
                #expect(header["typ"] == "at+jwt")
                #expect(header["kid"]?.stringValue?.isEmpty == false)
                #expect(UnverifiedJWT.issuer(of: token) == Self.issuer)
                #expect(UnverifiedJWT.issuer(of: "radm_not-a-jwt") == nil)
                let key = try await authority.issue(subject: .key(UUID()), sessionID: UUID())
                #expect(try await authority.verify(key.token).subject == key.claims.subject)
            }
        }

        @Test("a SET is typed secevent+jwt and refused as an access token; after a rotation SETs keep the previous key a reload interval")
        func securityEventTokens() async throws {
            try await withDatabase(url: try await TestPostgres.require().freshDatabase()) { database in
                let authority = Self.authority(database)
                let first = try await authority.signSecurityEvent(["jti": "e1", "events": ["urn:ietf:params:scim:event:prov:delete": [:]]])
                #expect(TestJWT.header(of: first)["typ"] == "secevent+jwt" && TestJWT.header(of: first)["alg"] == "EdDSA")
                #expect(UnverifiedJWT.issuer(of: first) == Self.issuer)
                #expect(await Self.refusal(authority, first) == .malformed("it is not a Roster access token (typ)."))
                let previous = Self.kid(of: first)
                try await authority.rotate()
                let current = Self.kid(of: try await authority.issue(subject: .user(UUID()), sessionID: UUID()).token)
                #expect(current != previous, "access tokens take the new key at once")
                #expect(Self.kid(of: try await authority.signSecurityEvent([:])) == previous, "a replica's JWKS may not show the new key yet")
                let minuteLater = Self.authority(database, shift: 61)
                #expect(Self.kid(of: try await minuteLater.signSecurityEvent([:])) == current)
            }
        }

        @Test("alg none is refused, even naming the current key")
        func algNone() async throws {
            try await withDatabase(url: try await TestPostgres.require().freshDatabase()) { database in
                let authority = Self.authority(database)
                let (token, _) = try await authority.issue(subject: .user(UUID()), sessionID: UUID())
                #expect(await Self.refusal(authority, TestJWT.unsigned(token, header: ["alg": "none"])) == .disallowedAlgorithm("none"))
            }
        }

        @Test("a token with one flipped signature bit is refused")
        func flippedSignature() async throws {
            try await withDatabase(url: try await TestPostgres.require().freshDatabase()) { database in
                let authority = Self.authority(database)
                let (token, _) = try await authority.issue(subject: .user(UUID()), sessionID: UUID())
                #expect(await Self.refusal(authority, TestJWT.flippingSignatureBit(token)) == .badSignature)
            }
        }

        @Test("a token signed by a key Roster does not hold is refused as an unknown key")
        func unknownKey() async throws {
            try await withDatabase(url: try await TestPostgres.require().freshDatabase()) { database in
                let authority = Self.authority(database)
                let (token, _) = try await authority.issue(subject: .user(UUID()), sessionID: UUID())
                let outsider = Curve25519.Signing.PrivateKey()
                let payload = try JSONDecoder().decode([String: JSONValue].self, from: TestJWT.unb64(String(token.split(separator: ".")[1])))
                let forged = try TestJWT.encode(header: ["alg": "EdDSA", "typ": "at+jwt", "kid": "made-up"], claims: payload) { try outsider.signature(for: $0) }
                #expect(await Self.refusal(authority, forged) == .unknownKey)
                // The same outsider naming the real kid fails on the signature instead.
                let impostor = try TestJWT.encode(header: ["alg": "EdDSA", "typ": "at+jwt", "kid": .string(Self.kid(of: token)!)], claims: payload) {
                    try outsider.signature(for: $0)
                }
                #expect(await Self.refusal(authority, impostor) == .badSignature)
            }
        }

        @Test("a token from another issuer, for another audience, expired or not yet valid is refused")
        func claimChecks() async throws {
            try await withDatabase(url: try await TestPostgres.require().freshDatabase()) { database in
                let authority = Self.authority(database)
                // All on the same database, so each is signed by a key the verifier holds: only the claim differs.
                let elsewhere = try await Self.authority(database, issuer: "https://other.example.com").issue(subject: .user(UUID()), sessionID: UUID())
                #expect(await Self.refusal(authority, elsewhere.token) == .wrongIssuer)
                let otherAudience = try await Self.authority(database, audience: "someone-else").issue(subject: .user(UUID()), sessionID: UUID())
                #expect(await Self.refusal(authority, otherAudience.token) == .wrongAudience)
                let old = try await Self.authority(database, shift: -7200).issue(subject: .user(UUID()), sessionID: UUID())
                #expect(await Self.refusal(authority, old.token) == .expired)
                let early = try await Self.authority(database, shift: 600).issue(subject: .user(UUID()), sessionID: UUID())
                #expect(await Self.refusal(authority, early.token) == .notYetValid)
                let skewed = try await Self.authority(database, shift: TokenValidity.clockSkew / 2).issue(subject: .user(UUID()), sessionID: UUID())
                _ = try await authority.verify(skewed.token)
            }
        }

        @Test("a replica's token signed after it rotated verifies here: the unknown kid reloads the keys")
        func replicaRotation() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withDatabase(url: url) { first in
                try await withDatabase(url: url) { second in
                    let here = Self.authority(first)
                    let replica = Self.authority(second)
                    let before = try await here.issue(subject: .user(UUID()), sessionID: UUID())
                    #expect(try await replica.verify(before.token) == before.claims)
                    try await replica.rotate()
                    let after = try await replica.issue(subject: .user(UUID()), sessionID: UUID())
                    #expect(Self.kid(of: after.token) != Self.kid(of: before.token))
                    #expect(try await here.verify(after.token) == after.claims)
                    // Issuing here reloads keys no older than the reload interval; until then it may still sign with the retired key, which verifies.
                    _ = try await replica.verify(here.issue(subject: .user(UUID()), sessionID: UUID()).token)
                }
            }
        }

        @Test("a retired key verifies its tokens until they have expired, then leaves the JWKS and stops verifying")
        func retiredKey() async throws {
            try await withDatabase(url: try await TestPostgres.require().freshDatabase()) { database in
                let authority = Self.authority(database)
                let old = try await authority.issue(subject: .user(UUID()), sessionID: UUID())
                let oldKID = try #require(Self.kid(of: old.token))
                try await authority.rotate()
                let fresh = Self.authority(database)
                #expect(try await fresh.verify(old.token) == old.claims)
                let kids = try Self.jwksKeys(await fresh.jwks()).compactMap { $0["kid"]?.stringValue }
                #expect(kids.count == 2 && kids.contains(oldKID))
                // Two hours on, every token the old key signed has expired.
                let later = Self.authority(database, shift: 7200)
                let laterKIDs = try Self.jwksKeys(await later.jwks()).compactMap { $0["kid"]?.stringValue }
                #expect(laterKIDs.count == 1 && !laterKIDs.contains(oldKID))
                #expect(await Self.refusal(later, old.token) == .unknownKey)
                try await later.rotate()
                let rows = try await database.query("SELECT count(*) FROM signing_keys WHERE kid = \(oldKID)")
                #expect(try rows.first?.decode(Int.self) == 0, "a key past its verification window is deleted by the next rotation")
            }
        }

        @Test("the JWKS holds public Ed25519 keys only: no private member, no private key bytes")
        func jwksIsPublic() async throws {
            try await withDatabase(url: try await TestPostgres.require().freshDatabase()) { database in
                let authority = Self.authority(database)
                try await authority.loadKeys()
                try await authority.rotate()
                let document = try await authority.jwks()
                let keys = try Self.jwksKeys(document)
                #expect(keys.count == 2)
                for key in keys {
                    #expect(Set(key.keys) == ["kty", "crv", "x", "kid", "alg", "use"])
                    #expect(key["kty"] == "OKP" && key["crv"] == "Ed25519" && key["alg"] == "EdDSA" && key["use"] == "sig")
                }
                let text = String(decoding: document, as: UTF8.self)
                for record in try await SigningKeyRepository(database: database).verifiable(retiredAfter: .distantPast) {
                    let secret = record.privateKey.reveal()
                    #expect(!text.contains(TestJWT.b64(secret)) && !text.contains(secret.base64EncodedString()))
                    #expect("\(record)".contains("redacted") && !"\(record)".contains(TestJWT.b64(secret)))
                }
            }
        }

        @Test("verifying a token whose key is known never reaches the database")
        func verifyIsInMemory() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let logger = try TestPostgres.require().logger
            var quiet = logger
            quiet.logLevel = .critical
            let client = PostgresClient(configuration: try DatabaseURL(url).clientConfiguration(maxConnections: 2), backgroundLogger: quiet)
            let authority = Self.authority(RosterDatabase(client: client, logger: quiet, secrets: TestSecrets.atRest))
            let issued = try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                return try await authority.issue(subject: .user(UUID()), sessionID: UUID())
            }
            // The client has shut down: anything that needs the database now fails.
            for _ in 0..<3 { #expect(try await authority.verify(issued.token) == issued.claims) }
            let outsider = Curve25519.Signing.PrivateKey()
            let unknown = try TestJWT.encode(header: ["alg": "EdDSA", "typ": "at+jwt", "kid": "unknown-kid"], claims: [:]) { try outsider.signature(for: $0) }
            do {
                _ = try await authority.verify(unknown)
                Issue.record("an unknown kid with the database gone must fail")
            } catch {
                #expect(!(error is TokenError), "an unknown kid must have tried the database (and failed), proving a known kid did not")
            }
        }

        @Test("replicas starting together on an empty database create one signing key between them")
        func concurrentFirstStart() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let kids = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        try await withDatabase(url: url) { database in
                            let token = try await Self.authority(database).issue(subject: .user(UUID()), sessionID: UUID()).token
                            return Self.kid(of: token)
                        }
                    }
                }
                return try await group.reduce(into: Set<String?>()) { $0.insert($1) }
            }
            #expect(kids.count == 1)
            let count = try await withDatabase(url: url) { try await $0.query("SELECT count(*) FROM signing_keys").first?.decode(Int.self) }
            #expect(count == 1)
        }

        @Test("concurrent rotations each retire the key before them, leaving one current key")
        func concurrentRotations() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            try await withDatabase(url: url) { database in
                try await Self.authority(database).loadKeys()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 { group.addTask { try await Self.authority(database).rotate() } }
                    try await group.waitForAll()
                }
                let rows = try await database.query("SELECT count(*), count(*) FILTER (WHERE retired IS NULL) FROM signing_keys")
                let (all, current) = try #require(rows.first).decode((Int, Int).self)
                #expect(all == 5 && current == 1)
            }
        }

        static func jwksKeys(_ document: Data) throws -> [[String: JSONValue]] {
            let json = try JSONDecoder().decode(JSONValue.self, from: document)
            return try #require(json["keys"]?.arrayValue).compactMap(\.objectValue)
        }
    }
}
