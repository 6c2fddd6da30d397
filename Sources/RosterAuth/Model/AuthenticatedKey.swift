public import Foundation

/// A presented admin key that is live: its scopes, and its owners whose rights bound them.
public struct AuthenticatedKey: Sendable, Equatable {
    public var id: UUID
    public var tenantID: UUID?
    public var scopes: Set<AdminScope>
    public var owner: UUID?
    /// A trusted issuer's subject that made the key, with the rights its latest verified token resolved to.
    public var ownerSubject: OIDCRights? = nil
    /// The keys it descends from, its maker first, each live; their rights bound this one's.
    public var ancestors: [AuthenticatedKey] = []

    public init(id: UUID, tenantID: UUID?, scopes: Set<AdminScope>, owner: UUID?) {
        self.id = id
        self.tenantID = tenantID
        self.scopes = scopes
        self.owner = owner
    }

    /// The key's own rights, before its owner's bound them.
    public var grants: AdminGrants { AdminGrants(scopes: scopes, tenant: tenantID) }
}
