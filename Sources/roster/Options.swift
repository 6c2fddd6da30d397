import ArgumentParser
import Configuration
import Foundation
import Logging
import RosterServer
import RosterStore

/// Options every database command takes; flags win over `ROSTER_*` environment variables.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL (env ROSTER_DATABASE_URL), e.g. postgres://roster:secret@127.0.0.1:5432/roster")
    var databaseURL: String?

    func url() throws -> String {
        let environment = CommandIO.current.environment
        guard let url = databaseURL ?? environment["ROSTER_DATABASE_URL"], !url.isEmpty else {
            throw ValidationError("No database configured: pass --database-url or set ROSTER_DATABASE_URL.")
        }
        return try withPasswordFile(url)
    }

    /// `url` with the password of `ROSTER_DATABASE_PASSWORD_FILE` in place of its own, when that is set (both database URLs take it).
    func withPasswordFile(_ url: String) throws -> String {
        let environment = CommandIO.current.environment
        guard let path = environment["ROSTER_DATABASE_PASSWORD_FILE"], !path.isEmpty else { return url }
        // The password of a mounted secret (compose, Kubernetes), so it is in neither the URL nor the environment.
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CLIFailure("ROSTER_DATABASE_PASSWORD_FILE names '\(path)', which cannot be read as text.")
        }
        let password = text.droppingLineEnding()
        do {
            return try DatabaseURL.replacingPassword(in: url, with: password)
        } catch {
            throw CLIFailure(String(describing: error))
        }
    }
}

/// Server options of `serve` and `dev`.
struct ServerOptions: ParsableArguments {
    @Option(help: "Address to listen on (env ROSTER_HOST; default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (env ROSTER_PORT; default 8080).")
    var port: Int?

    @Option(name: .customLong("public-url"), help: "URL clients reach Roster at, used in meta.location (env ROSTER_PUBLIC_URL; default http://<host>:<port>).")
    var publicURL: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (env ROSTER_LOG_LEVEL; default info).")
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: "text or json (one JSON object per line on stderr; env ROSTER_LOG_FORMAT; default text).")
    var logFormat: String?

    func validate() throws {
        if let port, !(1...65_535).contains(port) { throw ValidationError("--port must be 1…65535.") }
    }

    /// The flags given, layered over the environment.
    func configuration(databaseURL: String? = nil, adminKey: String? = nil) throws -> RosterConfiguration {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        func set(_ key: [String], _ value: String?, secret: Bool = false) {
            if let value { values[AbsoluteConfigKey(["roster"] + key)] = ConfigValue(.string(value), isSecret: secret) }
        }
        set(["host"], host)
        // As the type it is read as: an in-memory string is never converted, so `int(forKey:)` would miss it (STACK.md).
        if let port { values[AbsoluteConfigKey(["roster", "port"])] = ConfigValue(.int(port), isSecret: false) }
        set(["public", "url"], publicURL)
        set(["log", "level"], logLevel)
        set(["log", "format"], logFormat)
        set(["database", "url"], databaseURL, secret: true)
        set(["admin", "key"], adminKey, secret: true)
        let environment = EnvironmentVariablesProvider(environmentVariables: CommandIO.current.environment)
        let reader = ConfigReader(providers: [InMemoryProvider(name: "flags", values: values), environment])
        do {
            return try RosterConfiguration(reader: reader)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

func makeLogger(_ label: String = "roster", level: Logger.Level = .info) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = level
    return logger
}

/// Writes a line to standard output now, even when it is a pipe (in tests, to the test's collector).
func say(_ line: String = "") {
    CommandIO.current.write(line)
}

/// The settings `roster serve` reads from `ROSTER_*` environment variables (bcrypt cost, token lifetimes, ...).
func environmentSettings() throws -> RosterConfiguration {
    do {
        return try RosterConfiguration(reader: ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: CommandIO.current.environment)))
    } catch {
        throw CLIFailure(error.description)
    }
}

/// How a command that writes or reads secrets stores them: `ROSTER_SECRET_KEY` / `ROSTER_SECRET_KEY_FILE`, or the
/// explicit `ROSTER_ALLOW_PLAINTEXT_SECRETS=true`; neither is refused, as `serve` refuses it.
func commandSecrets() throws -> SecretsAtRest {
    let secrets = try environmentSettings().secrets
    if case .unconfigured = secrets { throw CLIFailure(SecretsAtRest.keyRequired) }
    return secrets
}

/// A failure to report in one line, without the usage text ArgumentParser adds to `ValidationError`.
struct CLIFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
