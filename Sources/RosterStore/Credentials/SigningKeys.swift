public import Foundation
import PostgresNIO
public import RosterAuth

/// The signing keys every replica shares. At most one is current: a unique partial index guarantees
/// it, so replicas that start together cannot create two, and rotations are serialised by an advisory lock.
public struct SigningKeyRepository: SigningKeyStore {
    /// pg_advisory_xact_lock key for rotations: "RstrKeys" in ASCII.
    static let rotationLock: Int64 = 0x5273_7472_4B65_7973
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// The current key and every key retired after `cutoff` (those that may still have unexpired tokens), newest first.
    public func verifiable(retiredAfter cutoff: Date) async throws -> [SigningKeyRecord] {
        try decode(await database.query(
            """
            SELECT \(unescaped: Self.columns) FROM signing_keys
            WHERE retired IS NULL OR retired > \(cutoff)
            ORDER BY retired DESC NULLS FIRST, created DESC
            """))
    }

    /// Makes `key` current unless a key already is; false when another replica's key won.
    @discardableResult
    public func insertIfNoCurrent(_ key: NewSigningKey) async throws -> Bool {
        let (plaintext, sealed) = try database.secrets.store(key.privateKey.reveal(), for: .signingKey(kid: key.kid))
        let rows = try await database.query(
            """
            INSERT INTO signing_keys (kid, algorithm, curve, private_key, private_key_sealed, public_jwk)
            VALUES (\(key.kid), 'EdDSA', 'Ed25519', \(plaintext), \(sealed), \(key.publicJWK)::jsonb)
            ON CONFLICT ((true)) WHERE retired IS NULL DO NOTHING
            RETURNING kid
            """)
        return !rows.isEmpty
    }

    /// Retires the current key at `now`, makes `key` current, and deletes keys retired before `cutoff`
    /// (their tokens have all expired). Concurrent rotations run one after the other, each retiring the last one's key.
    public func rotate(to key: NewSigningKey, at now: Date, deletingRetiredBefore cutoff: Date) async throws {
        let (plaintext, sealed) = try database.secrets.store(key.privateKey.reveal(), for: .signingKey(kid: key.kid))
        try await database.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.rotationLock))", logger: database.logger)
            try await connection.query("UPDATE signing_keys SET retired = \(now) WHERE retired IS NULL", logger: database.logger)
            try await connection.query(
                """
                INSERT INTO signing_keys (kid, algorithm, curve, private_key, private_key_sealed, public_jwk, created)
                VALUES (\(key.kid), 'EdDSA', 'Ed25519', \(plaintext), \(sealed), \(key.publicJWK)::jsonb, \(now))
                """, logger: database.logger)
            try await connection.query("DELETE FROM signing_keys WHERE retired < \(cutoff)", logger: database.logger)
        }
    }

    static let columns = "kid, private_key, private_key_sealed, public_jwk::text, created, retired"

    func decode(_ rows: [PostgresRow]) throws -> [SigningKeyRecord] {
        try rows.map { row in
            let (kid, plaintext, sealed, publicJWK, created, retired) = try row.decode((String, Data?, Data?, String, Date, Date?).self)
            let privateKey = try database.secrets.reveal(plaintext: plaintext, sealed: sealed, for: .signingKey(kid: kid))
            return SigningKeyRecord(
                kid: kid, privateKey: SigningKeyMaterial(privateKey), publicJWK: publicJWK, created: created, retired: retired)
        }
    }
}
