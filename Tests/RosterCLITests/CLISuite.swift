import ArgumentParser
import Foundation
import PostgresNIO
import RosterServer
import RosterStore
import RosterTestSupport
import Synchronization
import Testing

@testable import roster

/// Every command-line suite nests here, so the run shares one PostgreSQL.
@Suite(.postgres) struct CLISuite {}

/// What one `roster …` invocation did: the lines it printed, and the error it ended with.
struct CLIResult: Sendable {
    var lines: [String]
    var error: (any Error)?

    var output: String { lines.joined(separator: "\n") }
    /// What ArgumentParser prints for the error (nil on success).
    var message: String? { error.map { Roster.message(for: $0) } }
    var exitCode: Int32 { error.map { Roster.exitCode(for: $0).rawValue } ?? 0 }
    var succeeded: Bool { error == nil }
    /// Everything a person at the terminal would see.
    var everything: String { output + "\n" + (message ?? "") }
}

/// Runs `roster ARGUMENTS --database-url URL` in this process, with the test's own environment (bcrypt at
/// its cheapest, so tests stay quick) and standard input, and collects what it prints.
func cli(
    _ arguments: [String], database url: String?, environment: [String: String] = [:], input: String? = nil
) async -> CLIResult {
    let lines = Mutex<[String]>([])
    let io = CommandIO(
        write: { line in lines.withLock { $0.append(line) } },
        environment: ["ROSTER_PASSWORD_BCRYPT_COST": "4", "ROSTER_SECRET_KEY": TestSecrets.entry].merging(environment) { $1 },
        readSecret: { _ in
            guard let input else { throw CLIFailure("The test gave no standard input.") }
            return input.droppingLineEnding()
        })
    do {
        try await CommandIO.$current.withValue(io) {
            var command = try Roster.parseAsRoot(arguments + (url.map { ["--database-url", $0] } ?? []))
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        }
        return CLIResult(lines: lines.withLock { $0 }, error: nil)
    } catch {
        return CLIResult(lines: lines.withLock { $0 }, error: error)
    }
}

/// A running client on a test database for the duration of `body`, for checking what a command did;
/// `connections` wide, so concurrent calls really run at once.
func inspect<T: Sendable>(
    _ url: String, connections: Int = 2, secrets: SecretsAtRest = TestSecrets.atRest, _ body: @Sendable (RosterDatabase) async throws -> T
) async throws -> T {
    let logger = try TestPostgres.require().logger
    var background = logger
    background.logLevel = .error
    let client = PostgresClient(configuration: try DatabaseURL(url).clientConfiguration(maxConnections: connections), backgroundLogger: background)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            await client.run()
            return nil
        }
        defer { group.cancelAll() }
        return try await body(RosterDatabase(client: client, logger: logger, secrets: secrets))
    }
}

/// A migrated database of its own for one test.
func freshDatabase() async throws -> String {
    try await TestPostgres.require().freshDatabase()
}
