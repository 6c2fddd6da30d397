import Foundation

/// How an admin identity is found among a tenant's provisioned SCIM users.
public struct DirectoryMatch: Sendable, Hashable {
    public enum Attribute: String, Sendable, Hashable, Codable, CaseIterable {
        case userName
        case emails
        case externalId
    }

    public var attribute: Attribute
    public var value: String

    public init(attribute: Attribute, value: String) {
        self.attribute = attribute
        self.value = value
    }
}

/// A role named by an OIDC token's claim, on every tenant (nil) or on one (a name or id).
public struct NamedRole: Sendable, Hashable {
    public var role: String
    public var tenant: String?

    public init(role: String, tenant: String? = nil) {
        self.role = role
        self.tenant = tenant
    }
}
