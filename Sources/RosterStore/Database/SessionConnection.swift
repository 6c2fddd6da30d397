import Logging
package import PostgresNIO

/// Why `withSession` has no connection to give: the pool is behind a transaction-mode pooler and no
/// `ROSTER_DATABASE_SESSION_URL` names where a session can be had.
public struct NoSessionConnection: Error, CustomStringConvertible {
    public var description: String {
        "No connection keeps a session: the pool is behind a transaction-mode pooler and ROSTER_DATABASE_SESSION_URL is not set."
    }
}

extension RosterDatabase {
    /// Whether `withSession` can give a connection (false: transaction mode without a session URL).
    public var hasSessions: Bool { route.mode.keepsSessions || route.sessionURL != nil }

    /// Runs `body` on a connection that keeps its session for as long (a LISTEN): a pooled one when the pool's
    /// connections keep theirs (directly, or a session-mode pooler), else one of its own to `route.sessionURL`, closed
    /// when `body` ends or the task is cancelled (which ends a notification sequence that cancellation alone does not).
    package func withSession<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        if route.mode.keepsSessions { return try await withConnection(body) }
        guard let url = route.sessionURL else { throw NoSessionConnection() }
        let name = (pool?.applicationName ?? "roster") + "-session"
        return try await PostgresConnection.withOwnConnection(
            try url.connectionConfiguration(applicationName: name), logger: logger, body)
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
