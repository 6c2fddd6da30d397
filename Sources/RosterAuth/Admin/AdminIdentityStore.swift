public import Foundation

// What the admin authenticator reads from storage. RosterStore implements each (AdminKeyRepository,
// RoleResolution, AdminSessions, OIDCRightsRepository), so this module decides and the store only persists.

/// Live admin keys, by secret or by id.
public protocol AdminKeyLookup: Sendable {
    /// The key a presented secret names, when it is live (not revoked, not expired, its makers live).
    func authenticate(_ secret: Secret) async throws -> AuthenticatedKey?
    /// Why a well-formed secret was refused, asked only after `authenticate` found nothing.
    func rejection(of secret: Secret) async throws -> CredentialRejection
    /// The key with this id, when it is live.
    func live(id: UUID) async throws -> AuthenticatedKey?
}

/// An admin identity's rights as the roles granted to it, and to its directory groups, say now.
public protocol RoleResolving: Sendable {
    /// With `activeGroup`, only that group's roles count, and only when the identity is a member of it;
    /// `matchTenants` confines `match` to those tenants' users (nil: any tenant's).
    func resolve(
        user: UUID?, match: DirectoryMatch?, matchTenants: [String]?, named: [NamedRole], activeGroup: String?
    ) async throws -> RoleOutcome
    /// An admin user's rights; nil when the user does not exist or is disabled.
    func resolve(adminUser id: UUID, attribute: DirectoryMatch.Attribute, activeGroup: String?) async throws -> RoleOutcome?
}

/// Whether an admin session (an access token's `sid`) may still be used.
public protocol SessionLiveness: Sendable {
    func isActive(_ session: UUID) async throws -> Bool
}

/// Where a trusted issuer's subject's latest rights are kept, to bound the keys it makes.
public protocol OIDCRightsRecording: Sendable {
    func record(_ rights: OIDCRights) async throws
}

/// What an identity may do right now, as resolved from its roles.
public enum RoleOutcome: Sendable, Equatable {
    case granted(AdminGrants)
    /// An active group was named that the identity does not belong to.
    case notAMember
}
