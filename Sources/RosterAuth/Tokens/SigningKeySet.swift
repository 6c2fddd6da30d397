import Crypto
import Foundation
import JWTKit
import SCIM

/// Roster's signing keys as loaded from `signing_keys`: the current key to sign with, every key that
/// still verifies, and their public JWKs.
struct SigningKeySet: Sendable {
    let currentKID: String
    /// Holds the current private key only.
    let signer: JWTKeyCollection
    /// One collection per kid, each holding that public key alone: jwt-kit falls back to a collection's
    /// default key for a kid it does not know, and a lookup here must fail instead.
    let verifiers: [String: JWTKeyCollection]
    /// The public JWKs, newest first.
    let publicJWKs: [JSONValue]
    /// Every key held (the current one, then the retired ones still published), newest first, with when each became
    /// current: Security Event Tokens are signed by the newest one that every replica's JWKS already shows.
    let signers: [(kid: String, created: Date, keys: JWTKeyCollection)]

    init(records: [SigningKeyRecord]) async throws {
        guard let current = records.first(where: \.isCurrent) else { throw AuthError(.unavailable, "There is no current signing key.", reason: "no_signing_key") }
        let privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: current.privateKey.reveal())
        signer = JWTKeyCollection()
        await signer.add(eddsa: EdDSA.PrivateKey(backing: privateKey), kid: JWKIdentifier(string: current.kid))
        currentKID = current.kid
        var verifiers: [String: JWTKeyCollection] = [:]
        var publicJWKs: [JSONValue] = []
        var signers: [(kid: String, created: Date, keys: JWTKeyCollection)] = []
        for record in records {
            let signer = JWTKeyCollection()
            let key = try Curve25519.Signing.PrivateKey(rawRepresentation: record.privateKey.reveal())
            await signer.add(eddsa: EdDSA.PrivateKey(backing: key), kid: JWKIdentifier(string: record.kid))
            signers.append((record.kid, record.created, signer))
            let stored = try JSONDecoder().decode(JSONValue.self, from: Data(record.publicJWK.utf8))
            guard let x = stored["x"]?.stringValue, let raw = Base64URL.decode(x) else {
                throw AuthError(.unavailable, "Signing key \(record.kid) has no public key.", reason: "bad_signing_key")
            }
            let keys = JWTKeyCollection()
            await keys.add(eddsa: EdDSA.PublicKey(backing: try Curve25519.Signing.PublicKey(rawRepresentation: raw)), kid: JWKIdentifier(string: record.kid))
            verifiers[record.kid] = keys
            // Published from its public members alone, so nothing else a row might hold can reach the JWKS.
            publicJWKs.append(Self.publicJWK(x: x, kid: record.kid))
        }
        self.verifiers = verifiers
        self.publicJWKs = publicJWKs
        self.signers = signers
    }

    /// A new Ed25519 key with its kid (the RFC 7638 thumbprint) and public JWK, ready to store.
    static func generate() -> NewSigningKey {
        let key = Curve25519.Signing.PrivateKey()
        let x = Base64URL.encode(key.publicKey.rawRepresentation)
        // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
        let thumbprint = Base64URL.encode(Data(SHA256.hash(data: Data(#"{"crv":"Ed25519","kty":"OKP","x":"\#(x)"}"#.utf8))))
        return NewSigningKey(
            kid: thumbprint, privateKey: SigningKeyMaterial(key.rawRepresentation),
            publicJWK: String(decoding: publicJWK(x: x, kid: thumbprint).sortedJSON(), as: UTF8.self))
    }

    static func publicJWK(x: String, kid: String) -> JSONValue {
        ["kty": "OKP", "crv": "Ed25519", "x": .string(x), "kid": .string(kid), "alg": "EdDSA", "use": "sig"]
    }
}

extension JSONValue {
    /// Compact JSON with sorted keys, so a document reads the same on every replica.
    func sortedJSON() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data("null".utf8)
    }
}
