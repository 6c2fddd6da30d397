public import Logging
import PostgresNIO

/// Runs `body` with a PostgreSQL client that is running for exactly that long: for the CLI and migrations.
/// `secrets` is how it stores and reads secrets; the default refuses to, for commands that touch none.
public func withDatabase<Result: Sendable>(
    url: String, logger: Logger, secrets: SecretsAtRest = .unconfigured, _ body: @Sendable (RosterDatabase) async throws -> Result
) async throws -> Result {
    // The body may lease a connection a moment before run() starts; PostgresNIO warns about that, harmlessly.
    var background = logger
    background.logLevel = .error
    let database = RosterDatabase(url: try DatabaseURL(url), maxConnections: 2, secrets: secrets, logger: logger, backgroundLogger: background)
    return try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask {
            await database.run()
            return nil
        }
        defer { group.cancelAll() }
        return try await body(database)
    }
}

/// Applies pending migrations with a short-lived client (before the server's own client starts).
public func migrateDatabase(url: String, logger: Logger) async throws -> [Migration] {
    let migrator = Migrator(migrations: try Migration.bundled())
    return try await withDatabase(url: url, logger: logger) { try await migrator.migrate($0) }
}
