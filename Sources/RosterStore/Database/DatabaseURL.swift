import Foundation
import NIOSSL
package import PostgresNIO

/// A `postgres://user:password@host:port/database?sslmode=…` URL as PostgresClient configuration.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    public enum TLSMode: String, Sendable {
        case disable, prefer, require
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    public var tlsMode: TLSMode

    public struct InvalidURL: Error, CustomStringConvertible {
        public let description: String
    }

    public init(_ string: String) throws(InvalidURL) {
        guard let components = URLComponents(string: string),
            components.scheme == "postgres" || components.scheme == "postgresql"
        else {
            throw InvalidURL(description: "The database URL must look like postgres://user:password@host:5432/database.")
        }
        guard let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty else {
            throw InvalidURL(description: "The database URL needs a host and a user name.")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        let path = components.path.drop { $0 == "/" }
        self.database = path.isEmpty ? nil : String(path)
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        // libpq's verify-ca / verify-full both mean: require TLS with certificate checks.
        switch mode {
        case "disable": tlsMode = .disable
        case "allow", "prefer": tlsMode = .prefer
        case "require", "verify-ca", "verify-full": tlsMode = .require
        default: throw InvalidURL(description: "Unknown sslmode '\(mode)' in the database URL.")
        }
    }

    /// `url` with `password` in place of its own (`ROSTER_DATABASE_PASSWORD_FILE`: a compose or Kubernetes secret).
    public static func replacingPassword(in url: String, with password: String) throws(InvalidURL) -> String {
        guard var components = URLComponents(string: url), components.user?.isEmpty == false else {
            throw InvalidURL(description: "The database URL must look like postgres://user@host:5432/database to take a password from a file.")
        }
        // RFC 3986 unreserved characters only: anything else in a password is percent-encoded, and decoded by init.
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        components.percentEncodedPassword = password.addingPercentEncoding(withAllowedCharacters: unreserved)
        guard let replaced = components.string else { throw InvalidURL(description: "The database URL cannot take that password.") }
        return replaced
    }

    /// Host, port and database without the credentials, for logs.
    public var description: String {
        "postgres://\(username)@\(host):\(port)/\(database ?? "")"
    }

    /// A client whose connections announce the pool's `application_name`, so its sessions can be counted,
    /// and start with `statementTimeout` as their statement limit (none: the server's own default).
    package func clientConfiguration(pool: ConnectionPoolIdentity, statementTimeout: Duration? = nil) -> PostgresClient.Configuration {
        var configuration = clientConfiguration(maxConnections: pool.maxConnections)
        configuration.options.additionalStartupParameters = [("application_name", pool.applicationName)]
        if let statementTimeout {
            configuration.options.additionalStartupParameters.append(StatementTimeout.startupParameter(statementTimeout))
        }
        return configuration
    }

    /// A single connection outside the pool (the token cache's LISTEN), named `applicationName` in `pg_stat_activity`.
    package func connectionConfiguration(applicationName: String) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch tlsMode {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        return configuration
    }

    package func clientConfiguration(maxConnections: Int = 16) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch tlsMode {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.maximumConnections = maxConnections
        configuration.options.minimumConnections = 0
        return configuration
    }
}
