import Crypto
import CryptoExtras
public import Foundation
public import SCIM

/// Compact JWTs built by hand with swift-crypto, independent of the code under test, so a test can
/// make any token an attacker could: any header, any claims, any signature.
public enum TestJWT {
    public static func encode(header: [String: JSONValue], claims: [String: JSONValue], sign: (Data) throws -> Data) rethrows -> String {
        let input = b64(json(header)) + "." + b64(json(claims))
        return input + "." + b64(try sign(Data(input.utf8)))
    }

    /// The same token with one bit of its signature flipped (decoded, flipped, re-encoded: a flipped
    /// base64 character could land in padding bits and change nothing).
    public static func flippingSignatureBit(_ token: String) -> String {
        var parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var signature = unb64(parts[2])
        signature[signature.startIndex + signature.count / 2] ^= 0x01
        parts[2] = b64(signature)
        return parts.joined(separator: ".")
    }

    /// The token's header with `changes` applied, the payload as it was, and an empty signature (`alg: none`).
    public static func unsigned(_ token: String, header changes: [String: JSONValue]) -> String {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var header = (try? JSONDecoder().decode([String: JSONValue].self, from: unb64(parts[0]))) ?? [:]
        header.merge(changes) { _, new in new }
        return b64(json(header)) + "." + parts[1] + "."
    }

    public static func header(of token: String) -> [String: JSONValue] {
        let part = String(token.split(separator: ".")[0])
        return (try? JSONDecoder().decode([String: JSONValue].self, from: unb64(part))) ?? [:]
    }

    public static func json(_ object: [String: JSONValue]) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try! encoder.encode(object)
    }

    public static func b64(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func unb64(_ text: String) -> Data {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)!
    }

    public static func seconds(_ date: Date) -> JSONValue { .integer(Int(date.timeIntervalSince1970)) }
}

/// An identity provider's signing key for tests.
public struct TestIssuerKey: Sendable {
    public let kid: String
    public let algorithm: String
    /// The JWK the issuer publishes (without `alg`, as Entra ID and others publish theirs).
    public let publicJWK: JSONValue
    /// The public key's bytes as an attacker can read them from the JWKS (the classic HS256 confusion secret).
    public let publicKeyPEM: String
    private let signer: @Sendable (Data) throws -> Data

    public static func es256(kid: String = "es-\(UUID().uuidString.prefix(8))") -> TestIssuerKey {
        let key = P256.Signing.PrivateKey()
        let point = key.publicKey.x963Representation  // 0x04 || X || Y
        let jwk: JSONValue = [
            "kty": "EC", "crv": "P-256", "use": "sig", "kid": .string(kid),
            "x": .string(TestJWT.b64(point[1...32])), "y": .string(TestJWT.b64(point[33...64])),
        ]
        return TestIssuerKey(kid: kid, algorithm: "ES256", publicJWK: jwk, publicKeyPEM: key.publicKey.pemRepresentation) {
            try key.signature(for: $0).rawRepresentation
        }
    }

    public static func ed25519(kid: String = "ed-\(UUID().uuidString.prefix(8))") -> TestIssuerKey {
        let key = Curve25519.Signing.PrivateKey()
        let jwk: JSONValue = ["kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": .string(kid), "x": .string(TestJWT.b64(key.publicKey.rawRepresentation))]
        return TestIssuerKey(kid: kid, algorithm: "EdDSA", publicJWK: jwk, publicKeyPEM: key.publicKey.pemRepresentation) {
            try key.signature(for: $0)
        }
    }

    /// An access token (RFC 9068 `typ: at+jwt`) signed by this key, its header naming this key's kid and algorithm
    /// unless `header` says otherwise (a null there leaves the member out).
    public func token(_ claims: [String: JSONValue], header: [String: JSONValue] = [:]) -> String {
        var fields: [String: JSONValue] = ["alg": .string(algorithm), "kid": .string(kid), "typ": "at+jwt"]
        fields.merge(header) { _, new in new }
        fields = fields.filter { $0.value != .null }
        return try! TestJWT.encode(header: fields, claims: claims, sign: signer)
    }
}
