public import Foundation
import PostgresNIO

/// A person who administers Roster (0009_admin_identity.sql).
public struct AdminUserRecord: Sendable, Equatable {
    public var id: UUID
    public var email: String
    public var displayName: String?
    /// Whether the user can sign in with a password (else only through a trusted OIDC issuer).
    public var hasPassword: Bool
    public var created: Date
    public var lastLogin: Date?
    public var disabled: Date?
}

/// What changes on an admin user; nil leaves a field as it is.
public struct AdminUserChange: Sendable {
    public var displayName: String??
    public var passwordHash: String??
    public var disabled: Bool?

    public init(displayName: String?? = nil, passwordHash: String?? = nil, disabled: Bool? = nil) {
        self.displayName = displayName
        self.passwordHash = passwordHash
        self.disabled = disabled
    }
}

public struct AdminUsers: Sendable {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    static let columns = "id, email, display_name, password_hash IS NOT NULL, created, last_login, disabled"

    /// Creates a user with its audit entry; a taken email (any case) is `StoreError.uniqueness`.
    public func create(email: String, displayName: String?, passwordHash: String?, by context: AuditContext) async throws -> AdminUserRecord {
        let rows = try await database.query(
            """
            WITH admin_user AS (
                INSERT INTO admin_users (email, display_name, password_hash) VALUES (\(email), \(displayName), \(passwordHash))
                RETURNING *),
            audit AS (\(audit: .adminUserCreated, by: context, from: "admin_user", tenant: "NULL::uuid", target: "admin_user.id",
                          details: "jsonb_strip_nulls(jsonb_build_object('email', admin_user.email, 'display_name', admin_user.display_name))"))
            SELECT \(unescaped: Self.columns) FROM admin_user
            """)
        guard let record = try Self.decode(rows).first else { throw StoreError.notFound("admin user") }
        return record
    }

    /// A page of admin users, oldest first.
    public func page(after position: CreatedPosition?, limit: Int) async throws -> ListPage<AdminUserRecord, CreatedPosition> {
        let rows = try await database.query(
            """
            SELECT \(unescaped: Self.columns), \(unescaped: CreatedPosition.createdColumn) FROM admin_users
            WHERE \(after: position) ORDER BY created, id LIMIT \(limit + 1)
            """)
        return try .inCreationOrder(rows, limit: limit, decode: Self.decode, id: \.id)
    }

    /// Every admin user, oldest first.
    public func list() async throws -> [AdminUserRecord] {
        try await ListPage.all { try await page(after: $0, limit: $1) }
    }

    public func get(id: UUID) async throws -> AdminUserRecord? {
        try await Self.decode(database.query("SELECT \(unescaped: Self.columns) FROM admin_users WHERE id = \(id)")).first
    }

    public func find(email: String) async throws -> AdminUserRecord? {
        try await Self.decode(database.query("SELECT \(unescaped: Self.columns) FROM admin_users WHERE lower(email) = lower(\(email))")).first
    }

    /// The user a password login names, with the password hash to check; nil when there is none.
    public func credentials(email: String) async throws -> (user: AdminUserRecord, passwordHash: String?)? {
        let rows = try await database.query(
            "SELECT \(unescaped: Self.columns), password_hash FROM admin_users WHERE lower(email) = lower(\(email))")
        guard let row = rows.first else { return nil }
        let hash = try row.decode((UUID, String, String?, Bool, Date, Date?, Date?, String?).self).7
        return try (Self.decode([row])[0], hash)
    }

    /// Applies a change with its audit entry (what changed, never a password); nil when there is no such user.
    /// A new password or disabling ends the user's sessions, all but `keeping` (the session that changed its own password).
    public func update(id: UUID, _ change: AdminUserChange, keeping session: UUID? = nil, by context: AuditContext) async throws -> AdminUserRecord? {
        // Field names from this closed list only: they are written into the statement's text.
        var changed: [String] = []
        if change.displayName != nil { changed.append("display_name") }
        if change.passwordHash != nil { changed.append("password") }
        if change.disabled != nil { changed.append("disabled") }
        // Whoever held the old password, or signed in before the user was disabled, must sign in again.
        let endsSessions = change.passwordHash != nil || change.disabled == true
        let rows = try await database.query(
            """
            WITH admin_user AS (
                UPDATE admin_users SET
                    display_name = CASE WHEN \(change.displayName != nil) THEN \(change.displayName ?? nil) ELSE display_name END,
                    password_hash = CASE WHEN \(change.passwordHash != nil) THEN \(change.passwordHash ?? nil) ELSE password_hash END,
                    disabled = CASE WHEN \(change.disabled)::boolean IS NULL THEN disabled
                                    WHEN \(change.disabled)::boolean THEN coalesce(disabled, now()) ELSE NULL END
                WHERE id = \(id)
                RETURNING *),
            ended AS (
                UPDATE admin_sessions s SET revoked = now(), revoked_reason = \(change.disabled == true ? "user disabled" : "password changed")
                FROM admin_user
                WHERE s.user_id = admin_user.id AND s.revoked IS NULL AND \(endsSessions)
                  AND (\(change.disabled == true) OR s.id IS DISTINCT FROM \(session)::uuid)
                RETURNING s.id),
            audit AS (\(audit: .adminUserUpdated, by: context, from: "admin_user", tenant: "NULL::uuid", target: "admin_user.id",
                          details: "jsonb_build_object('email', admin_user.email, 'changed', to_jsonb('{\(changed.joined(separator: ","))}'::text[]), 'disabled', admin_user.disabled IS NOT NULL, 'sessions_ended', (SELECT count(*) FROM ended))"))
            SELECT \(unescaped: Self.columns) FROM admin_user
            """)
        return try Self.decode(rows).first
    }

    /// Deletes a user (their grants, keys and sessions go with them), with its audit entry.
    public func delete(id: UUID, by context: AuditContext) async throws -> Bool {
        let rows = try await database.query(
            """
            WITH admin_user AS (DELETE FROM admin_users WHERE id = \(id) RETURNING id, email),
            audit AS (\(audit: .adminUserDeleted, by: context, from: "admin_user", tenant: "NULL::uuid", target: "admin_user.id",
                          details: "jsonb_build_object('email', admin_user.email)"))
            SELECT id FROM admin_user
            """)
        return !rows.isEmpty
    }

    /// Whether no admin user exists yet: the first-owner bootstrap's condition.
    public func isEmpty() async throws -> Bool {
        try await database.query("SELECT NOT EXISTS (SELECT 1 FROM admin_users)").first?.decode(Bool.self) ?? true
    }

    static func decode(_ rows: [PostgresRow]) throws -> [AdminUserRecord] {
        try rows.map { row in
            let (id, email, displayName, hasPassword, created, lastLogin, disabled) = try row.decode(
                (UUID, String, String?, Bool, Date, Date?, Date?).self)
            return AdminUserRecord(
                id: id, email: email, displayName: displayName, hasPassword: hasPassword, created: created, lastLogin: lastLogin,
                disabled: disabled)
        }
    }
}
