import Foundation
public import Logging
import PostgresNIO

/// A pooler in front of PostgreSQL that works otherwise than `ROSTER_DATABASE_POOL_MODE` says: found at start, with
/// what to configure, rather than as failed requests later.
public struct DatabaseRouteMismatch: Error, CustomStringConvertible {
    public let description: String
}

extension DatabaseRoute {
    /// What `roster serve` checks before it listens, with connections of its own, on `url` (the pool's):
    /// - a pooler that refuses a startup parameter Roster sends (PgBouncer: "unsupported startup parameter");
    /// - `statementTimeout` in force: sent at connect directly (a pooler's `ignore_startup_parameters` drops it), or
    ///   the role's own in transaction mode, where no lease can SET it;
    /// - in direct and session mode, that two connections open at once never share a server session (a transaction-mode
    ///   pooler lends one to both: prepared statements and LISTEN break);
    /// - in transaction mode, that `sessionURL` keeps sessions and leads to the same database.
    /// With several hosts, on the first that answers (a failover may be under way; the pool finds the primary itself).
    public func check(url: DatabaseURL, statementTimeout: Duration?, logger: Logger) async throws {
        var configuration = try await Self.firstAnswering(url, logger: logger)
        if mode.sendsStartupLimit, let statementTimeout {
            configuration.options.additionalStartupParameters.append(StatementTimeout.startupParameter(statementTimeout))
        }
        let (limit, role, database) = try await Self.withConnection(configuration, variable: "ROSTER_DATABASE_URL", logger: logger) { connection in
            try await Self.row(
                "SELECT (SELECT setting FROM pg_settings WHERE name = 'statement_timeout')::bigint, current_user::text, current_database()::text",
                on: connection, logger: logger
            ).decode((Int64, String, String).self)
        }
        if let statementTimeout, mode != .session {
            let wanted = StatementTimeout.milliseconds(statementTimeout)
            if limit != wanted { throw limitMismatch(found: limit, wanted: wanted, role: role, database: database) }
        }
        if mode.keepsSessions {
            if let pid = try await Self.sharedSession(configuration, variable: "ROSTER_DATABASE_URL", logger: logger) {
                throw DatabaseRouteMismatch(description: """
                    Two connections open at once were served by one PostgreSQL session (pid \(pid)): ROSTER_DATABASE_URL leads to a \
                    pooler in transaction mode, where Roster's prepared statements and LISTEN break. Set ROSTER_DATABASE_POOL_MODE=transaction \
                    (see docs/operators/pgbouncer.md), or give Roster a session-mode pool.
                    """)
            }
            return
        }
        guard let sessionURL else { throw NoSessionConnection() }
        let session = try sessionURL.connectionConfiguration(applicationName: "roster-route-check")
        let sessionDatabase = try await Self.withConnection(session, variable: "ROSTER_DATABASE_SESSION_URL", logger: logger) { connection in
            try await Self.row("SELECT current_database()::text", on: connection, logger: logger).decode(String.self)
        }
        guard sessionDatabase == database else {
            throw DatabaseRouteMismatch(description: """
                ROSTER_DATABASE_SESSION_URL leads to the database '\(sessionDatabase)', ROSTER_DATABASE_URL to '\(database)': a \
                notification reaches only listeners of its own database. Point both at the same one.
                """)
        }
        if let pid = try await Self.sharedSession(session, variable: "ROSTER_DATABASE_SESSION_URL", logger: logger) {
            throw DatabaseRouteMismatch(description: """
                Two connections open at once through ROSTER_DATABASE_SESSION_URL were served by one PostgreSQL session (pid \(pid)): \
                it leads to a transaction-mode pooler, where a LISTEN is lost after its statement. Point it at PostgreSQL itself \
                or at a session-mode pool of the same database.
                """)
        }
    }

    private func limitMismatch(found: Int64, wanted: Int64, role: String, database: String) -> DatabaseRouteMismatch {
        if mode == .direct {
            return DatabaseRouteMismatch(description: """
                Roster sends its statement limit (statement_timeout = \(wanted) ms) when it connects, but the session has \
                \(found) ms: ROSTER_DATABASE_URL leads to a pooler that drops the parameter (PgBouncer's ignore_startup_parameters), \
                and statements would run without Roster's limit. Set ROSTER_DATABASE_POOL_MODE to the pooler's pool_mode, session or \
                transaction (see docs/operators/pgbouncer.md).
                """)
        }
        return DatabaseRouteMismatch(description: """
            Behind a transaction-mode pooler no connection can be given its own statement limit (a SET stays with the server \
            session, for the pooler's next client), so PostgreSQL's default for the role must be Roster's: it is \(found) ms, \
            ROSTER_SCIM_STATEMENT_TIMEOUT_MS is \(wanted) ms. Run ALTER ROLE "\(role)" IN DATABASE "\(database)" SET \
            statement_timeout = \(wanted); then RECONNECT in PgBouncer's console (or restart it) so its server sessions take it.
            """)
    }

    /// The connection configuration of `url`'s first host that takes a connection (a refusal is an answer too); the first
    /// host when none does, to fail on.
    private static func firstAnswering(_ url: DatabaseURL, logger: Logger) async throws -> PostgresConnection.Configuration {
        let first = try url.connectionConfiguration(applicationName: "roster-route-check", host: url.hosts[0])
        guard url.hosts.count > 1 else { return first }
        for host in url.hosts {
            let configuration = try url.connectionConfiguration(applicationName: "roster-route-check", host: host)
            do {
                try await PostgresConnection.withOwnConnection(configuration, logger: logger) { _ in }
                return configuration
            } catch let error as PSQLError where error.serverInfo != nil {
                return configuration
            } catch {
                continue
            }
        }
        return first
    }

    /// A connection of its own for `body`; a pooler's refusal of a startup parameter becomes one that says what to set.
    private static func withConnection<Result: Sendable>(
        _ configuration: PostgresConnection.Configuration, variable: String, logger: Logger,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        do {
            return try await PostgresConnection.withOwnConnection(configuration, logger: logger, body)
        } catch let error as PSQLError {
            guard let message = error.serverInfo?[.message], message.contains("startup parameter") else { throw error }
            let advice = message.hasSuffix("statement_timeout")
                ? "Roster sends its statement limit when it connects only with ROSTER_DATABASE_POOL_MODE=direct (the default): "
                    + "set ROSTER_DATABASE_POOL_MODE to the pooler's pool_mode, session or transaction"
                : "Add that parameter to the pooler's ignore_startup_parameters"
            throw DatabaseRouteMismatch(description: """
                \(variable) leads to a connection pooler that refused Roster's connection ("\(message)"). \(advice) \
                (see docs/operators/pgbouncer.md).
                """)
        }
    }

    /// The server session pid two connections open at once were both served by, in any of three tries; nil: never.
    private static func sharedSession(_ configuration: PostgresConnection.Configuration, variable: String, logger: Logger) async throws -> Int32? {
        try await withConnection(configuration, variable: variable, logger: logger) { first in
            try await withConnection(configuration, variable: variable, logger: logger) { second in
                for _ in 0..<3 {
                    let one = try await Self.pid(first, logger: logger)
                    if try await Self.pid(second, logger: logger) == one { return one }
                }
                return nil
            }
        }
    }

    private static func pid(_ connection: PostgresConnection, logger: Logger) async throws -> Int32 {
        try await row("SELECT pg_backend_pid()", on: connection, logger: logger).decode(Int32.self)
    }

    /// The one row of a statement that always has one.
    private static func row(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> PostgresRow {
        guard let row = try await connection.query(query, logger: logger).collect().first else {
            throw DatabaseRouteMismatch(description: "PostgreSQL answered no row to \(query.sql)")
        }
        return row
    }
}
