public import Foundation

/// Who a SCIM request acts as: the token decides the tenant.
public struct ScimPrincipal: Sendable, Hashable {
    public var tenantID: UUID
    public var tokenID: UUID

    public init(tenantID: UUID, tokenID: UUID) {
        self.tenantID = tenantID
        self.tokenID = tokenID
    }
}
