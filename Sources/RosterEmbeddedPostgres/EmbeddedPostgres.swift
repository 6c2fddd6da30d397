// A throwaway PostgreSQL cluster for `roster dev` and the tests. postgres runs in the foreground as our
// direct child (never `pg_ctl start`), so we hold its pid and reap it ourselves.

import Foundation
import Glibc
public import Logging
import Synchronization

public final class EmbeddedPostgres: Sendable {
    public struct Options: Sendable {
        /// nil: a fresh temporary directory (/tmp/roster-pg-XXXXXX), deleted on stop. Otherwise the cluster
        /// itself (PGDATA), kept across runs; initdb runs only while it has no PG_VERSION. It also holds the
        /// superuser password (`roster-password`) and the server log (`roster-postgres.log`).
        public var dataDirectory: String?
        /// nil: pick a free 127.0.0.1 port.
        public var port: Int?
        /// false (tests): initdb --no-sync, and fsync/synchronous_commit/full_page_writes off.
        public var durable: Bool
        /// Extra `-c name=value` settings for the postgres command line; they override Roster's defaults
        /// (listen_addresses=127.0.0.1, max_connections=200, lc_messages=C, and the non-durable trio).
        public var settings: [String: String]

        public init(dataDirectory: String? = nil, port: Int? = nil, durable: Bool = true, settings: [String: String] = [:]) {
            self.dataDirectory = dataDirectory
            self.port = port
            self.durable = durable
            self.settings = settings
        }
    }

    public let host: String
    public let port: Int
    /// Superuser created by initdb.
    public let username: String
    public let password: String
    public let database: String
    /// The cluster directory (PGDATA).
    public let dataDirectory: String
    /// Where postgres writes its log (stdout and stderr).
    public let logFile: String
    /// Folder of the Unix socket, or nil when the path would be too long for a socket.
    public let socketDirectory: String?
    public let binaries: PostgresBinaries

    private let pid: pid_t
    private let temporaryRoot: String?
    private let logger: Logger
    private let state = Mutex(State.running)

    private enum State {
        case running
        case stopping(Task<Void, Never>)
        case stopped
    }

    public var processID: Int32 { pid }

    /// postgres://roster:<password>@127.0.0.1:<port>/postgres
    public var databaseURL: String {
        let user = username.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? username
        let pass = password.addingPercentEncoding(withAllowedCharacters: .urlPasswordAllowed) ?? password
        return "postgres://\(user):\(pass)@\(host):\(port)/\(database)"
    }

    static let superuser = "roster"
    static let passwordFileName = "roster-password"
    static let readyMessage = "database system is ready to accept connections"
    static let startTimeout: Duration = .seconds(30)
    static let initdbTimeout: Duration = .seconds(120)
    static let stopTimeout: Duration = .seconds(10)

    private init(port: Int, password: String, layout: Layout, binaries: PostgresBinaries, pid: pid_t, logger: Logger) {
        self.host = "127.0.0.1"
        self.port = port
        self.username = Self.superuser
        self.password = password
        self.database = "postgres"
        self.dataDirectory = layout.dataDirectory
        self.logFile = layout.logFile
        self.socketDirectory = layout.socketDirectory
        self.binaries = binaries
        self.pid = pid
        self.temporaryRoot = layout.temporaryRoot
        self.logger = logger
    }

    deinit {
        guard case .running = state.withLock({ $0 }) else { return }
        logger.warning(
            "EmbeddedPostgres released without stop(); shutting it down in the background",
            metadata: ["pid": "\(pid)"])
        Task.detached { [pid, temporaryRoot, logger] in
            await Self.shutdown(pid: pid, removing: temporaryRoot, logger: logger)
        }
    }

    // MARK: start

    public static func start(_ options: Options = .init(), logger: Logger) async throws -> EmbeddedPostgres {
        let clock = ContinuousClock()
        let began = clock.now
        let binaries = try PostgresBinaries.locate()
        let account = try RunAccount.forCurrentUser()

        if let port = options.port {
            guard (1...65535).contains(port) else {
                throw EmbeddedPostgresError.startFailed("invalid port \(port)")
            }
            if Loopback.isListening(port: port) { throw EmbeddedPostgresError.portInUse(port) }
        }

        let layout = try Layout.prepare(options, account: account)
        var child: pid_t? = nil
        do {
            let password: String
            if layout.hasCluster {
                password = try readPassword(layout)
                logger.debug("Reusing PostgreSQL cluster", metadata: ["dataDirectory": "\(layout.dataDirectory)"])
            } else {
                password = try await initdb(layout, binaries: binaries, account: account, durable: options.durable, logger: logger)
            }
            let initialized = clock.now

            // A picked port can be taken before postgres binds it, so a few retries.
            let attempts = options.port == nil ? 5 : 1
            for attempt in 1...attempts {
                let port = try options.port ?? Loopback.freePort()
                let logOffset = fileSize(layout.logFile)
                let arguments = options.serverArguments(layout, port: port)
                logger.debug(
                    "Starting postgres",
                    metadata: ["command": "\(binaries.postgres) \(arguments.joined(separator: " "))", "log": "\(layout.logFile)"])
                let pid = try await ChildProcess.spawn(binaries.postgres, arguments, output: layout.logFile, account: account)
                child = pid

                let readiness = try await waitUntilReady(pid: pid, port: port, logFile: layout.logFile, logOffset: logOffset)
                child = nil
                switch readiness {
                case .ready:
                    logger.info(
                        "PostgreSQL is ready",
                        metadata: [
                            "url": "postgres://\(superuser)@127.0.0.1:\(port)/postgres",
                            "pid": "\(pid)",
                            "dataDirectory": "\(layout.dataDirectory)",
                            "initdb": "\(layout.hasCluster ? "skipped" : "\(initialized - began)")",
                            "startup": "\(clock.now - initialized)",
                        ])
                    return EmbeddedPostgres(
                        port: port, password: password, layout: layout, binaries: binaries, pid: pid, logger: logger)
                case .exited(let status):
                    let log = lastLines(of: layout.logFile, from: logOffset)
                    if log.contains("Address already in use") {
                        if options.port != nil { throw EmbeddedPostgresError.portInUse(port) }
                        if attempt < attempts {
                            logger.debug("Port \(port) was taken before postgres could bind it; retrying")
                            continue
                        }
                    }
                    throw EmbeddedPostgresError.startFailed("postgres \(status). \(layout.logTitle):\n\(log)")
                case .timedOut:
                    await nonCancellable { await shutdown(pid: pid, removing: nil, logger: logger) }
                    let log = lastLines(of: layout.logFile, from: logOffset)
                    throw EmbeddedPostgresError.startFailed(
                        "postgres did not accept connections within \(startTimeout). \(layout.logTitle):\n\(log)")
                }
            }
            throw EmbeddedPostgresError.startFailed("no free port found")
        } catch {
            let leftover = child
            let temporaryRoot = layout.temporaryRoot
            await nonCancellable {
                if let leftover { await shutdown(pid: leftover, removing: nil, logger: logger) }
                if let temporaryRoot { removeTree(temporaryRoot, logger: logger) }
            }
            throw error
        }
    }

    // MARK: stop

    /// Fast shutdown (SIGINT), up to 10 s, then SIGKILL; reaps the process and removes the temporary
    /// directory (never a caller-given dataDirectory). Idempotent; concurrent callers all wait for it.
    public func stop() async {
        let task = state.withLock { state -> Task<Void, Never>? in
            switch state {
            case .running:
                let task = Task.detached { [pid, temporaryRoot, logger] in
                    await Self.shutdown(pid: pid, removing: temporaryRoot, logger: logger)
                }
                state = .stopping(task)
                return task
            case .stopping(let task):
                return task
            case .stopped:
                return nil
            }
        }
        guard let task else { return }
        await task.value
        state.withLock { $0 = .stopped }
    }

    static func shutdown(pid: pid_t, removing temporaryRoot: String?, logger: Logger) async {
        let began = ContinuousClock.now
        let status = await ChildProcess.terminate(pid, grace: stopTimeout, logger: logger)
        if let temporaryRoot { removeTree(temporaryRoot, logger: logger) }
        logger.info("PostgreSQL stopped", metadata: ["pid": "\(pid)", "status": "\(status)", "took": "\(ContinuousClock.now - began)"])
    }

    // MARK: readiness

    private enum Readiness {
        case ready
        case exited(ChildStatus)
        case timedOut
    }

    /// Throws only on cancellation; start() then stops and reaps the child.
    private static func waitUntilReady(pid: pid_t, port: Int, logFile: String, logOffset: Int) async throws -> Readiness {
        let clock = ContinuousClock()
        let started = clock.now
        while clock.now < started + startTimeout {
            let status = ChildProcess.reap(pid)
            guard case .running = status else { return .exited(status) }
            if logText(logFile, from: logOffset).contains(readyMessage), Loopback.isListening(port: port) {
                return .ready
            }
            // Ready is typically 30-50 ms after spawn: poll tightly during the first second.
            try await Task.sleep(for: clock.now - started < .seconds(1) ? .milliseconds(10) : .milliseconds(50))
        }
        return .timedOut
    }
}

extension EmbeddedPostgres.Options {
    /// The postgres command line: Roster's defaults, overridden by `settings`.
    fileprivate func serverArguments(_ layout: EmbeddedPostgres.Layout, port: Int) -> [String] {
        var all = [
            "listen_addresses": "127.0.0.1",
            "max_connections": "200",
            // English log lines: readiness is detected from the log.
            "lc_messages": "C",
        ]
        if !durable {
            all["fsync"] = "off"
            all["synchronous_commit"] = "off"
            all["full_page_writes"] = "off"
        }
        all.merge(settings) { _, caller in caller }
        var arguments = ["-D", layout.dataDirectory, "-h", "127.0.0.1", "-p", String(port), "-k", layout.socketDirectory ?? ""]
        for (name, value) in all.sorted(by: { $0.key < $1.key }) {
            arguments += ["-c", "\(name)=\(value)"]
        }
        return arguments
    }
}

// MARK: - Helpers

extension EmbeddedPostgres {
    /// Runs `body` to completion even if the calling task is cancelled.
    static func nonCancellable(_ body: @escaping @Sendable () async -> Void) async {
        await Task.detached(operation: body).value
    }
}

private enum Loopback {
    /// A free 127.0.0.1 TCP port, from binding port 0.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw EmbeddedPostgresError.startFailed("socket(): \(errnoText())") }
        defer { close(fd) }
        var address = loopback(port: 0)
        guard withSockaddr(&address, { bind(fd, $0, $1) }) == 0 else {
            throw EmbeddedPostgresError.startFailed("bind(127.0.0.1:0): \(errnoText())")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard withSockaddr(&address, { pointer, _ in getsockname(fd, pointer, &length) }) == 0 else {
            throw EmbeddedPostgresError.startFailed("getsockname(): \(errnoText())")
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// True when a TCP connect to 127.0.0.1:port succeeds (1 s timeout).
    static func isListening(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: port)
        return withSockaddr(&address) { connect(fd, $0, $1) } == 0
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
        return address
    }

    private static func withSockaddr(
        _ address: inout sockaddr_in, _ body: (UnsafeMutablePointer<sockaddr>, socklen_t) -> Int32
    ) -> Int32 {
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}

// MARK: - Errors

public enum EmbeddedPostgresError: Error, CustomStringConvertible, Sendable {
    /// No folder holding both `initdb` and `postgres` was found.
    case binariesNotFound(searched: [String])
    /// The requested port already accepts connections.
    case portInUse(Int)
    /// initdb exited unsuccessfully; the payload holds the last lines of its output.
    case initdbFailed(String)
    /// postgres exited or did not become ready; the payload holds the last lines of its log.
    case startFailed(String)
    /// A binary could not be spawned at all (posix_spawn failed).
    case spawnFailed(executable: String, errno: Int32)
    /// Running as root, but PostgreSQL needs an unprivileged account (and setpriv) to run under.
    case unprivilegedAccountUnavailable(String)
    /// The data directory cannot be created or used (permissions, missing password file, ...).
    case dataDirectoryUnusable(path: String, reason: String)

    public var description: String {
        switch self {
        case .binariesNotFound(let searched):
            return "PostgreSQL server binaries (initdb, postgres) were not found. Roster starts a private "
                + "PostgreSQL 15 cluster for `roster dev` and the tests and needs the server package installed: "
                + "on Debian/Ubuntu run `apt-get install postgresql` (its server binaries go to "
                + "/usr/lib/postgresql/<version>/bin, which is searched automatically), on macOS "
                + "`brew install postgresql@15`; or put the folder holding initdb and postgres on PATH. Searched: "
                + (searched.isEmpty ? "(nothing)" : searched.joined(separator: ", ")) + "."
        case .portInUse(let port):
            return "Cannot start PostgreSQL on 127.0.0.1:\(port): the port is already in use. "
                + "Choose another port or leave it unset to pick a free one."
        case .initdbFailed(let output):
            return "initdb failed to create the PostgreSQL cluster:\n\(output)"
        case .startFailed(let log):
            return "PostgreSQL failed to start:\n\(log)"
        case .spawnFailed(let executable, let code):
            return "Could not run \(executable): \(errnoText(code)) (errno \(code))."
        case .unprivilegedAccountUnavailable(let reason):
            return "PostgreSQL refuses to run as root, and Roster could not switch to an unprivileged account: "
                + "\(reason). Install the postgresql package (it creates the `postgres` account) and util-linux "
                + "(setpriv), or run as a non-root user."
        case .dataDirectoryUnusable(let path, let reason):
            return "Cannot use PostgreSQL data directory \(path): \(reason)"
        }
    }
}

/// strerror text of `code`, by default the current errno (read it before any other libc call).
func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
