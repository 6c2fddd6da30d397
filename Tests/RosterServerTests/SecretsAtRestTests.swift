import Crypto
import Foundation
import HTTPTypes
import Logging
import PostgresNIO
import RosterAuth
import RosterFeed
import RosterServer
import RosterStore
import RosterTestSupport
import SCIM
import Testing

extension ServerSuite {
    @Suite("Secrets at rest: sealed with the operator's key, bound to their rows")
    struct SecretsAtRestTests {
        static func keyring(_ text: String) throws -> SecretKeyring { try SecretKeyring(parsing: text) }

        static func configuration(_ url: String, _ secrets: SecretsAtRest) -> RosterConfiguration {
            var configuration = RosterConfiguration(databaseURL: url, logLevel: .critical, databaseMaxConnections: 2)
            configuration.secrets = secrets
            return configuration
        }

        static func plaintextCounts(_ url: String) async throws -> [Int] {
            try await withDatabase(url: url, logger: TestPostgres.require().logger) { try await LegacySecretRows.plaintextCounts($0) }
        }

        static func writeLegacyRows(_ url: String) async throws -> LegacySecretRows {
            try await withDatabase(url: url, logger: TestPostgres.require().logger) { db in
                try await LegacySecretRows.insert(into: db, tenant: try #require(try await TenantRepository(database: db).find("default")).id)
            }
        }

        @Test("after a start with a key, no secret is stored as it is: each sealed value holds none of its secret's bytes")
        func ciphertextAtRest() async throws {
            try await Roster.run { roster in
                let created = try await roster.admin(.post, "/webhooks", body: #"{"url":"https://example.com/hook"}"#)
                #expect(created.status == .created, "\(created.body)")
                let id = try #require(created.json["id"]?.stringValue)
                let secret = try #require(created.json["secret"]?.stringValue)
                let rotated = try await roster.admin(.post, "/webhooks/\(id)/rotate-secret")
                #expect(rotated.status == .ok, "\(rotated.body)")
                // A sign-in makes the signing key; a cursor page reads the cursor key.
                let signIn = try await roster.anonymous(.post, "/auth/token", body: #"{"admin_key":"\#(roster.adminKey)"}"#)
                #expect(signIn.status == .ok, "\(signIn.body)")
                #expect(try await roster.scim(.get, "/Users?cursor&count=1").status == .ok)

                #expect(try await Self.plaintextCounts(roster.databaseURL) == [0, 0, 0])
                let sealed = try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger) { db in
                    try await db.query(
                        """
                        SELECT secret_sealed FROM webhook_subscriptions WHERE secret_sealed IS NOT NULL
                        UNION ALL SELECT previous_secret_sealed FROM webhook_subscriptions WHERE previous_secret_sealed IS NOT NULL
                        UNION ALL SELECT private_key_sealed FROM signing_keys
                        UNION ALL SELECT secret_sealed FROM server_secrets
                        """
                    ).map { try $0.decode(Data.self) }
                }
                #expect(sealed.count == 4, "current and previous webhook secret, the signing key, the cursor key")
                let secretBytes = Data(secret.utf8)
                let secretKey = try #require(Data(base64Encoded: String(secret.dropFirst(WebhookSecret.prefix.count))))
                for value in sealed {
                    #expect(value.first == 1, "version 1")
                    #expect(value.range(of: secretBytes) == nil && value.range(of: secretKey) == nil)
                }
            }
        }

        @Test("a sealed webhook secret copied to another subscription does not open there, and signs nothing")
        func movedCiphertextFails() async throws {
            try await Roster.run { roster in
                let a = try #require(try await roster.admin(.post, "/webhooks", body: #"{"url":"https://example.com/a"}"#).json["id"]?.stringValue)
                let b = try #require(try await roster.admin(.post, "/webhooks", body: #"{"url":"https://example.com/b"}"#).json["id"]?.stringValue)
                let thrown = try await withDatabase(url: roster.databaseURL, logger: TestPostgres.require().logger, secrets: TestSecrets.atRest) { db in
                    try await db.query(
                        """
                        UPDATE webhook_subscriptions SET secret_sealed = (SELECT secret_sealed FROM webhook_subscriptions WHERE id = \(UUID(uuidString: a)!))
                        WHERE id = \(UUID(uuidString: b)!)
                        """)
                    let tenant = try #require(try await TenantRepository(database: db).find("default")).id
                    _ = try await WebhookSubscriptions(database: db).target(tenant: tenant, id: try #require(UUID(uuidString: a)))
                    do {
                        _ = try await WebhookSubscriptions(database: db).target(tenant: tenant, id: try #require(UUID(uuidString: b)))
                        return nil as SecretsAtRestError?
                    } catch let error as SecretsAtRestError {
                        return error
                    }
                }
                guard case .cannotOpen(let keyID, _) = thrown else {
                    Issue.record("the moved secret opened: \(String(describing: thrown))")
                    return
                }
                #expect(keyID == "test")
                let test = try await roster.admin(.post, "/webhooks/\(b)/test")
                #expect(test.status.code >= 500, "\(test.body)")
                #expect(!test.body.contains(TestSecrets.entry) && !test.body.contains("whsec_"))
            }
        }

        @Test("a copy of the database without the key cannot sign: a start with another key, or with none, is refused")
        func wrongOrMissingKeyRefused() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let logger = try TestPostgres.require().logger
            try await prepareStoredSecrets(Self.configuration(url, TestSecrets.atRest), logger: logger)
            _ = try await withDatabase(url: url, logger: logger, secrets: TestSecrets.atRest) { db in
                try await AccessTokenAuthority(keys: SigningKeyRepository(database: db), issuer: "https://roster.example.test", audience: "roster-admin").loadKeys()
            }
            // The same key id with other key bytes: the tag does not verify.
            let impostor = try Self.keyring(SecretKeyring.generateEntry(keyID: "test"))
            let wrongKey = await #expect(throws: SecretsAtRestError.self) {
                try await prepareStoredSecrets(Self.configuration(url, .encrypted(impostor)), logger: logger)
            }
            guard case .cannotOpen(keyID: "test", _) = wrongKey else {
                Issue.record("another key under the same id: \(String(describing: wrongKey))")
                return
            }
            #expect(!String(describing: wrongKey).contains(String(TestSecrets.entry.dropFirst(5))))
            let signed = try? await withDatabase(url: url, logger: logger, secrets: .encrypted(impostor)) { db in
                try await AccessTokenAuthority(keys: SigningKeyRepository(database: db), issuer: "https://roster.example.test", audience: "roster-admin")
                    .issue(subject: .user(UUID()), sessionID: UUID())
            }
            #expect(signed == nil, "a token was signed with a key another keyring sealed")
            // Another key id: not held.
            let unknown = await #expect(throws: SecretsAtRestError.self) {
                try await prepareStoredSecrets(Self.configuration(url, .encrypted(try Self.keyring(SecretKeyring.generateEntry(keyID: "other")))), logger: logger)
            }
            guard case .unknownKey(keyID: "test", _) = unknown else {
                Issue.record("a key id not held: \(String(describing: unknown))")
                return
            }
            // The plaintext opt-out cannot read what is sealed; no decision at all is refused outright.
            await #expect(throws: RosterConfiguration.Invalid.self) {
                try await prepareStoredSecrets(Self.configuration(url, .plaintext), logger: logger)
            }
            await #expect(throws: RosterConfiguration.Invalid.self) {
                try await prepareStoredSecrets(Self.configuration(url, .unconfigured), logger: logger)
            }
            #expect(throws: RosterConfiguration.Invalid.self) { try buildApplication(Self.configuration(url, .unconfigured), logger: logger) }
        }

        @Test("the first start with a key seals the plaintext rows earlier versions wrote, once, even with two replicas at once")
        func firstStartSealsLegacyRows() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let logger = try TestPostgres.require().logger
            let legacy = try await Self.writeLegacyRows(url)
            #expect(try await Self.plaintextCounts(url) == [1, 1, 1])

            async let first: Void = prepareStoredSecrets(Self.configuration(url, TestSecrets.atRest), logger: logger)
            async let second: Void = prepareStoredSecrets(Self.configuration(url, TestSecrets.atRest), logger: logger)
            _ = try await (first, second)
            #expect(try await Self.plaintextCounts(url) == [0, 0, 0])

            let (census, keys, secrets, token) = try await withDatabase(url: url, logger: logger, secrets: TestSecrets.atRest) { db in
                let census = try await StoredSecrets(database: db).census(opening: TestSecrets.keyring)
                let keys = try await SigningKeyRepository(database: db).verifiable(retiredAfter: .distantPast)
                let secrets = try #require(try await WebhookSubscriptions(database: db).target(tenant: legacy.tenant, id: legacy.webhook)).secrets
                let authority = AccessTokenAuthority(keys: SigningKeyRepository(database: db), issuer: "https://roster.example.test", audience: "roster-admin")
                let (token, _) = try await authority.issue(subject: .user(UUID()), sessionID: UUID())
                _ = try await authority.verify(token)
                return (census, keys, secrets, token)
            }
            #expect(census.sealedByKeyID == ["test": 4] && census.plaintext == 0, "cursor key, signing key, two webhook secrets")
            #expect(keys.map(\.kid) == [legacy.kid])
            #expect(keys.first?.privateKey.reveal() == legacy.seed, "the same key, now sealed")
            #expect(secrets.map(\.text) == legacy.webhookSecrets)
            let header = try #require(token.split(separator: ".").first.flatMap { Data(base64URLEncoded: String($0)) })
            #expect(String(decoding: header, as: UTF8.self).contains(#""kid":"legacy-key""#), "tokens are still signed with the existing key")
        }

        @Test("rotation re-seals every secret under the new key, after which the old key can be dropped; again, it changes nothing")
        func rotation() async throws {
            let url = try await TestPostgres.require().freshDatabase()
            let logger = try TestPostgres.require().logger
            let old = SecretKeyring.generateEntry(keyID: "old")
            let new = SecretKeyring.generateEntry(keyID: "new")
            let legacy = try await Self.writeLegacyRows(url)
            try await prepareStoredSecrets(Self.configuration(url, .encrypted(try Self.keyring(old))), logger: logger)

            let both = try Self.keyring(new + "," + old)
            let (first, again) = try await withDatabase(url: url, logger: logger, secrets: .encrypted(both)) { db in
                (try await StoredSecrets(database: db).rotate(to: both), try await StoredSecrets(database: db).rotate(to: both))
            }
            #expect(first.resealed == 4 && first.sealedFromPlaintext == 0)
            #expect(first.sealedByKeyID == ["new": 4])
            #expect(again.resealed == 0 && again.sealedFromPlaintext == 0 && again.sealedByKeyID == ["new": 4])

            let alone = try Self.keyring(new)
            try await prepareStoredSecrets(Self.configuration(url, .encrypted(alone)), logger: logger)
            let secrets = try await withDatabase(url: url, logger: logger, secrets: .encrypted(alone)) { db in
                try #require(try await WebhookSubscriptions(database: db).target(tenant: legacy.tenant, id: legacy.webhook)).secrets
            }
            #expect(secrets.map(\.text) == legacy.webhookSecrets)
            await #expect(throws: SecretsAtRestError.self, "the old key alone no longer opens anything") {
                try await prepareStoredSecrets(Self.configuration(url, .encrypted(try Self.keyring(old))), logger: logger)
            }
        }

        @Test("ROSTER_SECRET_KEY and ROSTER_SECRET_KEY_FILE are read, the first entry current; bad ones are refused without echoing them")
        func keyConfiguration() throws {
            func secrets(_ environment: [String: String]) throws -> SecretsAtRest {
                try ConfigurationTests.configuration(environment).secrets
            }
            let first = SecretKeyring.generateEntry(keyID: "k2")
            let second = SecretKeyring.generateEntry(keyID: "k1")
            guard case .encrypted(let keyring) = try secrets(["ROSTER_SECRET_KEY": first + "," + second]) else {
                Issue.record("ROSTER_SECRET_KEY did not configure a key")
                return
            }
            #expect(keyring.currentKeyID == "k2" && keyring.keyIDs == ["k2", "k1"])
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("roster-key-\(UUID())")
            try Data((first + "\n" + second + "\n").utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            guard case .encrypted(let fromFile) = try secrets(["ROSTER_SECRET_KEY_FILE": file.path]) else {
                Issue.record("ROSTER_SECRET_KEY_FILE did not configure a key")
                return
            }
            #expect(fromFile.keyIDs == ["k2", "k1"])
            guard case .unconfigured = try secrets([:]) else { Issue.record("no key is not unconfigured"); return }
            guard case .plaintext = try secrets(["ROSTER_ALLOW_PLAINTEXT_SECRETS": "true"]) else { Issue.record("the opt-out is not plaintext"); return }

            let material = String(first.split(separator: ":")[1])
            for bad in [material, "k1:" + String(material.dropLast(8)), "k 1:" + material, first + "," + first, "k1:not base64!"] {
                do {
                    _ = try secrets(["ROSTER_SECRET_KEY": bad])
                    Issue.record("accepted a bad ROSTER_SECRET_KEY")
                } catch {
                    let message = String(describing: error)
                    #expect(!message.contains(material) && !message.contains(material.prefix(12)), "\(message)")
                }
            }
            #expect(throws: RosterConfiguration.Invalid.self) {
                try secrets(["ROSTER_SECRET_KEY": first, "ROSTER_SECRET_KEY_FILE": file.path])
            }
            #expect(!String(describing: keyring).contains(material) && !String(reflecting: keyring).contains(material))
        }
    }
}

