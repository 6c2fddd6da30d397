import PostgresNIO
import Synchronization

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

    /// Gives the transaction under way on `connection` the limit `limit`, until it ends (SET LOCAL).
    static func setLocal(_ limit: Duration, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT set_config('statement_timeout', \(String(milliseconds(limit))), true)", logger: logger)
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

/// How the pool's connections get their statement limits, by what is in front of PostgreSQL (`DatabasePoolMode`):
/// - direct: the default is a startup parameter, so RESET returns to it; an override is SET, then RESET;
/// - session: a pooler refuses the startup parameter, so a connection's first lease SETs the default; an override
///   is SET, then the default SET again;
/// - transaction: nothing a lease SETs stays with its server session, and another client's may come next: the default
///   is the role's own (`ALTER ROLE … SET statement_timeout`, checked at start by `checkDatabaseRoute`); an override
///   is SET LOCAL in one transaction around the lease.
struct StatementLimits: Sendable {
    let mode: DatabasePoolMode
    /// What a lease runs under unless its task overrides it; nil: the server's own default.
    let poolDefault: Duration?
    /// Session mode: the connections already given `poolDefault`.
    private let given = GivenConnections()

    init(mode: DatabasePoolMode, poolDefault: Duration?) {
        self.mode = mode
        self.poolDefault = poolDefault
    }

    /// Runs `body` on a leased `connection` under `limit` (nil: the pool's default), in one transaction when `transaction`.
    func run<Result: Sendable>(
        on connection: PostgresConnection, limit: Duration?, transaction: Bool, logger: Logger,
        isolation: isolated (any _Concurrency.Actor)? = #isolation, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        if mode == .session, let poolDefault, given.first(connection.id) {
            do {
                try await StatementTimeout.set(poolDefault, on: connection, logger: logger)
            } catch {
                given.forget(connection.id)
                throw error
            }
        }
        guard let limit, limit != poolDefault else { return try await Self.run(body, on: connection, transaction: transaction, logger: logger) }
        if mode == .transaction {
            do {
                return try await connection.withTransaction(logger: logger) { connection in
                    try await StatementTimeout.setLocal(limit, on: connection, logger: logger)
                    return try await body(connection)
                }
            } catch let error as PostgresTransactionError where !transaction {
                // A lease that asked for no transaction sees its own errors, as it would without this one.
                throw error.closureError ?? error.beginError ?? error.commitError ?? error
            }
        }
        try await StatementTimeout.set(limit, on: connection, logger: logger)
        let result: Result
        do {
            result = try await Self.run(body, on: connection, transaction: transaction, logger: logger)
        } catch {
            await restore(connection, logger: logger)
            throw error
        }
        await restore(connection, logger: logger)
        return result
    }

    private static func run<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> Result, on connection: PostgresConnection, transaction: Bool, logger: Logger,
        isolation: isolated (any _Concurrency.Actor)? = #isolation
    ) async throws -> Result {
        guard transaction else { return try await body(connection) }
        return try await connection.withTransaction(logger: logger) { try await body($0) }
    }

    /// The pool's default back after an override: RESET returns to the startup parameter; in session mode, where there
    /// is none, the default is SET again (a connection where that fails is closed, like a failed RESET).
    private func restore(_ connection: PostgresConnection, logger: Logger) async {
        guard mode == .session, let poolDefault else { return await StatementTimeout.reset(connection, logger: logger) }
        do {
            try await StatementTimeout.set(poolDefault, on: connection, logger: logger)
        } catch {
            try? await connection.close()
        }
    }
}

/// The ids of the connections a first lease has prepared. Bounded: past `capacity` (connections the pool closed, whose
/// ids never come back) it starts again, and each open connection is prepared once more.
final class GivenConnections: Sendable {
    private let ids = Mutex<Set<Int>>([])
    private let capacity = 4096

    /// True the first time `id` is seen (the caller prepares it), false after.
    func first(_ id: Int) -> Bool {
        ids.withLock { ids in
            if ids.count >= capacity, !ids.contains(id) { ids.removeAll() }
            return ids.insert(id).inserted
        }
    }

    func forget(_ id: Int) {
        ids.withLock { _ = $0.remove(id) }
    }
}
