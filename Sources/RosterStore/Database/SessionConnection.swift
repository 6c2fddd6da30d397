import Logging
package import PostgresNIO

/// Why there is no connection that keeps a session: the pool is behind a transaction-mode pooler and no
/// `ROSTER_DATABASE_SESSION_URL` names where one can be had (the configuration refuses that; a route made in code may not).
public struct NoSessionConnection: Error, CustomStringConvertible {
    public var description: String {
        "No connection keeps a session: the pool is behind a transaction-mode pooler and ROSTER_DATABASE_SESSION_URL is not set."
    }
}

extension RosterDatabase {
    /// Runs `body` on a connection of its own that keeps its session for as long (a LISTEN, a session-level lock), outside
    /// the pool, so that holding it never takes one of the pool's connections from requests (with a pool of one, it would
    /// take them all): to the server the pool uses now, or behind a transaction-mode pooler to `route.sessionURL`. It is
    /// closed when `body` ends or the task is cancelled (which ends a notification sequence that cancellation alone does
    /// not). A database made from a client (tests) knows no URL, and lends a pooled connection instead.
    package func withSession<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        let name = (pool?.applicationName ?? "roster") + "-session"
        if let own = try route.sessionConfiguration(applicationName: name) {
            return try await PostgresConnection.withOwnConnection(own, logger: logger, body)
        }
        guard let url else { return try await withConnection(body) }
        return try await PostgresConnection.withOwnConnection(try await sessionConfiguration(url, applicationName: name), logger: logger, body)
    }
}

extension PostgresConnection {
    /// Runs `body` on a connection of its own, closed when `body` ends or the task is cancelled (which ends a notification
    /// sequence that cancellation alone does not).
    static func withOwnConnection<Result: Sendable>(
        _ configuration: PostgresConnection.Configuration, logger: Logger, isolation: isolated (any _Concurrency.Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let connection = try await connect(configuration: configuration, id: 0, logger: logger)
        let result: Result
        do {
            result = try await withTaskCancellationHandler {
                try await body(connection)
            } onCancel: {
                let closing: EventLoopFuture<Void> = connection.close()
                _ = closing
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
        return result
    }
}
