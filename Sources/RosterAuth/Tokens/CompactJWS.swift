import Foundation
import JWTKit
import SCIM

/// A compact JWS (RFC 7515 §7.1) read without verifying it: enough to choose the issuer, algorithm
/// and key that will verify it. Nothing read here is trusted until the signature is.
struct CompactJWS {
    /// Longer tokens are refused before any parsing: no IdP issues access tokens near this size.
    static let maximumLength = 16 * 1024

    let algorithm: String
    let keyID: String?
    let type: String?
    let claims: [String: JSONValue]

    init(_ token: String) throws(TokenError) {
        guard token.utf8.count <= Self.maximumLength else { throw .malformed("it is longer than \(Self.maximumLength) bytes.") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("a JWT has three dot-separated parts.") }
        guard let header = Self.object(parts[0]) else { throw .malformed("the header is not base64url-encoded JSON.") }
        guard let claims = Self.object(parts[1]) else { throw .malformed("the payload is not base64url-encoded JSON.") }
        guard Base64URL.decode(parts[2]) != nil else { throw .malformed("the signature is not base64url-encoded.") }
        guard let algorithm = header["alg"]?.stringValue else { throw .malformed("the header has no 'alg'.") }
        // RFC 7515 §4.1.11: a recipient must refuse critical extensions it does not understand (all of them, here).
        guard header["crit"] == nil else { throw .malformed("critical header extensions are not supported.") }
        if let kid = header["kid"], kid.stringValue == nil { throw .malformed("the header's 'kid' is not a string.") }
        if let type = header["typ"], type.stringValue == nil { throw .malformed("the header's 'typ' is not a string.") }
        self.algorithm = algorithm
        self.keyID = header["kid"]?.stringValue
        self.type = header["typ"]?.stringValue
        self.claims = claims
    }

    private static func object(_ part: Substring) -> [String: JSONValue]? {
        guard let data = Base64URL.decode(part) else { return nil }
        return (try? JSONDecoder().decode(JSONValue.self, from: data))?.objectValue
    }
}

/// A bearer JWT's claimed issuer, read without verifying anything: only to route a token to
/// `AccessTokenAuthority` (its own issuer) or `OIDCVerifier` (any other), which then verify it.
public enum UnverifiedJWT {
    public static func issuer(of token: String) -> String? {
        (try? CompactJWS(token))?.claims["iss"]?.stringValue
    }
}

/// Claim values read from JSON: a NumericDate (RFC 7519 §2) may be an integer or a decimal.
extension JSONValue {
    var numericDate: Date? {
        switch self {
        case .integer(let seconds): Date(timeIntervalSince1970: TimeInterval(seconds))
        case .decimal(let seconds): Date(timeIntervalSince1970: seconds)
        default: nil
        }
    }

    /// `aud` is a string or an array of strings (RFC 7519 §4.1.3).
    var audiences: [String] {
        if let single = stringValue { return [single] }
        return arrayValue?.compactMap(\.stringValue) ?? []
    }
}

/// Signature verification through jwt-kit, its failures mapped to `TokenError`.
enum SignatureCheck {
    static func verify<Payload: JWTPayload>(_ token: String, with keys: JWTKeyCollection, as _: Payload.Type) async throws(TokenError) -> Payload {
        do {
            return try await keys.verify(token, as: Payload.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .badSignature
        } catch {
            // jwt-kit's own reasons may quote the token; say only what failed.
            throw .malformed("the signature or payload could not be verified.")
        }
    }
}
