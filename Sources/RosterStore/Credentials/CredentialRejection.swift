import Foundation
import PostgresNIO
public import RosterAuth

extension ScimTokenRepository {
    public func rejection(of secret: Secret) async throws -> CredentialRejection {
        try await CredentialRejection.classify(database.query(
            "SELECT revoked IS NOT NULL, expires IS NOT NULL AND expires <= now() FROM scim_tokens WHERE token_hash = \(secret.hash)"))
    }
}

extension AdminKeyRepository {
    public func rejection(of secret: Secret) async throws -> CredentialRejection {
        try await CredentialRejection.classify(database.query(
            "SELECT revoked IS NOT NULL, expires IS NOT NULL AND expires <= now() FROM admin_keys WHERE key_hash = \(secret.hash)"))
    }
}

extension CredentialRejection {
    static func classify(_ rows: [PostgresRow]) throws -> CredentialRejection {
        guard let (revoked, expired) = try rows.first?.decode((Bool, Bool).self) else { return .unknown }
        return revoked ? .revoked : expired ? .expired : .unknown
    }
}
