import Crypto
public import Foundation
import Logging
import PostgresNIO

/// One numbered file of `sql/`, e.g. `0001_init.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String

    /// Hex SHA-256 of the file: an applied migration whose file changed is refused.
    public var checksum: String {
        SHA256.hash(data: Data(sql.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// The migrations shipped in this build, in version order.
    public static func bundled() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw MigrationError.missingBundle
        }
        return try load(from: directory)
    }

    public static func load(from directory: URL) throws -> [Migration] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }
        let migrations = try files.map { file in
            guard let version = Int(file.prefix { $0.isNumber }) else { throw MigrationError.badFileName(file) }
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            return Migration(version: version, name: String(file.dropLast(4)), sql: sql)
        }.sorted { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw MigrationError.duplicateVersion(a.version)
        }
        return migrations
    }
}

public enum MigrationError: Error, CustomStringConvertible, Equatable {
    case missingBundle
    case badFileName(String)
    case duplicateVersion(Int)
    case checksumMismatch(version: Int, name: String)
    case unknownApplied(version: Int, name: String)

    public var description: String {
        switch self {
        case .missingBundle:
            "The SQL migrations are missing from this build (the roster_RosterStore.resources folder must sit beside the binary)."
        case .badFileName(let file):
            "Migration file '\(file)' must start with its version number, e.g. 0002_add_events.sql."
        case .duplicateVersion(let version):
            "Two migration files share version \(version)."
        case .checksumMismatch(let version, let name):
            "Migration \(version) (\(name)) was already applied, but its file has changed since. Applied migrations are immutable: restore the original file and put the change in a new numbered migration."
        case .unknownApplied(let version, let name):
            "The database has migration \(version) (\(name)) applied, which this build does not know. Run a newer Roster."
        }
    }
}

/// Applies migrations in order, in one transaction, under an advisory lock so replicas starting together don't race.
public struct Migrator: Sendable {
    /// pg_advisory_xact_lock key: "Roster" in ASCII.
    static let lockKey: Int64 = 0x526F_7374_6572
    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        self.migrations = migrations
    }

    public struct Status: Sendable, Equatable {
        public var applied: Int
        public var pending: Int
    }

    /// Applies every pending migration; returns those it applied.
    @discardableResult
    public func migrate(_ database: RosterDatabase) async throws -> [Migration] {
        try await database.transaction { connection in
            // No statement limit, whatever the role's default (behind a transaction-mode pooler Roster asks for one): a
            // migration on a large table, or waiting on the lock for another replica's, may take longer.
            try await connection.query("SELECT set_config('statement_timeout', '0', true)", logger: database.logger)
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: database.logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: database.logger)
            let applied = try await Self.applied(connection, logger: database.logger)
            let pending = try pendingMigrations(applied: applied)
            for migration in pending {
                for statement in SQLScript.statements(in: migration.sql) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: database.logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(migration.checksum))",
                    logger: database.logger)
                database.logger.info("Applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
            return pending
        }
    }

    /// How many migrations are applied and pending; refuses a database whose history disagrees with this build.
    public func status(_ database: RosterDatabase) async throws -> Status {
        let exists = try await database.query("SELECT to_regclass('schema_migrations') IS NOT NULL")
            .first?.decode(Bool.self) ?? false
        guard exists else { return Status(applied: 0, pending: migrations.count) }
        let applied = try await database.withConnection { try await Self.applied($0, logger: database.logger) }
        let pending = try pendingMigrations(applied: applied)
        return Status(applied: applied.count, pending: pending.count)
    }

    private func pendingMigrations(applied: [Int: (name: String, checksum: String)]) throws -> [Migration] {
        for (version, record) in applied {
            guard let migration = migrations.first(where: { $0.version == version }) else {
                throw MigrationError.unknownApplied(version: version, name: record.name)
            }
            if migration.checksum != record.checksum {
                throw MigrationError.checksumMismatch(version: version, name: migration.name)
            }
        }
        return migrations.filter { applied[$0.version] == nil }
    }

    private static func applied(_ connection: PostgresConnection, logger: Logger) async throws -> [Int: (name: String, checksum: String)] {
        var result: [Int: (name: String, checksum: String)] = [:]
        let rows = try await connection.query("SELECT version, name, checksum FROM schema_migrations", logger: logger)
        for try await (version, name, checksum) in rows.decode((Int, String, String).self) {
            result[version] = (name, checksum)
        }
        return result
    }
}

/// Splits a SQL script into statements at top-level semicolons, respecting quotes, comments and dollar quoting.
enum SQLScript {
    static func statements(in script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        let chars = Array(script)
        var i = 0
        func emit() {
            let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty && !isOnlyComments(trimmed) { statements.append(trimmed) }
            current = ""
        }
        while i < chars.count {
            let c = chars[i]
            let next: Character? = i + 1 < chars.count ? chars[i + 1] : nil
            if c == "-" && next == "-" {
                while i < chars.count && chars[i] != "\n" { current.append(chars[i]); i += 1 }
                continue
            }
            if c == "/" && next == "*" {
                while i < chars.count && !(chars[i] == "*" && i + 1 < chars.count && chars[i + 1] == "/") { current.append(chars[i]); i += 1 }
                current.append("*/"); i += 2
                continue
            }
            if c == "'" || c == "\"" {
                current.append(c); i += 1
                while i < chars.count {
                    current.append(chars[i])
                    if chars[i] == c { i += 1; break }
                    i += 1
                }
                continue
            }
            if c == "$", let tagEnd = chars[(i + 1)...].firstIndex(of: "$"),
                chars[(i + 1)..<tagEnd].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
            {
                let tag = String(chars[i...tagEnd])
                current += tag
                i = tagEnd + 1
                let rest = String(chars[i...])
                if let close = rest.range(of: tag) {
                    let body = rest[..<close.upperBound]
                    current += body
                    i += body.count
                } else {
                    current += rest
                    i = chars.count
                }
                continue
            }
            if c == ";" { emit(); i += 1; continue }
            current.append(c)
            i += 1
        }
        emit()
        return statements
    }

    private static func isOnlyComments(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy { $0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }
    }
}
