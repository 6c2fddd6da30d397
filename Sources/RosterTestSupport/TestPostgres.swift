import Foundation
public import Logging
import RosterEmbeddedPostgres
import PostgresNIO
import RosterStore
public import Testing

/// The PostgreSQL a test run uses: a throwaway cluster the support starts itself, or the server
/// `ROSTER_TEST_DATABASE_URL` names (its user needs CREATEDB). Each test gets its own database,
/// cloned from a template migrated once, so tests run in parallel without seeing each other.
public final class TestPostgres: Sendable {
    @TaskLocal public static var current: TestPostgres?

    private let maintenance: PostgresClient
    private let server: DatabaseURL
    private let template: String
    private let counter = Counter()
    public let logger: Logger

    init(serverURL: String, logger: Logger) throws {
        self.server = try DatabaseURL(serverURL)
        self.logger = logger
        var background = logger
        background.logLevel = .error
        self.maintenance = PostgresClient(configuration: server.clientConfiguration(maxConnections: 2), backgroundLogger: background)
        self.template = "roster_template_\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// The suite currently running under `.postgres`.
    public static func require() throws -> TestPostgres {
        guard let current else { throw TestSupportError("This suite must be nested under a suite with the .postgres trait.") }
        return current
    }

    /// A new, migrated, empty database; returns its URL.
    public func freshDatabase() async throws -> String {
        let number = await counter.next()
        let name = "\(template)_t\(number)"
        try await maintain("CREATE DATABASE \(name) TEMPLATE \(template)", id: number)
        return url(database: name)
    }

    /// An empty database that has not been migrated, for migration tests.
    public func emptyDatabase() async throws -> String {
        let number = await counter.next()
        let name = "\(template)_e\(number)"
        try await maintain("CREATE DATABASE \(name)", id: number)
        return url(database: name)
    }

    /// One statement on a connection of its own, opened for it and closed after. Hundreds of tests start at
    /// once and each asks for a database: a shared pool of two connections made them all queue on it, and a
    /// whole run was seen waiting for ever, with no connection open and no timer left, on leases it never
    /// handed out. A connection that cannot be opened is tried again, a few times.
    private func maintain(_ sql: String, id: Int) async throws {
        let configuration = try server.connectionConfiguration(applicationName: "roster-test-maintenance")
        var attempt = 0
        while true {
            let connection: PostgresConnection
            do {
                connection = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
            } catch {
                attempt += 1
                if attempt >= 5 { throw error }
                try await Task.sleep(for: .milliseconds(200 * attempt))
                continue
            }
            do {
                try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
            } catch {
                try? await connection.close()
                throw error
            }
            try await connection.close()
            return
        }
    }

    private func url(database: String) -> String {
        var components = URLComponents()
        components.scheme = "postgres"
        components.user = server.username
        components.password = server.password
        components.host = server.host
        components.port = server.port
        components.path = "/" + database
        components.queryItems = [URLQueryItem(name: "sslmode", value: "disable")]
        return components.string ?? ""
    }

    fileprivate func prepareTemplate() async throws {
        try await maintenance.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(template)"), logger: logger)
        try await maintenance.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(template)"), logger: logger)
        let client = PostgresClient(
            configuration: try DatabaseURL(url(database: template)).clientConfiguration(maxConnections: 1), backgroundLogger: Logger(label: "roster.test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await Migrator(migrations: Migration.bundled()).migrate(RosterDatabase(client: client, logger: logger))
            group.cancelAll()
        }
    }

    fileprivate func dropDatabases() async {
        // Only needed on a shared server; a throwaway cluster is deleted whole.
        let rows = try? await maintenance.query(
            "SELECT datname FROM pg_database WHERE datname LIKE \(template + "%")", logger: logger
        ).collect()
        for row in rows ?? [] {
            if let name = try? row.decode(String.self) {
                _ = try? await maintenance.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
            }
        }
    }

    /// Starts the cluster (or connects to the configured server), runs `body`, then cleans up.
    static func withInstance(_ body: @Sendable () async throws -> Void) async throws {
        var logger = Logger(label: "roster.test")
        logger.logLevel = .warning
        let configured = ProcessInfo.processInfo.environment["ROSTER_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        var cluster: EmbeddedPostgres?
        let serverURL: String
        if let configured {
            serverURL = configured
        } else {
            let started = try await EmbeddedPostgres.start(.init(durable: false, settings: ["max_connections": "1000", "shared_preload_libraries": "pg_stat_statements"]), logger: logger)
            cluster = started
            serverURL = started.databaseURL
        }
        do {
            let instance = try TestPostgres(serverURL: serverURL, logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await instance.maintenance.run() }
                defer { group.cancelAll() }
                try await instance.prepareTemplate()
                try await $current.withValue(instance) { try await body() }
                if cluster == nil { await instance.dropDatabases() }
            }
        } catch {
            await cluster?.stop()
            throw error
        }
        await cluster?.stop()
    }
}

private actor Counter {
    private var value = 0
    func next() -> Int {
        value += 1
        return value
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a suite with a PostgreSQL instance: put it on one parent suite and nest the database suites in it.
public struct PostgresTrait: SuiteTrait, TestScoping {
    public var isRecursive: Bool { false }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        if TestPostgres.current != nil { return try await function() }
        try await TestPostgres.withInstance(function)
    }
}

extension Trait where Self == PostgresTrait {
    /// One PostgreSQL for the suite and everything nested in it.
    public static var postgres: PostgresTrait { PostgresTrait() }
}
