import ArgumentParser
import Logging
import RosterServer
import RosterStore

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run Roster against a PostgreSQL database (production mode); applies pending migrations first.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var server: ServerOptions

    func run() async throws {
        var configuration = try server.configuration(databaseURL: database.url())
        configuration.databaseSessionURL = try configuration.databaseSessionURL.map(database.withPasswordFile)
        // Before anything starts: no key and no explicit opt-out is a refusal, not a plaintext default.
        if case .unconfigured = configuration.secrets {
            throw CLIFailure("roster serve refuses to start: " + SecretsAtRest.keyRequired)
        }
        configuration.logFormat.bootstrap()
        let logger = makeLogger(level: configuration.logLevel)
        let applied = try await migrateDatabase(url: try database.url(), logger: logger)
        logger.info("Migrations current", metadata: ["applied_now": "\(applied.count)"])
        try await bootstrapFirstOwner(url: database.url(), cost: configuration.identity.passwordCost, logger: logger)
        if configuration.adminKey == nil {
            logger.notice("ROSTER_ADMIN_KEY is not set: the admin API accepts only keys made with `roster admin-key create`.")
        }
        do {
            try await runServer(configuration, logger: logger)
        } catch let error as SecretsAtRestError {
            throw CLIFailure("roster serve cannot start: " + error.description)
        } catch let error as DatabaseRouteMismatch {
            throw CLIFailure("roster serve refuses to start: " + error.description)
        }
    }

    /// With ROSTER_BOOTSTRAP_OWNER_EMAIL set, a fresh install gets its first owner before it serves; any other start does nothing.
    private func bootstrapFirstOwner(url: String, cost: UInt8, logger: Logger) async throws {
        guard let owner = try FirstOwner.fromEnvironment() else { return }
        switch try await withDatabase(url: url, logger: logger, { try await owner.run(on: $0, passwordCost: cost) }) {
        case .created(let user):
            logger.notice("Created the first admin user, with the owner role", metadata: ["admin_user": "\(user.email)"])
        case .alreadySetUp:
            logger.info("First-owner bootstrap skipped: an admin user exists")
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let applied = try await migrateDatabase(url: try database.url(), logger: makeLogger(level: .warning))
        say(applied.isEmpty ? "Migrations are current." : "Applied \(applied.count) migration(s): " + applied.map(\.name).joined(separator: ", "))
    }
}
