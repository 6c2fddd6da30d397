public import Foundation
import JWTKit
public import Logging
public import RosterOutbound
import SCIM

/// How a verified token names its user: the value of the issuer's user claim, the SCIM attribute it matches,
/// and the only tenants whose users it may match (the issuer's `directoryTenants`).
public struct UserMatch: Sendable, Hashable {
    public var attribute: UserAttribute
    public var value: String
    public var tenants: [TenantReference]

    public init(attribute: UserAttribute, value: String, tenants: [TenantReference]) {
        self.attribute = attribute
        self.value = value
        self.tenants = tenants
    }
}

/// What a trusted issuer's verified access token says about its bearer.
public struct VerifiedOIDCToken: Sendable, Equatable {
    public var issuer: String
    /// `sub`: the bearer's stable id at the issuer.
    public var subject: String
    /// nil when the issuer names no directory tenants: its tokens match no SCIM user.
    public var user: UserMatch?
    /// The roles the issuer's role mappings grant for the token's roles claim, each once, in mapping order.
    public var roleGrants: [RoleGrant]
    public var expires: Date
}

/// A trusted-issuer configuration that cannot be used; each problem names its issuer.
public struct OIDCConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var problems: [String]

    public init(problems: [String]) {
        self.problems = problems
    }

    public var description: String { "Trusted issuers are misconfigured: " + problems.joined(separator: " ") }
}

/// Verifies access tokens from the operator's trusted OIDC issuers.
///
/// The issuer is chosen by the token's (unverified) `iss`; the signature is then verified with that
/// issuer's JWKS, fetched over HTTPS and held in memory. An unknown `kid` refetches the JWKS at most
/// once per `refetchInterval`; keys older than `maximumKeyAge` are refetched on next use. `alg: none`
/// and symmetric algorithms are never accepted, whatever the configuration says.
public final class OIDCVerifier: Sendable {
    public static let defaultRefetchInterval: Duration = .seconds(60)
    public static let defaultMaximumKeyAge: Duration = .seconds(3600)

    private struct Trusted: Sendable {
        let configuration: TrustedIssuer
        let keys: KeySetCache<IssuerKeySet>
    }

    public let issuers: [TrustedIssuer]
    private let trusted: [String: Trusted]
    private let maximumKeyAge: Duration
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - allowInsecureLoopback: allow `http://` JWKS URLs on a loopback host (`roster dev`, tests), and JWKS
    ///     fetches to loopback and private addresses; never http to other hosts.
    ///   - resolver: resolves JWKS hosts for the outbound policy (a stub in tests).
    /// - Throws: `OIDCConfigurationError` when an issuer fails `TrustedIssuer.validate` or is configured twice.
    public init(
        issuers: [TrustedIssuer], allowInsecureLoopback: Bool = false, resolver: any HostResolver = SystemResolver(),
        refetchInterval: Duration = OIDCVerifier.defaultRefetchInterval, maximumKeyAge: Duration = OIDCVerifier.defaultMaximumKeyAge,
        now: @escaping @Sendable () -> Date = Date.init, logger: Logger = Logger(label: "roster.auth.oidc")
    ) throws {
        var problems: [String] = []
        var trusted: [String: Trusted] = [:]
        for issuer in issuers {
            problems += issuer.validate(allowInsecureLoopback: allowInsecureLoopback).map { "Issuer '\(issuer.issuer)': \($0)" }
            if trusted[issuer.issuer] != nil { problems.append("Issuer '\(issuer.issuer)' is configured twice.") }
            let fetcher = JWKSFetcher(
                url: issuer.jwksURL, policy: JWKSURLPolicy(allowInsecureLoopback: allowInsecureLoopback, resolver: resolver),
                algorithms: issuer.acceptedAlgorithms, logger: logger)
            trusted[issuer.issuer] = Trusted(
                configuration: issuer,
                keys: KeySetCache(minimumInterval: refetchInterval, logger: logger) {
                    do {
                        return try await fetcher.fetch()
                    } catch let TokenError.jwksUnavailable(reason) {
                        // The detail is the operator's (upstream host, status, error), never the bearer's: log it once per fetch.
                        logger.warning("A trusted issuer's signing keys could not be fetched", metadata: ["issuer": "\(issuer.issuer)", "reason": "\(reason)"])
                        throw TokenError.jwksUnavailable(reason)
                    }
                })
        }
        guard problems.isEmpty else { throw OIDCConfigurationError(problems: problems) }
        self.issuers = issuers
        self.trusted = trusted
        self.maximumKeyAge = maximumKeyAge
        self.now = now
    }

    /// The bearer of a trusted issuer's access token; throws `TokenError` for any token it does not accept.
    public func verify(_ token: String) async throws -> VerifiedOIDCToken {
        let jws = try CompactJWS(token)
        let algorithm = JWSAlgorithm(rawValue: jws.algorithm)
        if algorithm.refusal != nil { throw TokenError.disallowed(jws.algorithm) }
        guard let claimedIssuer = jws.claims["iss"]?.stringValue else { throw TokenError.missingClaim("iss") }
        guard let trusted = trusted[claimedIssuer] else { throw TokenError.unknownIssuer }
        let issuer = trusted.configuration
        guard issuer.acceptedAlgorithms.contains(algorithm) else { throw TokenError.disallowed(jws.algorithm) }

        let keys = try await key(kid: jws.keyID, algorithm: algorithm, of: trusted)
        let claims = try await SignatureCheck.verify(token, with: keys, as: ClaimSet.self).claims
        guard claims["iss"]?.stringValue == issuer.issuer else { throw TokenError.wrongIssuer }
        guard Self.isAccessToken(type: jws.type, allowingUntyped: issuer.allowUntypedAccessTokens) else {
            throw TokenError.notAnAccessToken(typ: jws.type)
        }
        guard claims["aud"]?.audiences.contains(issuer.audience) == true else { throw TokenError.wrongAudience }
        try TokenValidity.check(
            expires: claims["exp"]?.numericDate, notBefore: claims["nbf"]?.numericDate, issuedAt: claims["iat"]?.numericDate, now: now())
        guard let subject = claims["sub"]?.stringValue, !subject.isEmpty else { throw TokenError.missingClaim("sub") }
        var user: UserMatch?
        if !issuer.directoryTenants.isEmpty {
            guard let value = issuer.userClaim.value(in: claims)?.stringValue, !value.isEmpty else {
                throw TokenError.missingClaim(issuer.userClaim.rawValue)
            }
            user = UserMatch(attribute: issuer.userAttribute, value: value, tenants: issuer.directoryTenants)
        }
        return VerifiedOIDCToken(
            issuer: issuer.issuer, subject: subject, user: user, roleGrants: Self.grants(claims, issuer),
            expires: claims["exp"]?.numericDate ?? now())
    }

    /// RFC 9068 §4: `at+jwt`, or `application/at+jwt` (RFC 7515 §4.1.9: a `typ` without '/' has `application/`
    /// implied; media types compare case-insensitively). Untyped: no `typ`, or the generic `JWT` (Entra ID v2, Keycloak).
    static func isAccessToken(type: String?, allowingUntyped: Bool) -> Bool {
        guard let type else { return allowingUntyped }
        var mediaType = type.lowercased()
        if !mediaType.contains("/") { mediaType = "application/" + mediaType }
        return mediaType == "application/at+jwt" || (allowingUntyped && mediaType == "application/jwt")
    }

    private func key(kid: String?, algorithm: JWSAlgorithm, of trusted: Trusted) async throws -> JWTKeyCollection {
        if let known = try await trusted.keys.current(maximumAge: maximumKeyAge).key(kid: kid, algorithm: algorithm) { return known }
        // The issuer may have rotated since the last fetch; rate-limited, so made-up kids cost one fetch per interval.
        if let refetched = try await trusted.keys.reloadForUnknownKey(), let known = refetched.key(kid: kid, algorithm: algorithm) { return known }
        throw TokenError.unknownKey
    }

    /// The grants of every mapping whose value the roles claim holds (an array of strings, or one string,
    /// which may be space-separated like OAuth's `scope`).
    static func grants(_ claims: [String: JSONValue], _ issuer: TrustedIssuer) -> [RoleGrant] {
        guard let value = issuer.rolesClaim?.value(in: claims) else { return [] }
        var held = Set(value.arrayValue?.compactMap(\.stringValue) ?? [])
        if let single = value.stringValue {
            held.insert(single)
            held.formUnion(single.split(whereSeparator: \.isWhitespace).map(String.init))
        }
        var grants: [RoleGrant] = []
        for mapping in issuer.roleMappings where held.contains(mapping.claimValue) {
            let grant = RoleGrant(role: mapping.role, tenant: mapping.tenant)
            if !grants.contains(grant) { grants.append(grant) }
        }
        return grants
    }
}
