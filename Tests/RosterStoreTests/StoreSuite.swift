import Logging
import PostgresNIO
import RosterStore
import RosterTestSupport
import Testing

/// Every store suite nests here, so the run shares one PostgreSQL.
@Suite(.postgres) struct StoreSuite {}

/// A running client on a database for the duration of `body`; with `pool`, its connections announce that identity.
/// With a `route` other than direct, the client is made as for a pooler: the statement limit is not sent at connect.
func withStore<T: Sendable>(
    url: String, pool: ConnectionPoolIdentity? = nil, statementTimeout: Duration? = nil, route: DatabaseRoute = .direct,
    _ body: @Sendable (RosterDatabase) async throws -> T
) async throws -> T {
    let logger = try TestPostgres.require().logger
    var background = logger
    background.logLevel = .error
    let databaseURL = try DatabaseURL(url)
    let startupLimit = route.mode == .direct ? statementTimeout : nil
    let configuration = pool.map { databaseURL.clientConfiguration(pool: $0, statementTimeout: startupLimit) }
        ?? databaseURL.clientConfiguration(maxConnections: 4)
    let client = PostgresClient(configuration: configuration, backgroundLogger: background)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            await client.run()
            return nil
        }
        defer { group.cancelAll() }
        return try await body(RosterDatabase(
            client: client, logger: logger, pool: pool, statementTimeout: statementTimeout, secrets: TestSecrets.atRest, route: route))
    }
}
