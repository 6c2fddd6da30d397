public import Foundation

/// Why a bearer JWT was refused: Roster's own access tokens and a trusted issuer's alike.
///
/// Every message is safe to log and to return: it names the rule the token broke, never the token,
/// a claim value from it or any key material.
public enum TokenError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not a compact JWS, or a header or claim that cannot be read; the reason is one of this module's fixed phrases.
    case malformed(String)
    /// A claim the token must carry (named by configuration or the JWT profile) is absent or of the wrong type.
    case missingClaim(String)
    /// `iss` names no trusted issuer.
    case unknownIssuer
    /// `alg` is `none`, symmetric (HS*), or not one the issuer is trusted with.
    case disallowedAlgorithm(String)
    /// No key with the token's `kid` (after the one reload allowed per interval).
    case unknownKey
    case badSignature
    case expired
    case notYetValid
    case wrongAudience
    case wrongIssuer
    /// The `typ` header does not say access token (RFC 9068 §4): an ID token, say; nil when there is none.
    case notAnAccessToken(type: String?)
    /// The issuer's key set could not be fetched or read. The reason names the URL and the failure, never a key:
    /// it is for the log only, never a response (`description` leaves it out).
    case jwksUnavailable(String)

    /// The `alg` header as it may be shown: a known name, else a placeholder (it is the sender's text).
    static func disallowed(_ algorithm: String) -> TokenError {
        let printable = algorithm.count <= 16 && algorithm.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
        return .disallowedAlgorithm(printable ? algorithm : "unrecognised")
    }

    /// The `typ` header as it may be shown: short media-type text, else a placeholder (it is the sender's text).
    static func notAnAccessToken(typ type: String?) -> TokenError {
        guard let type else { return .notAnAccessToken(type: nil) }
        let printable = type.count <= 40 && type.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-./".contains($0)) }
        return .notAnAccessToken(type: printable ? type : "unrecognised")
    }

    public var description: String {
        switch self {
        case .malformed(let reason): "The token is malformed: \(reason)"
        case .missingClaim(let claim): "The token has no usable '\(claim)' claim."
        case .unknownIssuer: "The token's issuer is not a trusted issuer."
        case .disallowedAlgorithm(let algorithm): "The token's signing algorithm '\(algorithm)' is not accepted."
        case .unknownKey: "The token was signed with a key this server does not know."
        case .badSignature: "The token's signature does not verify."
        case .expired: "The token has expired."
        case .notYetValid: "The token is not valid yet."
        case .wrongAudience: "The token is not meant for this server (audience)."
        case .wrongIssuer: "The token was issued by someone else (issuer)."
        case .notAnAccessToken(let type):
            "The token is not an access token: its 'typ' header is \(type.map { "'\($0)'" } ?? "absent"), where RFC 9068 access tokens say 'at+jwt'."
        case .jwksUnavailable: "The issuer's signing keys could not be fetched; try again later."
        }
    }
}

/// The time rules every JWT here follows.
public enum TokenValidity {
    /// How far apart the issuer's clock and ours may be: `exp` is honoured this long after it passes,
    /// `nbf` and `iat` this long before they arrive.
    public static let clockSkew: TimeInterval = 60

    /// Checks `exp` (required), `nbf` and `iat` (when present) against `now`, allowing `clockSkew`.
    static func check(expires: Date?, notBefore: Date?, issuedAt: Date?, now: Date) throws(TokenError) {
        guard let expires else { throw .missingClaim("exp") }
        if now.timeIntervalSince(expires) > clockSkew { throw .expired }
        if let notBefore, notBefore.timeIntervalSince(now) > clockSkew { throw .notYetValid }
        if let issuedAt, issuedAt.timeIntervalSince(now) > clockSkew { throw .notYetValid }
    }
}
