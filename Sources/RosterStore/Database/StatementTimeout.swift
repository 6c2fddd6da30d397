import PostgresNIO

/// How long one SQL statement may run. The pool's connections start with a default (sent at connect,
/// so the hot path pays nothing); a request of another kind overrides it for its own leases.
public enum StatementTimeout {
    /// The limit for statements of the current task; nil: the connection's default.
    @TaskLocal public static var override: Duration?

    /// The startup parameter that gives every connection of a pool `limit` as its default (and RESET value).
    public static func startupParameter(_ limit: Duration) -> (String, String) {
        ("statement_timeout", String(milliseconds(limit)))
    }

    static func milliseconds(_ limit: Duration) -> Int64 {
        let (seconds, attoseconds) = limit.components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    /// Gives `connection` the limit `limit` until `reset`.
    static func set(_ limit: Duration, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT set_config('statement_timeout', \(String(milliseconds(limit))), false)", logger: logger)
    }

    /// Puts the connection's default back before it returns to the pool; a connection whose reset
    /// fails is closed rather than handed on with the wrong limit.
    static func reset(_ connection: PostgresConnection, logger: Logger) async {
        do {
            try await connection.query("RESET statement_timeout", logger: logger)
        } catch {
            try? await connection.close()
        }
    }
}
