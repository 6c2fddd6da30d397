import Foundation
import PostgresNIO

extension AdminUsers {
    /// pg_advisory_xact_lock key for the first-owner bootstrap: "RstrOwnr" in ASCII.
    static let firstOwnerLock: Int64 = 0x5273_7472_4F77_6E72

    /// An admin user's email, trimmed; nil when it is not an address (at most 254 characters).
    public static func validEmail(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.count <= 254, trimmed.wholeMatch(of: /[^@\s]+@[^@\s]+\.[^@\s]+/) != nil else { return nil }
        return trimmed
    }

    /// Creates a user holding `roles` on every tenant, with the audit entries of the user and of each grant,
    /// in one statement: the user never exists without their roles. A taken email is `StoreError.uniqueness`.
    public func create(
        email: String, displayName: String?, passwordHash: String?, roles: [AdminRoleRecord], by context: AuditContext
    ) async throws -> AdminUserRecord {
        let rows = try await database.query(Self.creation(
            email: email, displayName: displayName, passwordHash: passwordHash, roles: roles.map(\.id), onlyIfFirst: false, by: context))
        guard let record = try Self.decode(rows).first else { throw StoreError.notFound("admin user") }
        return record
    }

    /// Creates the first admin user, holding the `owner` role, unless an admin user exists: nil then.
    /// Concurrent calls (replicas starting together) queue on an advisory lock, and each checks for a user
    /// only once it holds the lock, so exactly one of them creates the owner.
    public func createFirstOwner(email: String, displayName: String?, passwordHash: String, by context: AuditContext) async throws -> AdminUserRecord? {
        guard let owner = try await AdminRoles(database: database).find("owner") else { throw StoreError.notFound("role owner") }
        let statement = Self.creation(
            email: email, displayName: displayName, passwordHash: passwordHash, roles: [owner.id], onlyIfFirst: true, by: context)
        let rows = try await database.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.firstOwnerLock))", logger: database.logger)
            // READ COMMITTED: this statement's snapshot is taken after the lock, so it sees a user another caller committed.
            return try await connection.query(statement, logger: database.logger).collect()
        }
        return try Self.decode(rows).first
    }

    /// INSERT of a user and its global grants with their audit entries; with `onlyIfFirst`, only into an empty table.
    private static func creation(
        email: String, displayName: String?, passwordHash: String?, roles: [UUID], onlyIfFirst: Bool, by context: AuditContext
    ) -> PostgresQuery {
        """
        WITH admin_user AS (
            INSERT INTO admin_users (email, display_name, password_hash)
            SELECT \(email), \(displayName), \(passwordHash)
            WHERE NOT \(onlyIfFirst) OR NOT EXISTS (SELECT 1 FROM admin_users)
            RETURNING *),
        created AS (\(audit: .adminUserCreated, by: context, from: "admin_user", tenant: "NULL::uuid", target: "admin_user.id",
                        details: "jsonb_strip_nulls(jsonb_build_object('email', admin_user.email, 'display_name', admin_user.display_name))")),
        g AS (
            INSERT INTO admin_role_grants (role_id, user_id)
            SELECT r.id, admin_user.id FROM admin_user CROSS JOIN admin_roles r WHERE r.id = ANY(\(roles)::uuid[])
            RETURNING *),
        granted AS (\(audit: .roleGranted, by: context, from: "g JOIN admin_roles r ON r.id = g.role_id", tenant: "g.tenant_id", target: "g.role_id",
                        details: "jsonb_strip_nulls(jsonb_build_object('role', r.name, 'grant_id', g.id, 'user_id', g.user_id))"))
        SELECT \(unescaped: columns) FROM admin_user
        """
    }
}
