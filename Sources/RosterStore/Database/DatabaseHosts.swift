import Logging
import PostgresNIO
import ServiceLifecycle
import _ConnectionPoolModule
import Synchronization

/// Which PostgreSQL server takes Roster's connections. A URL naming one host with any session (the usual case) is one
/// pool, for good: it reconnects by itself after a restart. A URL naming several hosts, or asking for a read-write
/// or primary session, is found the way libpq's `target_session_attrs` finds it: the first host, in the URL's order,
/// that answers and qualifies. Then the pool is bound to that host until it stops qualifying: a watch session checks it
/// every `checkInterval`, and at once when a statement lost its connection or met a read-only server. After a
/// failover the hosts are tried again and a new pool goes to the new primary; the old pool is shut, which fails the
/// requests waiting on it at once (not after its circuit breaker, a minute) with `StoreError.unavailable` (a 503).
final class DatabaseHosts: Sendable {
    /// The pool of the host taking connections now; `generation` tells one primary's time from the next.
    struct Serving: Sendable {
        let host: DatabaseURL.Host?
        let client: PostgresClient
        let generation: Int
    }

    private enum Mode {
        case fixed(PostgresClient)
        case routed(DatabaseURL, makeClient: @Sendable (DatabaseURL.Host) -> PostgresClient)
    }

    private let mode: Mode
    private let logger: Logger
    /// What the URL asks for, in words (`target_session_attrs`).
    private let wanted: String
    /// The primary now; nil while there is none (before the first is found, during a failover).
    private let serving = Mutex<Serving?>(nil)
    /// Rounds of the hosts that found none qualifying, so far.
    private let fruitlessRounds = Atomic<Int>(0)
    /// Statements that lost their connection, by the generation they ran in: the watch checks its host at once.
    private let suspicions = AsyncStream.makeStream(of: Int.self, bufferingPolicy: .bufferingNewest(1))

    /// How often the watch session checks the primary while nothing suggests it is gone.
    let checkInterval: Duration
    /// How long a statement waits for a primary when there is none, before it fails as unavailable.
    let primaryWait: Duration
    /// How long between rounds of the hosts while none qualifies.
    let searchInterval: Duration

    /// One pool for good (tests, and `url.isFixed`).
    convenience init(client: PostgresClient, logger: Logger) {
        self.init(mode: .fixed(client), logger: logger, checkInterval: .seconds(1), primaryWait: .seconds(2))
    }

    /// The hosts of `url`; `makeClient` makes the pool for the one found.
    convenience init(
        url: DatabaseURL, logger: Logger, checkInterval: Duration = .seconds(1), primaryWait: Duration = .seconds(2),
        makeClient: @escaping @Sendable (DatabaseURL.Host) -> PostgresClient
    ) {
        let mode = url.isFixed ? Mode.fixed(makeClient(url.hosts[0])) : .routed(url, makeClient: makeClient)
        self.init(mode: mode, logger: logger, checkInterval: checkInterval, primaryWait: primaryWait)
    }

    private init(mode: Mode, logger: Logger, checkInterval: Duration, primaryWait: Duration) {
        self.mode = mode
        self.logger = logger
        (self.checkInterval, self.primaryWait, searchInterval) = (checkInterval, primaryWait, .milliseconds(250))
        switch mode {
        case .fixed(let client):
            wanted = "server that answers"
            serving.withLock { $0 = Serving(host: nil, client: client, generation: 0) }
        case .routed(let url, _):
            switch url.targetSessionAttributes {
            case .readWrite: wanted = "read-write server"
            case .primary: wanted = "primary"
            case .any: wanted = "server that answers"
            }
        }
    }

    /// The pool to use now. While there is no primary it waits `primaryWait`, and at least until one whole round of the
    /// hosts has found none (a round on a loaded machine, or with a host that does not answer, takes longer), then
    /// fails as unavailable.
    func current() async throws -> Serving {
        let deadline = ContinuousClock.now + primaryWait
        let round = fruitlessRounds.load(ordering: .acquiring)
        while true {
            if let serving = serving.withLock({ $0 }) { return serving }
            if ContinuousClock.now >= deadline && fruitlessRounds.load(ordering: .acquiring) > round {
                throw StoreError.unavailable("none of the database hosts is a \(wanted)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Whether a primary is taking connections now.
    var hasPrimary: Bool { serving.withLock { $0 != nil } }

    /// A statement of `generation` failed with `error`: if the error says the server may be gone or read-only, the
    /// watch checks it now.
    func failed(_ generation: Int, with error: any Error) {
        guard case .routed = mode, Self.suggestsFailover(error) else { return }
        suspicions.continuation.yield(generation)
    }

    /// Runs the pool of the primary, and finds the next one when it stops qualifying, until cancelled or a graceful
    /// shutdown.
    func run() async {
        switch mode {
        case .fixed(let client):
            await client.run()
        case .routed(let url, let makeClient):
            await cancelWhenGracefulShutdown {
                await self.route(url, makeClient: makeClient)
            }
        }
    }

    private func route(_ url: DatabaseURL, makeClient: @escaping @Sendable (DatabaseURL.Host) -> PostgresClient) async {
        await withDiscardingTaskGroup { group in
            var suspicions = self.suspicions.stream.makeAsyncIterator()
            // Ticks of the watch, between suspicions.
            group.addTask { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: checkInterval)
                    self.suspicions.continuation.yield(-1)
                }
            }
            var generation = 0
            while !Task.isCancelled {
                guard let host = await firstQualifying(url) else {
                    fruitlessRounds.add(1, ordering: .releasing)
                    try? await Task.sleep(for: searchInterval)
                    continue
                }
                generation += 1
                let client = makeClient(host)
                let (retired, retire) = AsyncStream.makeStream(of: Void.self)
                // The pool runs until it is retired (its leases and waiters then fail) or the whole task ends.
                group.addTask {
                    await withTaskGroup(of: Void.self) { pool in
                        pool.addTask { await client.run() }
                        pool.addTask { for await _ in retired {} }
                        await pool.next()
                        pool.cancelAll()
                    }
                }
                serving.withLock { $0 = Serving(host: host, client: client, generation: generation) }
                logger.notice("Database: connections go to \(host) (\(wanted))")
                // Watches the host: at every tick, and at once when a statement of this generation lost its connection.
                while let suspicion = await suspicions.next(), !Task.isCancelled {
                    guard suspicion == -1 || suspicion == generation else { continue }
                    if await qualifies(host, in: url) { continue }
                    break
                }
                serving.withLock { $0 = nil }
                retire.finish()
                if Task.isCancelled { break }
                logger.warning("Database: \(host) is no longer a \(wanted); looking for the one that is")
            }
            group.cancelAll()
        }
    }

    /// The first host of `url`, in order, that answers and qualifies; nil if none does now.
    private func firstQualifying(_ url: DatabaseURL) async -> DatabaseURL.Host? {
        for host in url.hosts where await qualifies(host, in: url) { return host }
        return nil
    }

    /// Whether `host` answers a new session within the URL's connect timeout and, if the URL asks, may be written to.
    /// A new session each time: a watch connection kept open would need its own reconnection, for one check a second.
    /// A server that answers with a refusal (too many connections, a password) is there: it is not failed over from.
    private func qualifies(_ host: DatabaseURL.Host, in url: DatabaseURL) async -> Bool {
        let connection: PostgresConnection
        do {
            let configuration = try url.connectionConfiguration(applicationName: "roster-watch", host: host)
            connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState].map({ !Self.failoverStates.contains($0) }) ?? false {
            return true
        } catch {
            logger.debug("Database: \(host) does not answer", metadata: ["error": "\(String(reflecting: error))"])
            return false
        }
        let answer = try? await connection.query(
            "SELECT pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'", logger: logger
        ).collect().first?.decode((Bool, Bool).self)
        try? await connection.close()
        guard let (recovering, readOnly) = answer else { return false }
        switch url.targetSessionAttributes {
        case .any: return true
        case .primary: return !recovering
        case .readWrite: return !recovering && !readOnly
        }
    }

    /// SQLSTATEs after which the server may be shutting down or no longer writable: 57P01–57P03 (admin or crash
    /// shutdown, cannot connect now), 25006 (a read-only transaction).
    private static let failoverStates: Set<String> = ["57P01", "57P02", "57P03", "25006"]

    /// Errors after which the server may be gone, shutting down or no longer writable.
    static func suggestsFailover(_ error: any Error) -> Bool {
        if error is ConnectionPoolError || error is ConnectionLost { return true }
        guard let psql = error as? PSQLError else { return false }
        guard let state = psql.serverInfo?[.sqlState] else {
            // No server answer: the connection failed or closed under the statement.
            return true
        }
        return state.hasPrefix("08") || failoverStates.contains(state)
    }
}
