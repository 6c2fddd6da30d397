import Foundation
import Glibc
import Logging
import Synchronization

/// Exit state of a child as seen by waitpid(WNOHANG).
enum ChildStatus: Sendable, CustomStringConvertible {
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

/// Spawning, reaping and stopping the initdb/postgres children.
enum ChildProcess {
    static let setpriv = "/usr/bin/setpriv"

    /// Spawns `executable` (as `account` when root) with stdout+stderr appended to `output`, through `setpriv
    /// --pdeathsig INT` so postgres stops if we die without stop(); setpriv execs it, so the pid is its own.
    static func spawn(_ executable: String, _ arguments: [String], output: String, account: RunAccount?) async throws -> pid_t {
        var command = [executable] + arguments
        if let account {
            command = [
                setpriv, "--reuid=\(account.uid)", "--regid=\(account.gid)", "--clear-groups",
                "--pdeathsig", "INT", "--",
            ] + command
        } else if isExecutableFile(setpriv) {
            command = [setpriv, "--pdeathsig", "INT", "--"] + command
        }
        let finalCommand = command
        let (pid, code) = await SpawnThread.shared.run { spawnNow(finalCommand, output: .appending(output)) }
        guard code == 0 else { throw EmbeddedPostgresError.spawnFailed(executable: finalCommand[0], errno: code) }
        return pid
    }

    /// Non-blocking reap. After it returns anything but .running, the PID must not be signalled again.
    static func reap(_ pid: pid_t) -> ChildStatus {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == 0 { return .running }
            if result == pid {
                let low = status & 0x7f
                return low == 0 ? .exited((status >> 8) & 0xff) : .signaled(low)
            }
            if errno == EINTR { continue }
            return .gone
        }
    }

    /// Polls reap() until the child is gone or `deadline` passes; throws only on cancellation.
    static func waitForExit(
        _ pid: pid_t, until deadline: ContinuousClock.Instant, polling interval: Duration
    ) async throws -> ChildStatus {
        var status = reap(pid)
        while case .running = status, ContinuousClock.now < deadline {
            try await Task.sleep(for: interval)
            status = reap(pid)
        }
        return status
    }

    /// SIGINT (postgres' fast shutdown), SIGKILL after `grace`, and reaps the child.
    static func terminate(_ pid: pid_t, grace: Duration, logger: Logger) async -> ChildStatus {
        let deadline = ContinuousClock.now + grace
        var status = reap(pid)
        guard case .running = status else { return status }
        kill(pid, SIGINT)
        status = (try? await waitForExit(pid, until: deadline, polling: .milliseconds(20))) ?? reap(pid)
        guard case .running = status else { return status }
        logger.warning("postgres did not stop within \(grace); sending SIGKILL", metadata: ["pid": "\(pid)"])
        kill(pid, SIGKILL)
        status = (try? await waitForExit(pid, until: .now + .seconds(10), polling: .milliseconds(20))) ?? reap(pid)
        if case .running = status {
            logger.error("postgres survived SIGKILL; giving up", metadata: ["pid": "\(pid)"])
        }
        return status
    }

    /// Runs a short-lived tool (`pg_config`) synchronously; its stdout, or nil on failure or after ~5 s.
    static func output(of executable: String, arguments: [String]) -> String? {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        let (pid, code) = spawnNow([executable] + arguments, output: .pipe(writeEnd))
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

    static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
        return access(path, X_OK) == 0
    }

    private enum Output {
        /// Append stdout and stderr to this file.
        case appending(String)
        /// stdout into this pipe end, stderr to /dev/null.
        case pipe(Int32)
    }

    /// posix_spawn with stdin from /dev/null, default signal dispositions, an empty mask, and its own
    /// process group (a terminal's Ctrl-C reaches only us; we then stop postgres in order).
    /// Returns (pid, 0) or (0, errno).
    private static func spawnNow(_ command: [String], output: Output) -> (pid_t, Int32) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        switch output {
        case .appending(let path):
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        case .pipe(let fd):
            posix_spawn_file_actions_adddup2(&actions, fd, 1)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        _ = addCloseFrom?(&actions, 3)

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

    /// glibc ≥ 2.34 only, hence looked up at run time; keeps our other descriptors out of the child.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()
}

/// Every spawn runs on this never-exiting thread: `--pdeathsig` fires when the spawning *thread* exits,
/// and the caller's thread (a pool thread, an event loop, a short-lived Thread) may not live long.
private final class SpawnThread: Sendable {
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
                defer { jobs.removeAll() }
                return jobs
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

/// The unprivileged account initdb/postgres run as when we are root (PostgreSQL refuses to run as root).
struct RunAccount: Sendable {
    var name: String
    var uid: uid_t
    var gid: gid_t

    static func forCurrentUser() throws -> RunAccount? {
        guard geteuid() == 0 else { return nil }
        guard let entry = getpwnam("postgres") else {
            throw EmbeddedPostgresError.unprivilegedAccountUnavailable("there is no `postgres` account")
        }
        guard ChildProcess.isExecutableFile(ChildProcess.setpriv) else {
            throw EmbeddedPostgresError.unprivilegedAccountUnavailable("\(ChildProcess.setpriv) is missing")
        }
        return RunAccount(name: "postgres", uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    /// The account needs search permission on every ancestor of the data directory.
    func checkCanReach(_ path: String) throws {
        var prefix = ""
        for component in path.split(separator: "/").dropLast() {
            prefix += "/" + component
            var info = stat()
            guard stat(prefix, &info) == 0 else { continue }
            let bit = info.st_uid == uid ? S_IXUSR : info.st_gid == gid ? S_IXGRP : S_IXOTH
            if info.st_mode & bit == 0 {
                throw EmbeddedPostgresError.dataDirectoryUnusable(
                    path: path,
                    reason: "PostgreSQL runs as the `\(name)` account (it refuses to run as root), which cannot "
                        + "enter \(prefix) (mode \(String(info.st_mode & 0o7777, radix: 8))). Use a data directory "
                        + "outside it, e.g. under /tmp or /var/lib.")
            }
        }
    }
}
