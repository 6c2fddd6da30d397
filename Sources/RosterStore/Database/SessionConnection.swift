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
    /// Runs `body` on a connection that keeps its session for as long (a LISTEN, a session-level lock): one of its own,
    /// outside the pool (`withOwnSession`), so that holding it never takes one of the pool's connections from requests
    /// (with a pool of one, it would take them all).
    package func withSession<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await withOwnSession(to: url, applicationName: (pool?.applicationName ?? "roster") + "-session", body)
    }
}

extension PostgresConnection {
    /// Runs `body` on a connection of its own, closed when `body` ends, when the task is cancelled (which ends a notification
    /// sequence that cancellation alone does not), or when `closedWhen` returns.
    static func withOwnConnection<Result: Sendable>(
        _ configuration: PostgresConnection.Configuration, logger: Logger, closedWhen retired: (@Sendable () async -> Void)? = nil,
        isolation: isolated (any _Concurrency.Actor)? = #isolation, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let connection = try await connect(configuration: configuration, id: 0, logger: logger)
        let watch = retired.map { retired in
            Task {
                await retired()
                if !Task.isCancelled { try? await connection.close() }
            }
        }
        defer { watch?.cancel() }
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
