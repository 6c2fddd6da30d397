public import Logging
public import Metrics
package import PostgresNIO
import _ConnectionPoolModule

/// The store's handle on PostgreSQL: a pooled client plus the error translation every repository shares.
/// Every connection is leased through `withConnection`, which counts it: the client itself is private.
public struct RosterDatabase: Sendable {
    /// The pool of the server taking connections now (one for good, or the primary among several hosts).
    private let hosts: DatabaseHosts
    public let logger: Logger
    /// How `pg_stat_activity` knows this client's sessions; nil when nobody asks (CLI, tests).
    public let pool: ConnectionPoolIdentity?
    /// How repositories store and read the secrets Roster must use (webhook secrets, signing keys, the cursor key).
    public let secrets: SecretsAtRest
    /// Shared by every copy of this value, so all leases through one client are counted together.
    private let leases = ConnectionLeases()
    /// Fires after every committed `transaction` and event-writing statement, for the event stamper.
    public let eventSignal = EventSignal()

    /// `roster_db_query_duration_seconds` by statement kind; nil when no metrics are collected (CLI, tests).
    private let timers: [StatementKind: Timer]?
    /// The statement limit the client's connections start with (`StatementTimeout.startupParameter`); nil: none given.
    public let statementTimeout: Duration?
    /// What is in front of PostgreSQL, and where connections that need a session go (`DatabaseRoute.swift`).
    public let route: DatabaseRoute
    /// How leases get `statementTimeout` and a task's override, by `route.mode`.
    let limits: StatementLimits

    /// - Parameter pool: the identity `client` was configured with (`DatabaseURL.clientConfiguration(pool:)`), for pool statistics.
    /// - Parameter statementTimeout: the limit `client`'s connections were configured with, so a task asking for the same one pays nothing.
    /// - Parameter secrets: `.unconfigured` (the default) makes any secret read or write an error, never a plaintext one.
    /// - Parameter route: how `client` reaches PostgreSQL (`.direct`, the default: itself) and where `withSession` connects.
    package init(
        client: PostgresClient, logger: Logger, metrics: (any MetricsFactory)? = nil, pool: ConnectionPoolIdentity? = nil,
        statementTimeout: Duration? = nil, secrets: SecretsAtRest = .unconfigured, route: DatabaseRoute = .direct
    ) {
        self.init(
            hosts: DatabaseHosts(client: client, logger: logger), logger: logger, metrics: metrics, pool: pool,
            statementTimeout: statementTimeout, secrets: secrets, route: route)
    }

    private init(
        hosts: DatabaseHosts, logger: Logger, metrics: (any MetricsFactory)?, pool: ConnectionPoolIdentity?, statementTimeout: Duration?,
        secrets: SecretsAtRest, route: DatabaseRoute = .direct
    ) {
        self.hosts = hosts
        self.statementTimeout = statementTimeout
        self.route = route
        self.limits = StatementLimits(mode: route.mode, poolDefault: statementTimeout)
        self.logger = logger
        self.pool = pool
        self.secrets = secrets
        timers = metrics.map { factory in
            Dictionary(uniqueKeysWithValues: StatementKind.allCases.map { kind in
                (kind, Timer(label: "roster_db_query_duration_seconds", dimensions: [("statement", kind.rawValue)], factory: factory))
            })
        }
    }

    /// A database with a pool of its own (`roster serve`): its connections go to `url`'s server (the primary, when it
    /// names several hosts or a `target_session_attrs`), announce `pool`'s name and run under `statementTimeout` (sent
    /// at connect, unless `route` says a pooler is in front). The pool runs while `run()` does.
    public init(
        url: DatabaseURL, pool: ConnectionPoolIdentity, statementTimeout: Duration?, secrets: SecretsAtRest, metrics: (any MetricsFactory)?,
        logger: Logger, route: DatabaseRoute = .direct
    ) {
        let startupLimit = route.mode.sendsStartupLimit ? statementTimeout : nil
        let hosts = DatabaseHosts(url: url, logger: logger) { host in
            PostgresClient(configuration: url.clientConfiguration(pool: pool, statementTimeout: startupLimit, host: host), backgroundLogger: logger)
        }
        self.init(hosts: hosts, logger: logger, metrics: metrics, pool: pool, statementTimeout: statementTimeout, secrets: secrets, route: route)
    }

    /// A database with a small pool of its own and no statistics (the CLI, migrations).
    init(url: DatabaseURL, maxConnections: Int, secrets: SecretsAtRest, logger: Logger, backgroundLogger: Logger) {
        let hosts = DatabaseHosts(url: url, logger: backgroundLogger) { host in
            PostgresClient(configuration: url.clientConfiguration(maxConnections: maxConnections, host: host), backgroundLogger: backgroundLogger)
        }
        self.init(hosts: hosts, logger: logger, metrics: nil, pool: nil, statementTimeout: nil, secrets: secrets)
    }

    /// Runs the connection pool until the task is cancelled or a graceful shutdown (once per database); with several
    /// hosts, moves it to the new primary after a failover.
    public func run() async {
        await hosts.run()
    }

    /// Whether a server takes connections now: false while a failover has no primary yet (`/api/health/ready`).
    public var hasPrimary: Bool { hosts.hasPrimary }

    /// A connection of its own to the server taking connections now (a LISTEN outside the pool), among `url`'s hosts;
    /// behind a transaction-mode pooler, to `route.sessionURL` instead (`DatabaseRoute.sessionConfiguration`).
    package func sessionConfiguration(_ url: DatabaseURL, applicationName: String) async throws -> PostgresConnection.Configuration {
        if let own = try route.sessionConfiguration(applicationName: applicationName) { return own }
        return try url.connectionConfiguration(applicationName: applicationName, host: try await hosts.current().host)
    }

    /// The label a statement is timed under: its leading keyword, a closed set (never SQL text or values).
    /// A `WITH` statement is the write its first data-modifying CTE makes (a write and its audit entry), else a select.
    enum StatementKind: String, CaseIterable {
        case select, insert, update, delete, transaction, other

        /// One pass over the words of `sql`, without allocating: it runs for every statement (a Regex here was 18 % of
        /// a POST /Users's CPU in `perf`).
        init(_ sql: String) {
            var words = Words(sql)
            guard let first = words.next() else {
                self = .other
                return
            }
            guard Self.equal(first, "with") else {
                self = Self.allCases.first { $0 != .transaction && Self.equal(first, $0.rawValue) } ?? .other
                return
            }
            // The first `INSERT INTO`, `UPDATE <table> [alias] SET` or `DELETE FROM`: the last three words are enough.
            var third: Substring.UTF8View?, second: Substring.UTF8View?, last: Substring.UTF8View?
            while let word = words.next() {
                if let last, Self.equal(last, "insert"), Self.equal(word, "into") { self = .insert; return }
                if let last, Self.equal(last, "delete"), Self.equal(word, "from") { self = .delete; return }
                if Self.equal(word, "set"), [second, third].contains(where: { $0.map { Self.equal($0, "update") } ?? false }) {
                    self = .update
                    return
                }
                (third, second, last) = (second, last, word)
            }
            self = .select
        }

        /// Whether `word` is `keyword` (lowercase ASCII), ignoring case.
        private static func equal(_ word: Substring.UTF8View, _ keyword: String) -> Bool {
            word.count == keyword.utf8.count && zip(word, keyword.utf8).allSatisfy { byte, letter in byte | 0x20 == letter }
        }

        /// The runs of letters, digits and `_` of a statement.
        private struct Words: IteratorProtocol {
            let text: Substring.UTF8View
            var index: Substring.UTF8View.Index

            init(_ text: String) {
                self.text = Substring(text).utf8
                index = self.text.startIndex
            }

            static func isWordByte(_ byte: UInt8) -> Bool {
                (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                    || byte == UInt8(ascii: "_")
            }

            mutating func next() -> Substring.UTF8View? {
                guard let start = text[index...].firstIndex(where: Self.isWordByte) else { return nil }
                let end = text[start...].firstIndex { !Self.isWordByte($0) } ?? text.endIndex
                index = end
                return text[start..<end]
            }
        }
    }

    func timed<Result>(_ kind: StatementKind, _ body: () async throws -> Result) async rethrows -> Result {
        guard let timer = timers?[kind] else { return try await body() }
        let start = ContinuousClock.now
        defer { timer.record(duration: ContinuousClock.now - start) }
        return try await body()
    }

    /// Leases a connection for `body`'s lifetime; the one way this store takes a connection, so
    /// `connectionsInUse` counts from the moment the pool hands it over until `body` returns it.
    /// Statements run under the task's `StatementTimeout.override` when it differs from the connections' default.
    /// Errors pass through untranslated.
    package func withConnection<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        try await lease(transaction: false, body)
    }

    /// `withConnection`, with `body` in one transaction when `transaction` (errors then as `PostgresTransactionError`).
    private func lease<Result: Sendable>(
        transaction: Bool, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let serving = try await hosts.current()
        do {
            return try await leased(serving.client, transaction: transaction, body)
        } catch {
            hosts.failed(serving.generation, with: error)
            throw error
        }
    }

    /// The body runs in a task of its own that is no longer waited for once its connection has closed under it
    /// (`ClosedConnections`).
    private func leased<Result: Sendable>(
        _ client: PostgresClient, transaction: Bool, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await client.withConnection { connection in
            leases.acquired()
            defer { leases.released() }
            return try await ClosedConnections.run(on: connection) { [limits, logger] connection in
                try await limits.run(on: connection, limit: StatementTimeout.override, transaction: transaction, logger: logger, body)
            }
        }
    }

    /// Connections leased through `withConnection` right now (a caller waiting for one is not counted).
    public var connectionsInUse: Int { leases.current }

    /// Runs `body` in one transaction; Postgres errors leave it as `StoreError`s, the closure's own errors unwrapped.
    package func transaction<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        do {
            let result = try await timed(.transaction) {
                try await lease(transaction: true, body)
            }
            eventSignal.written()
            return result
        } catch let error as PostgresTransactionError {
            throw StoreError.translate(error.closureError ?? error.beginError ?? error.commitError ?? error)
        } catch {
            throw StoreError.translate(error)
        }
    }

    /// One round trip that touches no table: whether the database answers (the health check's probe).
    public func ping() async throws {
        try await query("SELECT 1")
    }

    /// Runs a single statement outside an explicit transaction and collects its rows, so errors
    /// raised while streaming them (a unique violation on INSERT … RETURNING) are translated too.
    @discardableResult
    package func query(_ query: PostgresQuery) async throws -> [PostgresRow] {
        do {
            return try await timed(StatementKind(query.sql)) {
                try await withConnection { try await $0.query(query, logger: logger).collect() }
            }
        } catch {
            throw StoreError.translate(error)
        }
    }
}

/// What the store reports to its callers; the server turns these into HTTP responses.
public enum StoreError: Error, Sendable, Equatable {
    /// A unique index rejected the write (PostgreSQL 23505); the payload names the constraint.
    case uniqueness(constraint: String)
    /// A referenced row (member, tenant) does not exist.
    case invalidReference(String)
    /// PostgreSQL refused a value (SQLSTATE class 22, or 54000 for one too long to index).
    case invalidValue(String)
    case notFound(String)
    /// A statement ran past its time limit (57014 query_canceled, raised by `statement_timeout`).
    case statementTimeout
    /// The database could not be reached or failed for reasons no client caused.
    case unavailable(String)
    /// An `If-Match` named other versions than the resource's, now `current`.
    case versionMismatch(current: Int64)
    /// A membership change the store refuses: a member that is not a User or Group of the tenant, or of another type
    /// than claimed, or one that would make a group contain itself.
    case invalidMembers(String)
    /// More than the store is willing to read for one answer (the detail says what to ask instead).
    case tooMuch(String)
    /// A filter names what this resource type does not have or cannot compare that way.
    case invalidFilter(String)
    /// A sort key this resource type cannot sort by.
    case invalidSort(String)
    /// A cursor this server did not issue for this query, one past its lifetime, or a count other than its own.
    case invalidCursor(String), expiredCursor(String), invalidCount(String)

    /// Postgres errors become `StoreError`s; the caller's own errors (SCIM validation) pass through.
    static func translate(_ error: any Error) -> any Error {
        if error is PSQLError || error is PostgresTransactionError { return StoreError(translating: error) }
        // The pool's own error: no connection could be made (its circuit breaker), or the pool is shutting down.
        if error is ConnectionPoolError {
            return StoreError.unavailable("no connection could be made (\(error))")
        }
        if let lost = error as? ConnectionLost { return StoreError.unavailable(lost.description) }
        return error
    }

    init(translating error: any Error) {
        guard let psql = error as? PSQLError else {
            self = .unavailable(String(describing: error))
            return
        }
        guard let info = psql.serverInfo, let state = info[.sqlState] else {
            self = .unavailable("database connection failed (\(psql.code))")
            return
        }
        let code = PostgresError.Code(raw: state)
        switch code {
        case .uniqueViolation:
            self = .uniqueness(constraint: info[.constraintName] ?? "unique")
        case .foreignKeyViolation:
            // A row the write refers to is gone (deleted by another request meanwhile) or never was: the client's
            // reference, not the database's failure.
            self = .invalidReference("A resource this change refers to does not exist (\(info[.constraintName] ?? "a reference")).")
        case .programLimitExceeded:
            // An index entry over its size limit, from a value the client sent too long.
            self = .invalidValue(info[.message] ?? "a value is too long")
        case .queryCanceled:
            self = .statementTimeout
        case _ where Self.isDataException(code):
            // A value PostgreSQL cannot take, from a client's input.
            self = .invalidValue(info[.message] ?? "invalid value")
        default:
            // SQLSTATE and the server's message, to tell a broken query from a broken database.
            self = .unavailable("SQLSTATE \(state): \(info[.message] ?? "")")
        }
    }

    /// Class 22, data exception (`22000` and its subclasses: a value out of range, malformed, too long, …).
    static func isDataException(_ code: PostgresError.Code) -> Bool {
        code.raw.hasPrefix(String(PostgresError.Code.dataException.raw.prefix(2)))
    }
}

extension StoreError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .uniqueness(let constraint): "A unique value is already taken (\(constraint))."
        case .invalidReference(let detail): detail
        case .invalidValue(let detail): "A value was refused by the database: \(detail)"
        case .notFound(let what): "\(what) not found."
        case .statementTimeout: "A statement ran past its time limit."
        case .unavailable(let detail): "The database is unavailable: \(detail)"
        case .versionMismatch(let current): "The resource has changed: its version is W/\"\(current)\", not the one in If-Match."
        case .invalidMembers(let detail), .tooMuch(let detail), .invalidFilter(let detail), .invalidSort(let detail),
            .invalidCursor(let detail), .expiredCursor(let detail), .invalidCount(let detail):
            detail
        }
    }
}
