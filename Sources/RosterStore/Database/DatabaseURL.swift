import Foundation
import NIOSSL
package import PostgresNIO

/// A `postgres://user:password@host:port/database?sslmode=…` URL as PostgresClient configuration.
///
/// Like libpq's, it may name several hosts (`postgres://h1:5432,h2:5432/roster?target_session_attrs=read-write`):
/// Roster then connects to the first of them, in order, that is a primary (`DatabaseHosts`), and finds the new one
/// after a failover by itself.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    public enum TLSMode: String, Sendable {
        case disable, prefer, require
    }

    /// One `host:port` of the URL.
    public struct Host: Sendable, Hashable, CustomStringConvertible {
        public var name: String
        public var port: Int

        public var description: String { name.contains(":") ? "[\(name)]:\(port)" : "\(name):\(port)" }
    }

    /// Which host a connection may go to (libpq's `target_session_attrs`, the values a writer can use).
    public enum TargetSessionAttributes: String, Sendable {
        /// The first host that answers (libpq's default).
        case any
        /// The first host where a session may write: not in recovery, `transaction_read_only` off.
        case readWrite = "read-write"
        /// The first host not in recovery.
        case primary
    }

    /// The hosts, in the URL's order; never empty.
    public var hosts: [Host]
    public var username: String
    public var password: String?
    public var database: String?
    public var tlsMode: TLSMode
    public var targetSessionAttributes: TargetSessionAttributes
    /// libpq's `connect_timeout`: how long one connection attempt to one host may take.
    public var connectTimeout: Duration

    /// The first host's name (the only one, for most URLs).
    public var host: String { hosts[0].name }
    /// The first host's port.
    public var port: Int { hosts[0].port }

    public struct InvalidURL: Error, CustomStringConvertible {
        public let description: String
    }

    public init(_ string: String) throws(InvalidURL) {
        let shape = "The database URL must look like postgres://user:password@host:5432/database (hosts may be a list: h1:5432,h2:5432)."
        // URLComponents takes one host: the list is read here and a placeholder stands in for it.
        guard let span = Self.hostList(in: string), let components = URLComponents(string: Self.replacing(span, in: string)) else {
            throw InvalidURL(description: shape)
        }
        hosts = try string[span].split(separator: ",", omittingEmptySubsequences: false).map(Self.host)
        guard let user = components.user, !user.isEmpty else {
            throw InvalidURL(description: "The database URL needs a host and a user name.")
        }
        self.username = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        let path = components.path.drop { $0 == "/" }
        self.database = path.isEmpty ? nil : String(path)
        let query = components.queryItems ?? []
        let mode = query.first { $0.name == "sslmode" }?.value ?? "prefer"
        // libpq's verify-ca / verify-full both mean: require TLS with certificate checks.
        switch mode {
        case "disable": tlsMode = .disable
        case "allow", "prefer": tlsMode = .prefer
        case "require", "verify-ca", "verify-full": tlsMode = .require
        default: throw InvalidURL(description: "Unknown sslmode '\(mode)' in the database URL.")
        }
        let target = query.first { $0.name == "target_session_attrs" }?.value ?? "any"
        guard let attributes = TargetSessionAttributes(rawValue: target) else {
            throw InvalidURL(description: """
                target_session_attrs '\(target)' in the database URL: Roster writes, so it takes read-write, primary or any \
                (read-only, standby and prefer-standby would send its writes to a server that refuses them).
                """)
        }
        targetSessionAttributes = attributes
        let timeout = query.first { $0.name == "connect_timeout" }?.value ?? "10"
        // libpq: seconds, an integer; 0 or less means none. Roster keeps a bound on every attempt: at least 2 s.
        guard let seconds = Int(timeout) else { throw InvalidURL(description: "connect_timeout '\(timeout)' in the database URL is not a number of seconds.") }
        connectTimeout = .seconds(seconds <= 0 ? 10 : max(2, seconds))
    }

    /// `host`, `host:port`, `[v6]` or `[v6]:port`.
    private static func host(_ text: Substring) throws(InvalidURL) -> Host {
        var name = text, port: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw InvalidURL(description: "The database URL has an unclosed [ in '\(text)'.") }
            name = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw InvalidURL(description: "The database URL has '\(after)' after a bracketed host.") }
                port = after.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            name = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !name.isEmpty else { throw InvalidURL(description: "The database URL needs a host and a user name.") }
        guard let port else { return Host(name: String(name), port: 5432) }
        guard let number = Int(port), (1...65535).contains(number) else {
            throw InvalidURL(description: "The database URL has '\(port)' as a port; a port is a number from 1 to 65535.")
        }
        return Host(name: String(name), port: number)
    }

    /// `url` with `password` in place of its own (`ROSTER_DATABASE_PASSWORD_FILE`: a compose or Kubernetes secret).
    public static func replacingPassword(in url: String, with password: String) throws(InvalidURL) -> String {
        guard let span = hostList(in: url), var components = URLComponents(string: replacing(span, in: url)),
            components.user?.isEmpty == false
        else {
            throw InvalidURL(description: "The database URL must look like postgres://user@host:5432/database to take a password from a file.")
        }
        // RFC 3986 unreserved characters only: anything else in a password is percent-encoded, and decoded by init.
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        components.percentEncodedPassword = password.addingPercentEncoding(withAllowedCharacters: unreserved)
        guard let replaced = components.string, let placeholder = hostList(in: replaced) else {
            throw InvalidURL(description: "The database URL cannot take that password.")
        }
        return replaced.replacingCharacters(in: placeholder, with: url[span])
    }

    /// Where `url` writes its hosts: after `scheme://` and any `user:password@`, up to the path, query or fragment.
    private static func hostList(in url: String) -> Range<String.Index>? {
        guard let scheme = url.range(of: "://"), ["postgres", "postgresql"].contains(url[..<scheme.lowerBound]) else { return nil }
        let rest = url[scheme.upperBound...]
        let end = rest.firstIndex { "/?#".contains($0) } ?? rest.endIndex
        let start = rest[..<end].lastIndex(of: "@").map { rest.index(after: $0) } ?? rest.startIndex
        return start..<end
    }

    /// `url` with one host name in place of its host list, for URLComponents.
    private static func replacing(_ span: Range<String.Index>, in url: String) -> String {
        url.replacingCharacters(in: span, with: "placeholder")
    }

    /// Hosts, port and database without the credentials, for logs.
    public var description: String {
        "postgres://\(username)@\(hosts.map(\.description).joined(separator: ","))/\(database ?? "")"
    }

    /// A client of `host` whose connections announce the pool's `application_name`, so its sessions can be counted,
    /// and start with `statementTimeout` as their statement limit (none: the server's own default).
    package func clientConfiguration(
        pool: ConnectionPoolIdentity, statementTimeout: Duration? = nil, host: Host? = nil
    ) -> PostgresClient.Configuration {
        var configuration = clientConfiguration(maxConnections: pool.maxConnections, host: host)
        configuration.options.additionalStartupParameters = [("application_name", pool.applicationName)]
        if let statementTimeout {
            configuration.options.additionalStartupParameters.append(StatementTimeout.startupParameter(statementTimeout))
        }
        return configuration
    }

    /// A single connection to `host` (the first, by default) outside the pool (a LISTEN, the primary's watch),
    /// named `applicationName` in `pg_stat_activity`.
    package func connectionConfiguration(applicationName: String, host: Host? = nil) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch tlsMode {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        let host = host ?? hosts[0]
        var configuration = PostgresConnection.Configuration(
            host: host.name, port: host.port, username: username, password: password, database: database, tls: tls)
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        configuration.options.connectTimeout = TimeAmount.nanoseconds(Int64(connectTimeout.components.seconds) * 1_000_000_000)
        return configuration
    }

    /// A pool of `maxConnections` to `host` (the first, by default).
    package func clientConfiguration(maxConnections: Int = 16, host: Host? = nil) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch tlsMode {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(.makeClientConfiguration())
        case .require: tls = .require(.makeClientConfiguration())
        }
        let host = host ?? hosts[0]
        var configuration = PostgresClient.Configuration(
            host: host.name, port: host.port, username: username, password: password, database: database, tls: tls)
        configuration.options.maximumConnections = maxConnections
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = connectTimeout
        return configuration
    }

    /// Whether one pool to one host is all there is: a single host, any session.
    var isFixed: Bool { hosts.count == 1 && targetSessionAttributes == .any }
}
