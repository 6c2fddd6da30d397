import Foundation
package import PostgresNIO

/// What sits between Roster's pool and PostgreSQL (`ROSTER_DATABASE_POOL_MODE`): nothing, or a connection pooler such as
/// PgBouncer, named by its `pool_mode`. It decides what a pooled connection may keep from one statement to the next.
public enum DatabasePoolMode: String, Sendable, CaseIterable {
    /// PostgreSQL itself: each connection is one session.
    case direct
    /// A pooler that gives each client connection one server session for as long as it is open (PgBouncer `pool_mode = session`).
    case session
    /// A pooler that lends a server session for one transaction at a time (PgBouncer `pool_mode = transaction`):
    /// nothing a statement leaves on its session (a prepared statement, a SET, a LISTEN) is there for the next.
    case transaction

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// `direct`, `session` or `transaction`, in any case; `statement` is refused with the reason.
    public init(parsing text: String) throws(Invalid) {
        let word = text.trimmingCharacters(in: .whitespaces).lowercased()
        if word == "statement" {
            throw Invalid(description: """
                ROSTER_DATABASE_POOL_MODE=statement cannot work: statement pooling refuses transactions of more than one statement, \
                and every Roster write is one. Give Roster a PgBouncer database in session or transaction mode.
                """)
        }
        guard let mode = Self(rawValue: word) else {
            throw Invalid(
                description: "ROSTER_DATABASE_POOL_MODE must be direct (PostgreSQL itself, the default), session or transaction (PgBouncer's pool_mode).")
        }
        self = mode
    }

    /// Whether the pool's connections send the statement limit at connect: a pooler refuses the startup parameter
    /// (PgBouncer: "unsupported startup parameter"), or drops it when its `ignore_startup_parameters` names it.
    var sendsStartupLimit: Bool { self == .direct }

    /// Whether a pooled connection keeps its session from one transaction to the next (prepared statements, SET, LISTEN).
    public var keepsSessions: Bool { self != .transaction }
}

/// How Roster's connections reach PostgreSQL: the pool's, through `mode`, and those that need a session (LISTEN, the
/// webhook dispatcher's liveness lock): the pool's server gives them, except behind a transaction-mode pooler, where
/// they go to `sessionURL`.
public struct DatabaseRoute: Sendable {
    public let mode: DatabasePoolMode
    /// `ROSTER_DATABASE_SESSION_URL`, for transaction mode: PostgreSQL itself, or a session-mode pool of the same database.
    public let sessionURL: DatabaseURL?

    public static let direct = DatabaseRoute(mode: .direct, sessionURL: nil)

    public init(mode: DatabasePoolMode, sessionURL: DatabaseURL?) {
        self.mode = mode
        self.sessionURL = sessionURL
    }

    /// The configuration of a connection of its own that keeps a session (a LISTEN, a session lock), when the pool's
    /// connections do not: to `sessionURL`. Nil when they do (the pool's server is the place).
    func sessionConfiguration(applicationName: String) throws -> PostgresConnection.Configuration? {
        guard !mode.keepsSessions else { return nil }
        guard let sessionURL else { throw NoSessionConnection() }
        return try sessionURL.connectionConfiguration(applicationName: applicationName)
    }
}
