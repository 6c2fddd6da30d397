// Starts and stops a throwaway PostgreSQL cluster for `roster dev` and the tests.
//
// Design notes (Linux):
// - `postgres` runs in the foreground as our direct child (never `pg_ctl start`),
//   spawned with posix_spawn and reaped with non-blocking waitpid polling.
// - PostgreSQL refuses to run as root. As root, initdb/postgres run through
//   `setpriv --reuid=postgres --regid=postgres --clear-groups --pdeathsig INT --`,
//   which execs the binary, so the PID we hold is postgres itself.
// - `--pdeathsig` fires when the *thread* that spawned the child exits, not the
//   process. start() may run on any thread (a pool thread, a NIO event loop used as
//   task executor, a short-lived Thread), and its lifetime is not ours to control.
//   All spawns therefore happen on one dedicated thread that lives as long as the
//   process; postgres then stops by itself only when the process dies (crash,
//   Ctrl-C, exit without stop()).

import Foundation
import Glibc
import Logging
import Synchronization

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
            return "Could not run \(executable): \(String(cString: strerror(code))) (errno \(code))."
        case .unprivilegedAccountUnavailable(let reason):
            return "PostgreSQL refuses to run as root, and Roster could not switch to an unprivileged account: "
                + "\(reason). Install the postgresql package (it creates the `postgres` account) and util-linux "
                + "(setpriv), or run as a non-root user."
        case .dataDirectoryUnusable(let path, let reason):
            return "Cannot use PostgreSQL data directory \(path): \(reason)"
        }
    }
}

// MARK: - Binaries

public struct PostgresBinaries: Sendable {
    /// Folder holding `initdb` and `postgres` (and usually `pg_isready`).
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public var initdb: String { directory + "/initdb" }
    public var postgres: String { directory + "/postgres" }

    /// Absolute path of a tool in `directory`.
    public func path(of tool: String) -> String { directory + "/" + tool }

    /// PATH first, then the folder `pg_config --bindir` prints (Debian keeps server binaries off PATH),
    /// then the newest /usr/lib/postgresql/*/bin.
    public static func locate() throws(EmbeddedPostgresError) -> PostgresBinaries {
        var searched: [String] = []
        func check(_ directory: String) -> Bool {
            searched.append(directory)
            return ["initdb", "postgres"].allSatisfy { isExecutableFile(directory + "/" + $0) }
        }

        let pathVariable = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let pathEntries = pathVariable.split(separator: ":").map(String.init).filter { $0.hasPrefix("/") }
        for entry in pathEntries where check(entry) {
            return PostgresBinaries(directory: entry)
        }

        if let pgConfig = pathEntries.map({ $0 + "/pg_config" }).first(where: isExecutableFile),
           let output = captureOutput(of: pgConfig, arguments: ["--bindir"])
        {
            let directory = output.trimmingCharacters(in: .whitespacesAndNewlines)
            if directory.hasPrefix("/"), !searched.contains(directory), check(directory) {
                return PostgresBinaries(directory: directory)
            }
        }

        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap { name -> (name: String, key: [Int])? in
                let key = name.split(separator: ".").compactMap { Int($0) }
                return key.isEmpty ? nil : (name, key)
            }
            .sorted { $0.key.lexicographicallyPrecedes($1.key) }
            .reversed()
        for version in versions {
            let directory = "\(root)/\(version.name)/bin"
            if !searched.contains(directory), check(directory) {
                return PostgresBinaries(directory: directory)
            }
        }
        if versions.isEmpty { searched.append("\(root)/*/bin") }
        throw .binariesNotFound(searched: searched)
    }
}

// MARK: - EmbeddedPostgres

public final class EmbeddedPostgres: Sendable {
    public struct Options: Sendable {
        /// nil: a fresh temporary directory (e.g. /tmp/roster-pg-XXXXXX) deleted on stop.
        /// Non-nil: this directory *is* the cluster (PGDATA); it is kept across runs and initdb runs
        /// only when it holds no cluster yet (no PG_VERSION). The superuser password is kept in
        /// `<dataDirectory>/roster-password`, the server log in `<dataDirectory>/roster-postgres.log`.
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
    private let state: Mutex<State>

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
    static let readyMessage = "database system is ready to accept connections"
    static let startTimeout: Duration = .seconds(30)
    static let initdbTimeout: Duration = .seconds(120)
    static let stopTimeout: Duration = .seconds(10)

    private init(
        port: Int, password: String, dataDirectory: String, logFile: String, socketDirectory: String?,
        binaries: PostgresBinaries, pid: pid_t, temporaryRoot: String?, logger: Logger
    ) {
        self.host = "127.0.0.1"
        self.port = port
        self.username = Self.superuser
        self.password = password
        self.database = "postgres"
        self.dataDirectory = dataDirectory
        self.logFile = logFile
        self.socketDirectory = socketDirectory
        self.binaries = binaries
        self.pid = pid
        self.temporaryRoot = temporaryRoot
        self.logger = logger
        self.state = Mutex(.running)
    }

    deinit {
        let running = state.withLock { state -> Bool in
            if case .running = state { return true }
            return false
        }
        guard running else { return }
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
            if isListening(port: port) { throw EmbeddedPostgresError.portInUse(port) }
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

            let attempts = options.port == nil ? 5 : 1
            for attempt in 1...attempts {
                let port = try options.port ?? freePort()
                let logOffset = fileSize(layout.logFile)
                var settings = [
                    "listen_addresses": "127.0.0.1",
                    "max_connections": "200",
                    // English log lines: readiness is detected from the log.
                    "lc_messages": "C",
                ]
                if !options.durable {
                    settings["fsync"] = "off"
                    settings["synchronous_commit"] = "off"
                    settings["full_page_writes"] = "off"
                }
                settings.merge(options.settings) { _, caller in caller }
                var arguments = [
                    "-D", layout.dataDirectory,
                    "-h", "127.0.0.1",
                    "-p", String(port),
                    "-k", layout.socketDirectory ?? "",
                ]
                for (name, value) in settings.sorted(by: { $0.key < $1.key }) {
                    arguments += ["-c", "\(name)=\(value)"]
                }
                logger.debug(
                    "Starting postgres",
                    metadata: ["command": "\(binaries.postgres) \(arguments.joined(separator: " "))", "log": "\(layout.logFile)"])
                let pid = try await spawn(binaries.postgres, arguments, output: layout.logFile, account: account)
                child = pid

                switch try await waitUntilReady(pid: pid, port: port, logFile: layout.logFile, logOffset: logOffset) {
                case .ready:
                    let ready = clock.now
                    logger.info(
                        "PostgreSQL is ready",
                        metadata: [
                            "url": "postgres://\(superuser)@127.0.0.1:\(port)/postgres",
                            "pid": "\(pid)",
                            "dataDirectory": "\(layout.dataDirectory)",
                            "initdb": "\(layout.hasCluster ? "skipped" : "\(initialized - began)")",
                            "startup": "\(ready - initialized)",
                        ])
                    child = nil
                    return EmbeddedPostgres(
                        port: port, password: password, dataDirectory: layout.dataDirectory, logFile: layout.logFile,
                        socketDirectory: layout.socketDirectory, binaries: binaries, pid: pid,
                        temporaryRoot: layout.temporaryRoot, logger: logger)
                case .exited(let status):
                    child = nil
                    let log = lastLines(of: layout.logFile, from: logOffset, count: 20)
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
                    child = nil
                    let log = lastLines(of: layout.logFile, from: logOffset, count: 20)
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

    private static func shutdown(pid: pid_t, removing temporaryRoot: String?, logger: Logger) async {
        let clock = ContinuousClock()
        let began = clock.now
        var outcome = reap(pid)
        if case .running = outcome {
            kill(pid, SIGINT)
            let deadline = began + stopTimeout
            while case .running = outcome, clock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
                outcome = reap(pid)
            }
            if case .running = outcome {
                logger.warning("postgres did not stop within \(stopTimeout); sending SIGKILL", metadata: ["pid": "\(pid)"])
                kill(pid, SIGKILL)
                let killDeadline = clock.now + .seconds(10)
                while case .running = outcome, clock.now < killDeadline {
                    try? await Task.sleep(for: .milliseconds(20))
                    outcome = reap(pid)
                }
                if case .running = outcome {
                    logger.error("postgres survived SIGKILL; giving up", metadata: ["pid": "\(pid)"])
                }
            }
        }
        if let temporaryRoot { removeTree(temporaryRoot, logger: logger) }
        logger.info("PostgreSQL stopped", metadata: ["pid": "\(pid)", "status": "\(outcome)", "took": "\(clock.now - began)"])
    }

    // MARK: initdb

    private static func initdb(
        _ layout: Layout, binaries: PostgresBinaries, account: RunAccount?, durable: Bool, logger: Logger
    ) async throws -> String {
        let password = generatePassword()
        // initdb needs an empty (or absent) data directory, so the password file and its output live elsewhere.
        let scratch: String
        let ownScratch: Bool
        if let root = layout.temporaryRoot {
            scratch = root
            ownScratch = false
        } else {
            scratch = try makeTemporaryDirectory(prefix: "roster-initdb-", account: account)
            ownScratch = true
        }
        defer { if ownScratch { removeTree(scratch, logger: logger) } }

        let passwordFile = scratch + "/initdb-pwfile"
        let outputFile = scratch + "/initdb.log"
        try writePrivateFile(passwordFile, contents: password + "\n", account: account)
        defer { unlink(passwordFile) }

        var arguments = [
            "-D", layout.dataDirectory,
            "-U", superuser,
            "--auth=scram-sha-256",
            "--pwfile=\(passwordFile)",
            "-E", "UTF8",
            "--locale=C.UTF-8",
        ]
        if !durable { arguments.append("--no-sync") }
        logger.info("Creating PostgreSQL cluster", metadata: ["dataDirectory": "\(layout.dataDirectory)"])
        logger.debug("Running initdb", metadata: ["command": "\(binaries.initdb) \(arguments.joined(separator: " "))"])

        let pid = try await spawn(binaries.initdb, arguments, output: outputFile, account: account)
        let clock = ContinuousClock()
        let deadline = clock.now + initdbTimeout
        var outcome = reap(pid)
        do {
            while case .running = outcome {
                if clock.now >= deadline {
                    await nonCancellable { await shutdown(pid: pid, removing: nil, logger: logger) }
                    throw EmbeddedPostgresError.initdbFailed(
                        "initdb did not finish within \(initdbTimeout):\n" + lastLines(of: outputFile, count: 20))
                }
                try await Task.sleep(for: .milliseconds(50))
                outcome = reap(pid)
            }
        } catch let error as CancellationError {
            await nonCancellable { await shutdown(pid: pid, removing: nil, logger: logger) }
            throw error
        }
        guard case .exited(0) = outcome else {
            throw EmbeddedPostgresError.initdbFailed("initdb \(outcome):\n" + lastLines(of: outputFile, count: 20))
        }
        if layout.temporaryRoot == nil {
            try writePrivateFile(layout.dataDirectory + "/" + passwordFileName, contents: password + "\n", account: account)
        }
        return password
    }

    static let passwordFileName = "roster-password"

    private static func readPassword(_ layout: Layout) throws -> String {
        let path = layout.dataDirectory + "/" + passwordFileName
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
              !text.isEmpty
        else {
            throw EmbeddedPostgresError.dataDirectoryUnusable(
                path: layout.dataDirectory,
                reason: "it holds a cluster but no readable \(passwordFileName) file, so the password of user "
                    + "'\(superuser)' is unknown. Delete the directory to start over, or write the password into \(path).")
        }
        return text
    }

    /// 32 characters from [A-Za-z0-9]: URL-safe, about 190 bits.
    static func generatePassword() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<32).map { _ in alphabet.randomElement(using: &generator)! })
    }

    // MARK: readiness

    private enum Readiness {
        case ready
        case exited(ChildStatus)
        case timedOut
    }

    private static func waitUntilReady(pid: pid_t, port: Int, logFile: String, logOffset: Int) async throws -> Readiness {
        let clock = ContinuousClock()
        let started = clock.now
        let deadline = started + startTimeout
        while clock.now < deadline {
            let status = reap(pid)
            if case .running = status {
                if logText(logFile, from: logOffset).contains(readyMessage), isListening(port: port) {
                    return .ready
                }
            } else {
                return .exited(status)
            }
            // Ready is typically 30-50 ms after spawn: poll tightly during the first second.
            // On cancellation this throws; start() then stops and reaps the child.
            try await Task.sleep(for: clock.now - started < .seconds(1) ? .milliseconds(10) : .milliseconds(50))
        }
        return .timedOut
    }
}

// MARK: - Layout

extension EmbeddedPostgres {
    fileprivate struct Layout: Sendable {
        var dataDirectory: String
        var logFile: String
        var socketDirectory: String?
        /// Set when we created a temporary directory that stop() removes.
        var temporaryRoot: String?
        var hasCluster: Bool

        static func prepare(_ options: Options, account: RunAccount?) throws -> Layout {
            if let given = options.dataDirectory {
                let dataDirectory = absolutePath(given)
                let parent = (dataDirectory as NSString).deletingLastPathComponent
                do {
                    try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
                } catch {
                    throw EmbeddedPostgresError.dataDirectoryUnusable(path: dataDirectory, reason: "cannot create \(parent): \(error)")
                }
                var info = stat()
                if stat(dataDirectory, &info) != 0 {
                    guard mkdir(dataDirectory, 0o700) == 0 || errno == EEXIST else {
                        throw EmbeddedPostgresError.dataDirectoryUnusable(
                            path: dataDirectory, reason: String(cString: strerror(errno)))
                    }
                } else if (info.st_mode & S_IFMT) != S_IFDIR {
                    throw EmbeddedPostgresError.dataDirectoryUnusable(path: dataDirectory, reason: "not a directory")
                }
                let hasCluster = FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION")
                if let account {
                    try account.checkCanReach(dataDirectory)
                    if !hasCluster {
                        _ = chown(dataDirectory, account.uid, account.gid)
                        _ = chmod(dataDirectory, 0o700)
                    }
                }
                let socket = socketPathFits(dataDirectory) ? dataDirectory : nil
                return Layout(
                    dataDirectory: dataDirectory, logFile: dataDirectory + "/roster-postgres.log",
                    socketDirectory: socket, temporaryRoot: nil, hasCluster: hasCluster)
            } else {
                let root = try makeTemporaryDirectory(prefix: "roster-pg-", account: account)
                if let account {
                    do { try account.checkCanReach(root + "/data") } catch {
                        removeTree(root, logger: nil)
                        throw error
                    }
                }
                return Layout(
                    dataDirectory: root + "/data", logFile: root + "/postgres.log",
                    socketDirectory: socketPathFits(root) ? root : nil, temporaryRoot: root, hasCluster: false)
            }
        }

        /// Heading for log excerpts in errors; a temporary directory is deleted when start fails.
        var logTitle: String {
            temporaryRoot == nil ? "Last lines of \(logFile)" : "Last lines of its log"
        }

        /// sun_path holds 107 bytes plus NUL; postgres appends "/.s.PGSQL.<port>.lock" for its lock file.
        static func socketPathFits(_ directory: String) -> Bool {
            directory.utf8.count + "/.s.PGSQL.65535.lock".utf8.count < 107
        }
    }
}

// MARK: - Account switching (root)

/// The unprivileged account initdb/postgres run as when we are root.
fileprivate struct RunAccount: Sendable {
    var name: String
    var uid: uid_t
    var gid: gid_t

    static let setpriv = "/usr/bin/setpriv"

    static func forCurrentUser() throws -> RunAccount? {
        guard geteuid() == 0 else { return nil }
        guard let entry = getpwnam("postgres") else {
            throw EmbeddedPostgresError.unprivilegedAccountUnavailable("there is no `postgres` account")
        }
        guard isExecutableFile(setpriv) else {
            throw EmbeddedPostgresError.unprivilegedAccountUnavailable("\(setpriv) is missing")
        }
        return RunAccount(name: "postgres", uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    /// The account needs search permission on every ancestor of the data directory.
    func checkCanReach(_ path: String) throws {
        var prefix = ""
        let components = path.split(separator: "/").dropLast()
        for component in components {
            prefix += "/" + component
            var info = stat()
            guard stat(prefix, &info) == 0 else { continue }
            let searchable: Bool
            if info.st_uid == uid {
                searchable = info.st_mode & S_IXUSR != 0
            } else if info.st_gid == gid {
                searchable = info.st_mode & S_IXGRP != 0
            } else {
                searchable = info.st_mode & S_IXOTH != 0
            }
            if !searchable {
                throw EmbeddedPostgresError.dataDirectoryUnusable(
                    path: path,
                    reason: "PostgreSQL runs as the `\(name)` account (it refuses to run as root), which cannot "
                        + "enter \(prefix) (mode \(String(info.st_mode & 0o7777, radix: 8))). Use a data directory "
                        + "outside it, e.g. under /tmp or /var/lib.")
            }
        }
    }
}

// MARK: - Processes

/// Exit state of a child as seen by waitpid(WNOHANG).
fileprivate enum ChildStatus: Sendable, CustomStringConvertible {
    case running
    case exited(Int32)
    case signaled(Int32)
    /// waitpid says it is not our child (already reaped elsewhere).
    case gone

    var description: String {
        switch self {
        case .running: return "is still running"
        case .exited(let code): return "exited with status \(code)"
        case .signaled(let signal): return "was killed by signal \(signal)"
        case .gone: return "is gone (reaped elsewhere)"
        }
    }
}

/// Non-blocking reap. After it returns anything but .running, the PID must not be signalled again.
fileprivate func reap(_ pid: pid_t) -> ChildStatus {
    var status: Int32 = 0
    while true {
        let result = waitpid(pid, &status, WNOHANG)
        if result == 0 { return .running }
        if result == pid {
            let low = status & 0x7f
            if low == 0 { return .exited((status >> 8) & 0xff) }
            return .signaled(low)
        }
        if errno == EINTR { continue }
        return .gone
    }
}

/// Runs `body` to completion even if the calling task is cancelled.
fileprivate func nonCancellable(_ body: @escaping @Sendable () async -> Void) async {
    await Task.detached(operation: body).value
}

/// Every spawn happens on this one thread, which never exits: with `setpriv --pdeathsig`, the child
/// gets SIGINT when the thread that spawned it terminates, and the caller's thread may not live long.
fileprivate final class SpawnThread: Sendable {
    static let shared = SpawnThread()

    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let wakeup = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in self.loop() }
        thread.name = "roster-postgres-spawner"
        thread.start()
    }

    private func loop() -> Never {
        while true {
            wakeup.wait()
            let batch = jobs.withLock { jobs in
                let batch = jobs
                jobs.removeAll()
                return batch
            }
            for job in batch { job() }
        }
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            jobs.withLock { $0.append { continuation.resume(returning: body()) } }
            wakeup.signal()
        }
    }
}

/// posix_spawn `executable` (through setpriv when root, so postgres gets SIGINT if we die),
/// stdin from /dev/null, stdout+stderr appended to `output`, own process group (a terminal's Ctrl-C
/// reaches only us; we then stop postgres in order), default signal dispositions, empty mask.
fileprivate func spawn(_ executable: String, _ arguments: [String], output: String, account: RunAccount?) async throws -> pid_t {
    var command = [executable] + arguments
    if let account {
        command = [
            RunAccount.setpriv, "--reuid=\(account.uid)", "--regid=\(account.gid)", "--clear-groups",
            "--pdeathsig", "INT", "--",
        ] + command
    } else if isExecutableFile(RunAccount.setpriv) {
        // Same orphan guard without changing the user.
        command = [RunAccount.setpriv, "--pdeathsig", "INT", "--"] + command
    }
    let finalCommand = command
    let (pid, code) = await SpawnThread.shared.run { () -> (pid_t, Int32) in
        spawnNow(finalCommand, stdin: "/dev/null", stdout: output, append: true)
    }
    guard code == 0 else { throw EmbeddedPostgresError.spawnFailed(executable: finalCommand[0], errno: code) }
    return pid
}

private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
private let addCloseFrom: AddCloseFrom? = {
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
    return unsafeBitCast(symbol, to: AddCloseFrom.self)
}()

/// Returns (pid, 0) or (0, errno).
private func spawnNow(_ command: [String], stdin: String, stdout: String?, stdoutFD: Int32? = nil, append: Bool) -> (pid_t, Int32) {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
    if let stdoutFD {
        posix_spawn_file_actions_adddup2(&actions, stdoutFD, 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    } else if let stdout {
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
    }
    if let addCloseFrom {
        _ = addCloseFrom(&actions, 3)
    }

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    var allSignals = sigset_t()
    sigfillset(&allSignals)
    posix_spawnattr_setsigdefault(&attributes, &allSignals)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

    let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let result = argv.withUnsafeBufferPointer { argvBuffer in
        posix_spawn(&pid, command[0], &actions, &attributes, argvBuffer.baseAddress!, environ)
    }
    return result == 0 ? (pid, 0) : (0, result)
}

/// Runs a short-lived tool synchronously and returns its stdout (nil on failure). Used only for
/// `pg_config --bindir`; bounded to a few seconds.
private func captureOutput(of executable: String, arguments: [String]) -> String? {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { return nil }
    let (readEnd, writeEnd) = (fds[0], fds[1])
    _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
    _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
    let (pid, code) = spawnNow([executable] + arguments, stdin: "/dev/null", stdout: nil, stdoutFD: writeEnd, append: false)
    close(writeEnd)
    defer { close(readEnd) }
    guard code == 0 else { return nil }

    var output = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 4096)
    let deadline = ContinuousClock.now + .seconds(5)
    readLoop: while ContinuousClock.now < deadline {
        var pollFD = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pollFD, 1, 100)
        if ready < 0 && errno != EINTR { break }
        if ready <= 0 { continue }
        let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
        switch count {
        case 0: break readLoop
        case ..<0: if errno != EINTR { break readLoop }
        default: output += buffer[0..<count]
        }
    }
    var status = reap(pid)
    let reapDeadline = ContinuousClock.now + .seconds(2)
    while case .running = status, ContinuousClock.now < reapDeadline {
        usleep(2_000)
        status = reap(pid)
    }
    if case .running = status {
        kill(pid, SIGKILL)
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        return nil
    }
    guard case .exited(0) = status else { return nil }
    return String(decoding: output, as: UTF8.self)
}

// MARK: - Sockets

private func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
    return address
}

/// A free 127.0.0.1 TCP port, from binding port 0.
fileprivate func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw EmbeddedPostgresError.startFailed("socket(): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var address = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw EmbeddedPostgresError.startFailed("bind(127.0.0.1:0): \(String(cString: strerror(errno)))") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw EmbeddedPostgresError.startFailed("getsockname(): \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// True when a TCP connect to 127.0.0.1:port succeeds (1 s timeout).
fileprivate func isListening(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 1, tv_usec: 0)
    _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = loopbackAddress(port: port)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return connected == 0
}

// MARK: - Files

private func isExecutableFile(_ path: String) -> Bool {
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
    return access(path, X_OK) == 0
}

private func absolutePath(_ path: String) -> String {
    let expanded = (path as NSString).expandingTildeInPath
    let absolute = expanded.hasPrefix("/") ? expanded : FileManager.default.currentDirectoryPath + "/" + expanded
    return URL(fileURLWithPath: absolute).standardizedFileURL.path
}

/// mkdtemp under NSTemporaryDirectory() (normally /tmp), mode 0700, owned by `account` when given.
private func makeTemporaryDirectory(prefix: String, account: RunAccount?) throws -> String {
    var base = NSTemporaryDirectory()
    if base.isEmpty { base = "/tmp/" }
    if !base.hasSuffix("/") { base += "/" }
    var template = Array((base + prefix + "XXXXXX").utf8CString)
    let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
    guard created else {
        throw EmbeddedPostgresError.dataDirectoryUnusable(
            path: base + prefix + "XXXXXX", reason: "mkdtemp: \(String(cString: strerror(errno)))")
    }
    let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    if let account, chown(path, account.uid, account.gid) != 0 {
        let reason = String(cString: strerror(errno))
        removeTree(path, logger: nil)
        throw EmbeddedPostgresError.dataDirectoryUnusable(path: path, reason: "chown to \(account.name): \(reason)")
    }
    return path
}

/// Writes a 0600 file owned by `account` (when given).
private func writePrivateFile(_ path: String, contents: String, account: RunAccount?) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
        throw EmbeddedPostgresError.dataDirectoryUnusable(path: path, reason: "open: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    let bytes = Array(contents.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else {
        throw EmbeddedPostgresError.dataDirectoryUnusable(path: path, reason: "write: \(String(cString: strerror(errno)))")
    }
    _ = fchmod(fd, 0o600)
    if let account { _ = fchown(fd, account.uid, account.gid) }
}

private func removeTree(_ path: String, logger: Logger?) {
    do {
        try FileManager.default.removeItem(atPath: path)
    } catch {
        if FileManager.default.fileExists(atPath: path) {
            logger?.warning("Could not remove \(path): \(error)")
        }
    }
}

private func fileSize(_ path: String) -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : 0
}

private func logText(_ path: String, from offset: Int) -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
    defer { try? handle.close() }
    do {
        try handle.seek(toOffset: UInt64(offset))
        let data = try handle.readToEnd() ?? Data()
        return String(decoding: data, as: UTF8.self)
    } catch {
        return ""
    }
}

private func lastLines(of path: String, from offset: Int = 0, count: Int) -> String {
    let lines = logText(path, from: offset).split(separator: "\n", omittingEmptySubsequences: false)
    let trimmed = lines.last == "" ? lines.dropLast() : lines[...]
    let tail = trimmed.suffix(count).joined(separator: "\n")
    return tail.isEmpty ? "(no output)" : tail
}
