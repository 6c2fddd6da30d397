import Foundation
import PostgresNIO
import RosterAuth

/// Sign-in attempts counted per account and per client address (0014_owned_keys_and_login_throttle.sql).
/// An attempt is counted before its password is checked, in one statement whose upserts lock the counters,
/// so parallel attempts cannot all read a count from before each other's.
public struct LoginAttempts: Sendable {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    /// The counters' limits within one window, which starts at a counter's first attempt.
    public struct Limits: Sendable, Equatable {
        public var perAccount: Int
        public var perAddress: Int
        public var window: Duration

        public init(perAccount: Int, perAddress: Int, window: Duration) {
            self.perAccount = perAccount
            self.perAddress = perAddress
            self.window = window
        }
    }

    public enum Admission: Sendable, Equatable {
        case admitted
        /// Over a limit: seconds until the fullest counter's window ends.
        case refused(retryAfter: Int)
    }

    /// Counts one attempt for `email` (nil: an admin-key sign-in, counted per address only) and the address
    /// (nil: all clients whose address is unknown share one counter), and says whether it may be checked.
    public func admit(email: String?, address: String?, limits: Limits) async throws -> Admission {
        let window = limits.window.timeInterval
        let (account, source) = (Self.accountKey(email), Self.addressKey(address))
        let rows = try await database.query(
            """
            WITH pruned AS (
                DELETE FROM admin_login_attempts WHERE key IN (
                    SELECT key FROM admin_login_attempts
                    WHERE window_start < now() - 2 * \(window) * interval '1 second' AND key <> \(source) AND key IS DISTINCT FROM \(account)
                    LIMIT 100))
            INSERT INTO admin_login_attempts AS a (key, window_start, attempts)
            SELECT key, now(), 1 FROM (VALUES (1, \(account)::text), (2, \(source)::text)) AS v (position, key)
            WHERE key IS NOT NULL ORDER BY position
            ON CONFLICT (key) DO UPDATE SET
                window_start = CASE WHEN a.window_start <= now() - \(window) * interval '1 second' THEN now() ELSE a.window_start END,
                attempts = CASE WHEN a.window_start <= now() - \(window) * interval '1 second' THEN 1 ELSE a.attempts + 1 END
            RETURNING key, attempts, extract(epoch FROM window_start + \(window) * interval '1 second' - now())::float8
            """)
        var retryAfter = 0
        for row in rows {
            let (key, attempts, remaining) = try row.decode((String, Int, Double).self)
            let limit = key == account ? limits.perAccount : limits.perAddress
            if attempts > limit { retryAfter = max(retryAfter, max(1, Int(remaining.rounded(.up)))) }
        }
        return retryAfter > 0 ? .refused(retryAfter: retryAfter) : .admitted
    }

    /// A sign-in succeeded: the account's count starts over, and the attempt no longer counts against the address.
    public func succeeded(email: String?, address: String?) async throws {
        try await database.query(
            """
            WITH account AS (DELETE FROM admin_login_attempts WHERE key = \(Self.accountKey(email)))
            UPDATE admin_login_attempts SET attempts = greatest(attempts - 1, 0) WHERE key = \(Self.addressKey(address))
            """)
    }

    static func accountKey(_ email: String?) -> String? { email.map { "account:" + $0.lowercased() } }

    static func addressKey(_ address: String?) -> String { "address:" + (address ?? "unknown") }
}
