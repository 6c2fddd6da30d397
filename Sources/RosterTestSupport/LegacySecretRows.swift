import Crypto
public import Foundation
import PostgresNIO
public import RosterStore

/// Secrets written as Roster wrote them before secrets at rest (the code of migration 14's time): plaintext columns.
public struct LegacySecretRows: Sendable {
    public let kid: String
    /// The Ed25519 seed of the signing key.
    public let seed: Data
    public let tenant: UUID
    public let webhook: UUID
    /// The webhook's current and previous `whsec_…` secrets.
    public let webhookSecrets: [String]

    /// Inserts a current signing key and a webhook subscription (of `tenant`) with a current and a previous secret.
    public static func insert(into db: RosterDatabase, tenant: UUID) async throws -> LegacySecretRows {
        let key = Curve25519.Signing.PrivateKey()
        let x = key.publicKey.rawRepresentation.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let kid = "legacy-key"
        let jwk = #"{"alg":"EdDSA","crv":"Ed25519","kid":"\#(kid)","kty":"OKP","use":"sig","x":"\#(x)"}"#
        let secrets = (0..<2).map { _ in "whsec_" + SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString() }
        let id = UUID()
        try await db.query(
            """
            INSERT INTO signing_keys (kid, algorithm, curve, private_key, public_jwk)
            VALUES (\(kid), 'EdDSA', 'Ed25519', \(key.rawRepresentation), \(jwk)::jsonb)
            """)
        try await db.query(
            """
            INSERT INTO webhook_subscriptions (tenant_id, id, url, secret, previous_secret, previous_until, position)
            VALUES (\(tenant), \(id), 'https://example.com/hook', \(secrets[0]), \(secrets[1]), now() + interval '1 hour', 0)
            """)
        return LegacySecretRows(kid: kid, seed: key.rawRepresentation, tenant: tenant, webhook: id, webhookSecrets: secrets)
    }

    /// Counts of secrets stored as they are: server_secrets, signing_keys, webhook_subscriptions (either secret).
    public static func plaintextCounts(_ db: RosterDatabase) async throws -> [Int] {
        try await db.query(
            """
            SELECT (SELECT count(*) FROM server_secrets WHERE secret IS NOT NULL),
                   (SELECT count(*) FROM signing_keys WHERE private_key IS NOT NULL),
                   (SELECT count(*) FROM webhook_subscriptions WHERE secret IS NOT NULL OR previous_secret IS NOT NULL)
            """
        ).first.map { row in
            let (a, b, c) = try row.decode((Int, Int, Int).self)
            return [a, b, c]
        } ?? []
    }
}
