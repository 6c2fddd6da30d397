public import Foundation
import JWTKit
public import Logging
public import SCIM

/// Who a Roster access token acts for: an admin user, or an admin API key exchanged for a token.
public enum AccessSubject: Sendable, Hashable, CustomStringConvertible {
    case user(UUID)
    case key(UUID)

    /// Parses the `sub` claim: "user:<uuid>" or "key:<uuid>".
    public init?(claim: String) {
        let parts = claim.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let id = UUID(uuidString: String(parts[1])) else { return nil }
        switch parts[0] {
        case "user": self = .user(id)
        case "key": self = .key(id)
        default: return nil
        }
    }

    /// The `sub` claim.
    public var description: String {
        switch self {
        case .user(let id): "user:\(id.uuidString.lowercased())"
        case .key(let id): "key:\(id.uuidString.lowercased())"
        }
    }
}

/// What a verified Roster access token says.
public struct AccessTokenClaims: Sendable, Equatable {
    public var subject: AccessSubject
    /// The session (refresh-token family) the token was issued in, so revoking a session can be checked.
    public var sessionID: UUID
    public var issuedAt: Date
    public var expires: Date

    public init(subject: AccessSubject, sessionID: UUID, issuedAt: Date, expires: Date) {
        self.subject = subject
        self.sessionID = sessionID
        self.issuedAt = issuedAt
        self.expires = expires
    }
}

/// Issues and verifies Roster's own short-lived admin access tokens: EdDSA (Ed25519) JWTs with the key's
/// `kid` in the header and `typ` at+jwt (RFC 9068), signed with the current key in `signing_keys`.
///
/// Keys are held in memory: verifying a token whose key is known never reaches the database. A token
/// naming an unknown key (a peer replica rotated) reloads the keys at most once per `reloadInterval`.
/// Issuing and the JWKS reload keys older than `reloadInterval`, so a replica stops signing with a key
/// another one retired within that interval.
public final class AccessTokenAuthority: Sendable {
    public static let tokenType = "at+jwt"
    static let algorithm = "EdDSA"

    public let issuer: String
    public let audience: String
    public let lifetime: Duration
    private let reloadInterval: Duration
    /// How long after retirement a key still verifies (and stays in the JWKS).
    private let retention: TimeInterval
    private let repository: any SigningKeyStore
    private let cache: KeySetCache<SigningKeySet>
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - issuer: the `iss` of every token, e.g. the server's public URL.
    ///   - audience: the `aud` of every token, e.g. "roster-admin".
    ///   - reloadInterval: how often at most an unknown `kid` reloads the keys, and how old keys may be when issuing.
    ///   - now: the clock tokens are issued and checked by (tests move it).
    public init(
        keys repository: any SigningKeyStore, issuer: String, audience: String, lifetime: Duration = .seconds(3600),
        reloadInterval: Duration = .seconds(60), now: @escaping @Sendable () -> Date = Date.init,
        logger: Logger = Logger(label: "roster.auth")
    ) {
        precondition(lifetime > .zero, "an access token lifetime must be positive")
        // A retired key verifies for a token lifetime, plus the time a peer may still sign with it, plus skew.
        let retention = (lifetime + reloadInterval).timeInterval + TokenValidity.clockSkew
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
        self.reloadInterval = reloadInterval
        self.repository = repository
        self.now = now
        self.retention = retention
        self.cache = KeySetCache(minimumInterval: reloadInterval, logger: logger) {
            let cutoff = now().addingTimeInterval(-retention)
            var records = try await repository.verifiable(retiredAfter: cutoff)
            if !records.contains(where: \.isCurrent) {
                // First start on this database: every replica may try, one key wins (unique partial index).
                try await repository.insertIfNoCurrent(SigningKeySet.generate())
                records = try await repository.verifiable(retiredAfter: cutoff)
            }
            return try await SigningKeySet(records: records)
        }
    }

    /// Loads the keys (creating the first one on a new database); call at startup so the first request does not.
    public func loadKeys() async throws {
        _ = try await cache.current()
    }

    /// A signed access token for `subject` in session `sessionID`, valid for `lifetime` from now.
    public func issue(subject: AccessSubject, sessionID: UUID) async throws -> (token: String, claims: AccessTokenClaims) {
        let keys = try await cache.current(maximumAge: reloadInterval)
        // Whole seconds: NumericDate has no finer resolution, so the claims returned equal those verified.
        let issuedAt = Date(timeIntervalSince1970: now().timeIntervalSince1970.rounded(.down))
        let claims = AccessTokenClaims(subject: subject, sessionID: sessionID, issuedAt: issuedAt, expires: issuedAt + lifetime.timeInterval)
        let payload = ClaimSet(claims: [
            "iss": .string(issuer), "aud": .string(audience), "sub": .string(subject.description),
            "sid": .string(sessionID.uuidString.lowercased()), "jti": .string(UUID().uuidString.lowercased()),
            "iat": .integer(Int(issuedAt.timeIntervalSince1970)), "nbf": .integer(Int(issuedAt.timeIntervalSince1970)),
            "exp": .integer(Int(claims.expires.timeIntervalSince1970)),
        ])
        let token = try await keys.signer.sign(payload, kid: JWKIdentifier(string: keys.currentKID), header: ["typ": .string(Self.tokenType)])
        return (token, claims)
    }

    /// A Security Event Token (RFC 8417) of `claims`, signed like an access token but typed `secevent+jwt` (§2.3), so
    /// neither is taken for the other: `verify` refuses it by its `typ`, and it has no `sub`, `exp` or `sid`. `iss` is
    /// this authority's; the caller gives every other claim.
    ///
    /// A receiver checks it against the JWKS of whichever replica it asks, and a replica's JWKS may be `reloadInterval`
    /// old: so the key is the newest that has been current for longer than that (the current one, or for a minute after
    /// a rotation the one before it, still published), never one some replica does not publish yet.
    public func signSecurityEvent(_ claims: [String: JSONValue]) async throws -> String {
        let keys = try await cache.current(maximumAge: reloadInterval)
        let settled = now().addingTimeInterval(-reloadInterval.timeInterval)
        // None settled (keys all made within the interval): the oldest, the one most likely published everywhere.
        guard let key = keys.signers.first(where: { $0.created <= settled }) ?? keys.signers.last else { throw TokenError.unknownKey }
        var claims = claims
        claims["iss"] = .string(issuer)
        return try await key.keys.sign(ClaimSet(claims: claims), kid: JWKIdentifier(string: key.kid), header: ["typ": .string(Self.securityEventType)])
    }

    /// RFC 8417 §2.3: the `typ` of a SET.
    public static let securityEventType = "secevent+jwt"

    /// The claims of a token this server (or a replica on the same database) issued; throws `TokenError` otherwise.
    public func verify(_ token: String) async throws -> AccessTokenClaims {
        let jws = try CompactJWS(token)
        guard jws.algorithm == Self.algorithm else { throw TokenError.disallowed(jws.algorithm) }
        guard jws.type?.lowercased() == Self.tokenType else { throw TokenError.malformed("it is not a Roster access token (typ).") }
        guard let kid = jws.keyID else { throw TokenError.unknownKey }
        let claims = try await SignatureCheck.verify(token, with: verifier(for: kid), as: ClaimSet.self).claims
        guard let issuer = claims["iss"]?.stringValue else { throw TokenError.missingClaim("iss") }
        guard issuer == self.issuer else { throw TokenError.wrongIssuer }
        guard claims["aud"]?.audiences.contains(audience) == true else { throw TokenError.wrongAudience }
        try TokenValidity.check(
            expires: claims["exp"]?.numericDate, notBefore: claims["nbf"]?.numericDate, issuedAt: claims["iat"]?.numericDate, now: now())
        guard let subject = claims["sub"]?.stringValue.flatMap(AccessSubject.init(claim:)) else { throw TokenError.missingClaim("sub") }
        guard let session = claims["sid"]?.stringValue.flatMap(UUID.init(uuidString:)) else { throw TokenError.missingClaim("sid") }
        guard let issuedAt = claims["iat"]?.numericDate, let expires = claims["exp"]?.numericDate else { throw TokenError.missingClaim("iat") }
        return AccessTokenClaims(subject: subject, sessionID: session, issuedAt: issuedAt, expires: expires)
    }

    /// Makes a new key current. The old key keeps verifying until every token it signed has expired,
    /// then leaves the JWKS; keys past that are deleted. Other replicas learn the new key from its first token.
    public func rotate() async throws {
        let at = now()
        try await repository.rotate(to: SigningKeySet.generate(), at: at, deletingRetiredBefore: at.addingTimeInterval(-retention))
        _ = try await cache.reload()
    }

    /// The JWKS document (RFC 7517 §5) of every key that still verifies: public members only.
    public func jwks() async throws -> Data {
        let keys = try await cache.current(maximumAge: reloadInterval)
        return JSONValue.object(["keys": .array(keys.publicJWKs)]).sortedJSON()
    }

    private func verifier(for kid: String) async throws -> JWTKeyCollection {
        if let known = try await cache.current().verifiers[kid] { return known }
        if let reloaded = try await cache.reloadForUnknownKey(), let known = reloaded.verifiers[kid] { return known }
        throw TokenError.unknownKey
    }
}

/// A JWT payload as plain JSON: claims are checked after the signature, each failure with its own error.
struct ClaimSet: JWTPayload {
    let claims: [String: JSONValue]

    init(claims: [String: JSONValue]) {
        self.claims = claims
    }

    init(from decoder: any Decoder) throws {
        claims = try decoder.singleValueContainer().decode([String: JSONValue].self)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(claims)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
