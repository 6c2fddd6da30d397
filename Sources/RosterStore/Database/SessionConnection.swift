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
    /// Runs `body` on a connection that keeps its session for as long (a LISTEN, a session-level lock): a pooled one when the pool's
    /// connections keep theirs (directly, or a session-mode pooler), else one of its own to `route.sessionURL`, closed
    /// when `body` ends or the task is cancelled (which ends a notification sequence that cancellation alone does not).
    package func withSession<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        let name = (pool?.applicationName ?? "roster") + "-session"
        guard let own = try route.sessionConfiguration(applicationName: name) else { return try await withConnection(body) }
        return try await PostgresConnection.withOwnConnection(own, logger: logger, body)
    }
}

extension PostgresConnection {
    /// Runs `body` on a connection of its own, closed when `body` ends or the task is cancelled (which ends a notification
    /// sequence that cancellation alone does not).
    static func withOwnConnection<Result: Sendable>(
        _ configuration: PostgresConnection.Configuration, logger: Logger, isolation: isolated (any _Concurrency.Actor)? = #isolation,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let connection = try await connect(configuration: configuration, id: 0, logger: logger)
        let result: Result
        do {
            result = try await withTaskCancellationHandler {
                try await ClosedConnections.run(on: connection, body)
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
