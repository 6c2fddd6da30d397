public import Foundation
public import SCIM

/// A JWS `alg` value (RFC 7518 §3.1) as configured or presented. Only asymmetric algorithms are ever accepted.
public struct JWSAlgorithm: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    public static let rs256: JWSAlgorithm = "RS256", rs384: JWSAlgorithm = "RS384", rs512: JWSAlgorithm = "RS512"
    public static let ps256: JWSAlgorithm = "PS256", ps384: JWSAlgorithm = "PS384", ps512: JWSAlgorithm = "PS512"
    public static let es256: JWSAlgorithm = "ES256", es384: JWSAlgorithm = "ES384", es512: JWSAlgorithm = "ES512"
    public static let eddsa: JWSAlgorithm = "EdDSA"

    /// Every algorithm a trusted issuer may be configured with.
    public static let supported: [JWSAlgorithm] = [.rs256, .rs384, .rs512, .ps256, .ps384, .ps512, .es256, .es384, .es512, .eddsa]
    /// What an issuer is trusted with when its configuration names none: what Entra ID, Okta, Auth0, Keycloak and Google sign with.
    public static let defaultAllowed: [JWSAlgorithm] = [.rs256, .es256, .eddsa]

    /// Why this algorithm can never be accepted from an issuer, whatever the configuration says; nil when it can.
    public var refusal: String? {
        if rawValue.lowercased() == "none" { return "'none' is never accepted: such a token carries no signature." }
        if rawValue.uppercased().hasPrefix("HS") {
            return "'\(rawValue)' is never accepted: it is symmetric (HMAC), so the verifier's key could sign too, and a token signed with the issuer's public key as the HMAC secret would pass."
        }
        if !Self.supported.contains(self) {
            return "'\(rawValue)' is not a supported algorithm; use one of \(Self.supported.map(\.rawValue).joined(separator: ", "))."
        }
        return nil
    }
}

/// A claim named by configuration: a top-level claim ("groups"), or a dotted path into nested objects
/// ("realm_access.roles", Keycloak's realm roles).
public struct ClaimPath: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    /// The claim's value; a claim named with dots itself ("https://example.com/roles", Auth0) is found before the path is followed.
    public func value(in claims: [String: JSONValue]) -> JSONValue? {
        if let whole = claims[rawValue] { return whole }
        var value: JSONValue? = .object(claims)
        for component in rawValue.split(separator: ".", omittingEmptySubsequences: false) {
            value = value?[String(component)]
        }
        return value
    }
}

/// Which attribute of a provisioned SCIM user the token's user claim is matched against.
public enum UserAttribute: String, Codable, Sendable, CaseIterable {
    case userName
    /// The IdP's own id for the user, where Entra ID (mapped from objectId) and Okta provision it.
    case externalId
    /// Any of the user's `emails[].value`.
    case emails
}

/// A tenant named in configuration: by id when the text is a UUID, else by name.
public enum TenantReference: Codable, Sendable, Hashable, CustomStringConvertible {
    case id(UUID)
    case name(String)

    public init(_ text: String) {
        self = UUID(uuidString: text).map(TenantReference.id) ?? .name(text)
    }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public var description: String {
        switch self {
        case .id(let id): id.uuidString.lowercased()
        case .name(let name): name
        }
    }
}

/// A role granted to whoever's token carries `claimValue` in the issuer's roles claim.
public struct RoleMapping: Codable, Sendable, Hashable {
    /// A group or role as the IdP writes it, e.g. "roster-admins" or an Entra group's object id.
    public var claimValue: String
    /// The Roster role granted.
    public var role: String
    /// The tenant the role is granted on; nil: every tenant (a global role).
    public var tenant: TenantReference?

    public init(claimValue: String, role: String, tenant: TenantReference? = nil) {
        self.claimValue = claimValue
        self.role = role
        self.tenant = tenant
    }
}

/// A Roster role granted by a verified token.
public struct RoleGrant: Sendable, Hashable {
    public var role: String
    public var tenant: TenantReference?

    public init(role: String, tenant: TenantReference? = nil) {
        self.role = role
        self.tenant = tenant
    }
}

/// An OIDC issuer whose access tokens the admin API accepts, as the operator configures it.
public struct TrustedIssuer: Codable, Sendable, Hashable {
    /// The exact `iss` of its tokens.
    public var issuer: String
    /// The `aud` its tokens must name for Roster.
    public var audience: String
    public var jwksURL: URL
    public var algorithms: [JWSAlgorithm]
    /// The claim holding the user's groups or roles; nil: the issuer grants no roles.
    public var rolesClaim: ClaimPath?
    public var roleMappings: [RoleMapping]
    /// The tenants whose SCIM users (and their groups' roles) a token may be matched to; empty: none, only `roleMappings` apply.
    public var directoryTenants: [TenantReference]
    /// The claim matched against a provisioned user: an immutable id (`sub`; Entra ID's `oid`), never one the user can change.
    public var userClaim: ClaimPath
    /// The user attribute `userClaim` is matched against.
    public var userAttribute: UserAttribute
    /// Accept tokens whose `typ` is absent or the generic `JWT` (IdPs that do not type access tokens per RFC 9068).
    public var allowUntypedAccessTokens: Bool

    public static let defaultUserClaim: ClaimPath = "sub"
    public static let defaultUserAttribute: UserAttribute = .externalId

    public init(
        issuer: String, audience: String, jwksURL: URL, algorithms: [JWSAlgorithm] = JWSAlgorithm.defaultAllowed,
        rolesClaim: ClaimPath? = nil, roleMappings: [RoleMapping] = [], directoryTenants: [TenantReference] = [],
        userClaim: ClaimPath = TrustedIssuer.defaultUserClaim, userAttribute: UserAttribute = TrustedIssuer.defaultUserAttribute,
        allowUntypedAccessTokens: Bool = false
    ) {
        self.issuer = issuer
        self.audience = audience
        self.jwksURL = jwksURL
        self.algorithms = algorithms
        self.rolesClaim = rolesClaim
        self.roleMappings = roleMappings
        self.directoryTenants = directoryTenants
        self.userClaim = userClaim
        self.userAttribute = userAttribute
        self.allowUntypedAccessTokens = allowUntypedAccessTokens
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case issuer, audience, jwksURL, algorithms, rolesClaim, roleMappings, directoryTenants, userClaim, userAttribute, allowUntypedAccessTokens
    }

    /// Only issuer, audience and jwksURL are required; the rest take the defaults of `init`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            issuer: try container.decode(String.self, forKey: .issuer),
            audience: try container.decode(String.self, forKey: .audience),
            jwksURL: try container.decode(URL.self, forKey: .jwksURL),
            algorithms: try container.decodeIfPresent([JWSAlgorithm].self, forKey: .algorithms) ?? JWSAlgorithm.defaultAllowed,
            rolesClaim: try container.decodeIfPresent(ClaimPath.self, forKey: .rolesClaim),
            roleMappings: try container.decodeIfPresent([RoleMapping].self, forKey: .roleMappings) ?? [],
            directoryTenants: try container.decodeIfPresent([TenantReference].self, forKey: .directoryTenants) ?? [],
            userClaim: try container.decodeIfPresent(ClaimPath.self, forKey: .userClaim) ?? Self.defaultUserClaim,
            userAttribute: try container.decodeIfPresent(UserAttribute.self, forKey: .userAttribute) ?? Self.defaultUserAttribute,
            allowUntypedAccessTokens: try container.decodeIfPresent(Bool.self, forKey: .allowUntypedAccessTokens) ?? false)
    }

    /// The algorithms verification accepts: those configured, less any that may never be accepted.
    var acceptedAlgorithms: Set<JWSAlgorithm> { Set(algorithms.filter { $0.refusal == nil }) }

    /// What is wrong with this configuration, one sentence each; empty when it can be used.
    /// - Parameter allowInsecureLoopback: whether `http://` is allowed for a loopback JWKS URL (`roster dev`, tests).
    public func validate(allowInsecureLoopback: Bool = false) -> [String] {
        var problems: [String] = []
        if issuer.trimmingCharacters(in: .whitespaces).isEmpty { problems.append("'issuer' must not be empty.") }
        if audience.trimmingCharacters(in: .whitespaces).isEmpty { problems.append("'audience' must not be empty.") }
        if let problem = JWKSURLPolicy(allowInsecureLoopback: allowInsecureLoopback).problem(with: jwksURL) { problems.append(problem) }
        if algorithms.isEmpty { problems.append("'algorithms' must name at least one algorithm.") }
        problems += algorithms.compactMap(\.refusal).map { "'algorithms': \($0)" }
        if let rolesClaim, rolesClaim.rawValue.isEmpty { problems.append("'rolesClaim' must not be empty.") }
        if rolesClaim == nil, !roleMappings.isEmpty { problems.append("'roleMappings' need a 'rolesClaim' to read the roles from.") }
        for (index, mapping) in roleMappings.enumerated() {
            if mapping.claimValue.isEmpty { problems.append("'roleMappings[\(index)].claimValue' must not be empty.") }
            if mapping.role.isEmpty { problems.append("'roleMappings[\(index)].role' must not be empty.") }
        }
        if userClaim.rawValue.isEmpty { problems.append("'userClaim' must not be empty.") }
        for (index, tenant) in directoryTenants.enumerated() where tenant.description.isEmpty {
            problems.append("'directoryTenants[\(index)]' must name a tenant (its name or id).")
        }
        return problems
    }
}
