import ArgumentParser
import Foundation
import Logging
import RosterAuth
import RosterEmbeddedPostgres
import RosterFeed
import RosterServer
import RosterStore

struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run Roster on a throwaway PostgreSQL: prints a SCIM token and an admin key, deletes everything on Ctrl-C.")

    @Option(help: "Port to listen on.") var port = 8080
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(name: .customLong("data-dir"), help: "Keep the PostgreSQL cluster in this folder across runs instead of a temporary one.")
    var dataDirectory: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.") var logLevel = "notice"
    @Option(name: .customLong("log-format"), help: "text or json (one JSON object per line on stderr).") var logFormat = "text"

    func validate() throws {
        guard (1...65_535).contains(port) else { throw ValidationError("--port must be 1…65535.") }
    }

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("Unknown log level '\(logLevel)'.") }
        guard let format = LogFormat(rawValue: logFormat) else { throw ValidationError("Unknown log format '\(logFormat)'; use text or json.") }
        format.bootstrap()
        let logger = makeLogger(level: level)
        guard PortProbe.isFree(host: host, port: port) else {
            throw CLIFailure("Port \(port) on \(host) is already in use. Stop what is using it, or pass --port.")
        }
        let postgres: EmbeddedPostgres
        do {
            postgres = try await EmbeddedPostgres.start(
                .init(dataDirectory: dataDirectory, durable: dataDirectory != nil), logger: logger)
        } catch let error as EmbeddedPostgresError {
            throw CLIFailure(error.description)
        }
        do {
            try await serve(on: postgres, logger: logger)
        } catch {
            await postgres.stop()
            throw error
        }
        await postgres.stop()
        say(dataDirectory == nil ? "Stopped; the throwaway database is deleted." : "Stopped; the database is kept in \(postgres.dataDirectory).")
    }

    private func serve(on postgres: EmbeddedPostgres, logger: Logger) async throws {
        let url = postgres.databaseURL
        _ = try await migrateDatabase(url: url, logger: logger)
        let (token, adminKey) = try await withDatabase(url: url, logger: logger) { db in
            guard let tenant = try await TenantRepository(database: db).find(TenantRepository.defaultName) else {
                throw CLIFailure("The default tenant is missing.")
            }
            let token = try await ScimTokenRepository(database: db).create(tenant: tenant.id, name: "roster dev", by: .system).1
            let key = try await AdminKeyRepository(database: db).create(name: "roster dev", tenant: nil, scopes: [.all], by: .system).1
            return (token, key)
        }
        var settings = RosterConfiguration(host: host, port: port, databaseURL: url, logLevel: logger.logLevel, logFormat: .init(rawValue: logFormat) ?? .text)
        // A developer's receiver runs on this machine.
        settings.webhooks.urlPolicy = WebhookURLPolicy(allowPrivate: true)
        // A developer's trusted issuer may serve its JWKS on this machine.
        settings.identity.allowInsecureLoopbackJWKS = true
        // Secrets at rest are sealed in development too, with a key made for this database.
        let (secretKey, keyring) = try Self.developmentKey(keptIn: self.dataDirectory == nil ? nil : postgres.dataDirectory)
        settings.secrets = .encrypted(keyring)
        // bcrypt's cost as serve reads it (test runs lower it: a debug build hashes several times slower).
        if let text = ProcessInfo.processInfo.environment["ROSTER_PASSWORD_BCRYPT_COST"] {
            guard let cost = UInt8(text), (4...16).contains(cost) else {
                throw ValidationError("ROSTER_PASSWORD_BCRYPT_COST must be 4…16 (12 by default).")
            }
            settings.identity.passwordCost = cost
        }
        let configuration = settings
        let base = configuration.publicURL
        let pid = postgres.processID
        let dataDirectory = postgres.dataDirectory
        // The banner's curl lines must work the moment they appear: print it once the server listens.
        try await runServer(configuration, logger: logger) {
            say("Roster is running in development mode (throwaway PostgreSQL, deleted on exit).")
            say("  Address:        \(base)")
            say("  Admin console:  \(base)/console")
            say("  API reference:  \(base)/api/docs")
            say("  SCIM base URL:  \(configuration.scimBaseURL)")
            say("  SCIM token:     \(token.reveal())")
            say("  Admin API key:  \(adminKey.reveal())")
            say("  PostgreSQL:     pid \(pid), data in \(dataDirectory)")
            say("  Database URL:   \(url)")
            say("  Secret key:     ROSTER_SECRET_KEY=\(secretKey)")
            say("Try:")
            say("  curl -s -H 'Authorization: Bearer \(token.reveal())' \(base)/scim/v2/Users")
            say("  curl -s -H 'X-Admin-API-Key: \(adminKey.reveal())' \(base)/api/v1/tenants")
            say("Press Ctrl-C to stop.")
        }
    }
}

extension Dev {
    static let keyFileName = "roster-secret-key"

    /// A new key for a throwaway database; with --data-dir, the one kept beside the cluster (made on its first run),
    /// so the secrets sealed in an earlier run still open. Returns its ROSTER_SECRET_KEY text too (the banner shows it,
    /// as it shows the database URL, so a `roster serve` can join this database).
    static func developmentKey(keptIn directory: String?) throws -> (text: String, keyring: SecretKeyring) {
        var text = SecretKeyring.generateEntry(keyID: "dev")
        var source = "roster dev"
        if let directory {
            let path = directory + "/" + keyFileName
            source = path
            if let data = FileManager.default.contents(atPath: path) {
                text = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).joined(separator: ",")
            } else {
                // Owner-only, like the cluster's own files.
                guard FileManager.default.createFile(atPath: path, contents: Data((text + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
                    throw CLIFailure("Cannot write the development secret key to \(path).")
                }
            }
        }
        do {
            return (text, try SecretKeyring(parsing: text, source: source))
        } catch {
            throw CLIFailure(String(describing: error))
        }
    }
}

/// Checks a TCP port has no listener by binding it briefly, so `dev` can say so before starting anything.
enum PortProbe {
    static func isFree(host: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        // As the server will: connections lingering in TIME_WAIT do not make the port busy.
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return true }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }
}
