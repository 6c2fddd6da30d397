import Logging
import PostgresNIO
import RosterStore
import RosterTestSupport
import Testing

/// Every database-backed auth suite nests here, so the run shares one PostgreSQL.
@Suite(.postgres) struct AuthSuite {}

/// A running client on a database for the duration of `body` (one per replica in a test).
func withDatabase<T: Sendable>(url: String, _ body: @Sendable (RosterDatabase) async throws -> T) async throws -> T {
    let logger = try TestPostgres.require().logger
    var background = logger
    background.logLevel = .error
    let client = PostgresClient(configuration: try DatabaseURL(url).clientConfiguration(maxConnections: 4), backgroundLogger: background)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            await client.run()
            return nil
        }
        defer { group.cancelAll() }
        return try await body(RosterDatabase(client: client, logger: logger, secrets: TestSecrets.atRest))
    }
}
