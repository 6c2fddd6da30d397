public import Foundation
import PostgresNIO
public import RosterAuth

/// Who a session belongs to.
public enum SessionSubject: Sendable, Hashable {
    case user(UUID)
    case key(UUID)
}

/// Signed-in admin sessions and their rotating refresh tokens (0009_admin_identity.sql). A refresh token
/// is stored only as its SHA-256; each use replaces it, and a used one presented again ends the session.
public struct AdminSessions: SessionLiveness {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// Starts a session with its first refresh token, and records the sign-in.
    public func start(
        _ subject: SessionSubject, refreshLifetime: Duration, sourceAddress: String?, by context: AuditContext
    ) async throws -> (session: UUID, refresh: Secret) {
        let refresh = Secret.generate(.refreshToken)
        let (user, key): (UUID?, UUID?) =
            switch subject {
            case .user(let id): (id, nil)
            case .key(let id): (nil, id)
            }
        let rows = try await database.query(
            """
            WITH session AS (
                INSERT INTO admin_sessions (user_id, key_id, source_address) VALUES (\(user), \(key), \(sourceAddress)) RETURNING id, user_id, key_id),
            token AS (
                INSERT INTO admin_refresh_tokens (token_hash, session_id, expires)
                SELECT \(refresh.hash), id, now() + \(refreshLifetime.timeInterval) * interval '1 second' FROM session),
            login AS (UPDATE admin_users SET last_login = now() WHERE id = \(user)),
            audit AS (\(audit: .signedIn, by: context, from: "session", tenant: "NULL::uuid", target: "session.id",
                          details: "jsonb_strip_nulls(jsonb_build_object('user_id', session.user_id, 'key_id', session.key_id))"))
            SELECT id FROM session
            """)
        guard let session = try rows.first?.decode(UUID.self) else { throw StoreError.notFound("session") }
        return (session, refresh)
    }

    public enum Refresh: Sendable, Equatable {
        case rotated(session: UUID, subject: SessionSubject, refresh: Secret)
        /// The token was used before: the session is now revoked (theft detection).
        case reused
        /// Unknown, expired, or its session ended.
        case invalid

        public static func == (a: Refresh, b: Refresh) -> Bool {
            switch (a, b) {
            case (.rotated(let s1, let u1, let r1), .rotated(let s2, let u2, let r2)): s1 == s2 && u1 == u2 && r1.hash == r2.hash
            case (.reused, .reused), (.invalid, .invalid): true
            default: false
            }
        }
    }

    /// Uses a refresh token once: marks it used and issues its successor. The token's row is locked first, so of
    /// concurrent presentations one rotates and every other one sees it used and revokes the session (theft detection).
    public func refresh(_ presented: Secret, lifetime: Duration, by context: AuditContext) async throws -> Refresh {
        guard presented.kind == .refreshToken else { return .invalid }
        let next = Secret.generate(.refreshToken)
        return try await database.transaction { connection in
            // Presentations of one token queue here; a waiter gets the row as its predecessor committed it.
            let locked = try await connection.query(
                "SELECT used IS NOT NULL FROM admin_refresh_tokens WHERE token_hash = \(presented.hash) FOR UPDATE",
                logger: database.logger
            ).collect()
            guard let alreadyUsed = try locked.first?.decode(Bool.self) else { return .invalid }
            // READ COMMITTED: each statement below reads a snapshot taken after the lock was granted.
            if alreadyUsed {
                let rows = try await connection.query(
                    """
                    WITH reused AS (
                        UPDATE admin_sessions s SET revoked = now(), revoked_reason = 'refresh token reused'
                        FROM admin_refresh_tokens t
                        WHERE t.token_hash = \(presented.hash) AND s.id = t.session_id AND s.revoked IS NULL
                        RETURNING s.id, s.user_id),
                    audit AS (\(audit: .refreshReused, by: context, from: "reused", tenant: "NULL::uuid", target: "reused.id",
                                  details: "jsonb_strip_nulls(jsonb_build_object('user_id', reused.user_id))"))
                    SELECT id FROM reused
                    """, logger: database.logger
                ).collect()
                return rows.isEmpty ? .invalid : .reused
            }
            let rows = try await connection.query(
                """
                WITH used AS (
                    UPDATE admin_refresh_tokens t SET used = now()
                    FROM admin_sessions s
                    WHERE t.token_hash = \(presented.hash) AND t.used IS NULL AND t.expires > now()
                      AND s.id = t.session_id AND s.revoked IS NULL
                      AND NOT EXISTS (SELECT 1 FROM admin_users u WHERE u.id = s.user_id AND u.disabled IS NOT NULL)
                      AND NOT EXISTS (SELECT 1 FROM admin_keys k WHERE k.id = s.key_id AND (k.revoked IS NOT NULL OR k.expires <= now()))
                    RETURNING s.id, s.user_id, s.key_id),
                successor AS (
                    INSERT INTO admin_refresh_tokens (token_hash, session_id, expires)
                    SELECT \(next.hash), id, now() + \(lifetime.timeInterval) * interval '1 second' FROM used)
                SELECT id, user_id, key_id FROM used
                """, logger: database.logger
            ).collect()
            guard let (session, user, key) = try rows.first?.decode((UUID, UUID?, UUID?).self) else { return .invalid }
            if let user { return .rotated(session: session, subject: .user(user), refresh: next) }
            if let key { return .rotated(session: session, subject: .key(key), refresh: next) }
            return .invalid
        }
    }

    /// Ends the session a refresh token belongs to; false when the token is unknown or its session already ended.
    public func revoke(refresh presented: Secret, by context: AuditContext) async throws -> Bool {
        guard presented.kind == .refreshToken else { return false }
        let rows = try await database.query(
            """
            WITH session AS (
                UPDATE admin_sessions s SET revoked = now(), revoked_reason = 'revoked'
                FROM admin_refresh_tokens t
                WHERE t.token_hash = \(presented.hash) AND s.id = t.session_id AND s.revoked IS NULL
                RETURNING s.id, s.user_id),
            audit AS (\(audit: .sessionRevoked, by: context, from: "session", tenant: "NULL::uuid", target: "session.id",
                          details: "jsonb_strip_nulls(jsonb_build_object('user_id', session.user_id))"))
            SELECT id FROM session
            """)
        return !rows.isEmpty
    }

    /// Ends a session by id (an access token's `sid`); false when it already ended.
    public func revoke(session: UUID, by context: AuditContext) async throws -> Bool {
        let rows = try await database.query(
            """
            WITH session AS (
                UPDATE admin_sessions SET revoked = now(), revoked_reason = 'revoked' WHERE id = \(session) AND revoked IS NULL
                RETURNING id, user_id),
            audit AS (\(audit: .sessionRevoked, by: context, from: "session", tenant: "NULL::uuid", target: "session.id",
                          details: "jsonb_strip_nulls(jsonb_build_object('user_id', session.user_id))"))
            SELECT id FROM session
            """)
        return !rows.isEmpty
    }

    /// Whether a session is live: not revoked, and its user not disabled / its key not revoked or expired.
    public func isActive(_ session: UUID) async throws -> Bool {
        let rows = try await database.query(
            """
            SELECT 1 FROM admin_sessions s
            LEFT JOIN admin_users u ON u.id = s.user_id
            LEFT JOIN admin_keys k ON k.id = s.key_id
            WHERE s.id = \(session) AND s.revoked IS NULL AND u.disabled IS NULL
              AND k.revoked IS NULL AND (k.expires IS NULL OR k.expires > now())
            """)
        return !rows.isEmpty
    }

    // MARK: Failed logins

    /// Records a failed sign-in: the email as typed (lowercased), or that an admin key was refused; never the
    /// password or the key.
    public func recordFailedLogin(email: String?, user: UUID?, by context: AuditContext) async throws {
        try await database.query(
            """
            WITH attempt AS (SELECT \(user)::uuid AS user_id, lower(\(email)::text) AS email, \(email == nil ? "admin_key" : "password") AS method),
            audit AS (\(audit: .loginFailed, by: context, from: "attempt", tenant: "NULL::uuid", target: "attempt.user_id",
                          details: "jsonb_strip_nulls(jsonb_build_object('email', attempt.email, 'method', attempt.method))"))
            SELECT 1
            """)
    }
}
