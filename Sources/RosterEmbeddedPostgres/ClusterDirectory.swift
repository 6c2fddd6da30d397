// The on-disk cluster: where it lives, creating it with initdb, its superuser password, and its files.

import Foundation
import Glibc
import Logging

extension EmbeddedPostgres {
    struct Layout: Sendable {
        var dataDirectory: String
        var logFile: String
        var socketDirectory: String?
        /// Set when we created a temporary directory that stop() removes.
        var temporaryRoot: String?
        var hasCluster: Bool

        static func prepare(_ options: Options, account: RunAccount?) throws -> Layout {
            guard let given = options.dataDirectory else {
                // A process killed before it could remove its cluster (SIGKILL, a crash) left it behind: gigabytes
                // each, and a machine that runs the tests often fills its disk with them.
                removeAbandoned(in: temporaryBase, prefix: temporaryPrefix)
                let root = try makeTemporaryDirectory(prefix: temporaryPrefix, account: account)
                do {
                    try account?.checkCanReach(root + "/data")
                    try writePrivateFile(root + "/" + ownerFile, contents: "\(getpid())\n", account: nil)
                } catch {
                    removeTree(root, logger: nil)
                    throw error
                }
                return Layout(
                    dataDirectory: root + "/data", logFile: root + "/postgres.log",
                    socketDirectory: socketPathFits(root) ? root : nil, temporaryRoot: root, hasCluster: false)
            }
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
                    throw EmbeddedPostgresError.dataDirectoryUnusable(path: dataDirectory, reason: errnoText())
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
            return Layout(
                dataDirectory: dataDirectory, logFile: dataDirectory + "/roster-postgres.log",
                socketDirectory: socketPathFits(dataDirectory) ? dataDirectory : nil, temporaryRoot: nil, hasCluster: hasCluster)
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

    /// Creates the cluster and returns the superuser password (also saved in a kept dataDirectory).
    static func initdb(
        _ layout: Layout, binaries: PostgresBinaries, account: RunAccount?, durable: Bool, logger: Logger
    ) async throws -> String {
        let password = generatePassword()
        // initdb needs an empty (or absent) data directory, so the password file and its output live elsewhere.
        let scratch = try layout.temporaryRoot ?? makeTemporaryDirectory(prefix: "roster-initdb-", account: account)
        defer { if layout.temporaryRoot == nil { removeTree(scratch, logger: logger) } }
        let passwordFile = scratch + "/initdb-pwfile"
        let outputFile = scratch + "/initdb.log"
        try writePrivateFile(passwordFile, contents: password + "\n", account: account)
        defer { unlink(passwordFile) }

        var arguments = [
            "-D", layout.dataDirectory, "-U", superuser, "--auth=scram-sha-256", "--pwfile=\(passwordFile)",
            "-E", "UTF8", "--locale=C.UTF-8",
        ]
        if !durable { arguments.append("--no-sync") }
        logger.info("Creating PostgreSQL cluster", metadata: ["dataDirectory": "\(layout.dataDirectory)"])
        logger.debug("Running initdb", metadata: ["command": "\(binaries.initdb) \(arguments.joined(separator: " "))"])

        let pid = try await ChildProcess.spawn(binaries.initdb, arguments, output: outputFile, account: account)
        let outcome: ChildStatus
        do {
            outcome = try await ChildProcess.waitForExit(pid, until: .now + initdbTimeout, polling: .milliseconds(50))
        } catch {
            await nonCancellable { await shutdown(pid: pid, removing: nil, logger: logger) }
            throw error
        }
        if case .running = outcome {
            await nonCancellable { await shutdown(pid: pid, removing: nil, logger: logger) }
            throw EmbeddedPostgresError.initdbFailed("initdb did not finish within \(initdbTimeout):\n" + lastLines(of: outputFile))
        }
        guard case .exited(0) = outcome else {
            throw EmbeddedPostgresError.initdbFailed("initdb \(outcome):\n" + lastLines(of: outputFile))
        }
        if layout.temporaryRoot == nil {
            try writePrivateFile(layout.dataDirectory + "/" + passwordFileName, contents: password + "\n", account: account)
        }
        return password
    }

    static func readPassword(_ layout: Layout) throws -> String {
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
}

// MARK: - Files

extension EmbeddedPostgres {
    static func removeTree(_ path: String, logger: Logger?) {
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            if FileManager.default.fileExists(atPath: path) { logger?.warning("Could not remove \(path): \(error)") }
        }
    }

    static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }

    static func logText(_ path: String, from offset: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: UInt64(offset))) != nil, let data = try? handle.readToEnd() else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The last 20 lines of `path` from byte `offset` on, for error messages.
    static func lastLines(of path: String, from offset: Int = 0) -> String {
        let lines = logText(path, from: offset).split(separator: "\n", omittingEmptySubsequences: false)
        let trimmed = lines.last == "" ? lines.dropLast() : lines[...]
        let tail = trimmed.suffix(20).joined(separator: "\n")
        return tail.isEmpty ? "(no output)" : tail
    }

    private static func absolutePath(_ path: String) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        let absolute = expanded.hasPrefix("/") ? expanded : FileManager.default.currentDirectoryPath + "/" + expanded
        return URL(fileURLWithPath: absolute).standardizedFileURL.path
    }

    static let temporaryPrefix = "roster-pg-"
    /// In a temporary cluster's root: the pid of the process that made it.
    static let ownerFile = "owner.pid"

    /// NSTemporaryDirectory() (normally /tmp), with a trailing slash.
    static var temporaryBase: String {
        var base = NSTemporaryDirectory()
        if base.isEmpty { base = "/tmp/" }
        if !base.hasSuffix("/") { base += "/" }
        return base
    }

    /// Removes the temporary clusters under `base` whose maker is gone and whose server is not running: the
    /// process named in `owner.pid` no longer exists, and neither does the one in `data/postmaster.pid` (if any).
    /// A directory without `owner.pid` (not ours, or made before it was written) is left alone, and so is one
    /// whose processes cannot be told dead. Returns the paths removed.
    @discardableResult
    static func removeAbandoned(in base: String, prefix: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix) {
            let root = base.hasSuffix("/") ? base + name : base + "/" + name
            guard let owner = firstNumber(in: root + "/" + ownerFile), isGone(owner) else { continue }
            if let server = firstNumber(in: root + "/data/postmaster.pid"), !isGone(server) { continue }
            removeTree(root, logger: nil)
            removed.append(root)
        }
        return removed
    }

    /// The number on the first line of a file, if it has one.
    private static func firstNumber(in path: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.flatMap { pid_t($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// Whether no process has this id (kill with signal 0 answers ESRCH); a process we may not signal exists.
    private static func isGone(_ pid: pid_t) -> Bool {
        pid > 0 && kill(pid, 0) != 0 && errno == ESRCH
    }

    /// mkdtemp under NSTemporaryDirectory() (normally /tmp), mode 0700, owned by `account` when given.
    private static func makeTemporaryDirectory(prefix: String, account: RunAccount?) throws -> String {
        let base = temporaryBase
        var template = Array((base + prefix + "XXXXXX").utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) != nil }) else {
            throw EmbeddedPostgresError.dataDirectoryUnusable(path: base + prefix + "XXXXXX", reason: "mkdtemp: \(errnoText())")
        }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        if let account, chown(path, account.uid, account.gid) != 0 {
            let reason = errnoText()
            removeTree(path, logger: nil)
            throw EmbeddedPostgresError.dataDirectoryUnusable(path: path, reason: "chown to \(account.name): \(reason)")
        }
        return path
    }

    /// Writes a 0600 file owned by `account` (when given).
    private static func writePrivateFile(_ path: String, contents: String, account: RunAccount?) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw EmbeddedPostgresError.dataDirectoryUnusable(path: path, reason: "open: \(errnoText())") }
        defer { close(fd) }
        let bytes = Array(contents.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw EmbeddedPostgresError.dataDirectoryUnusable(path: path, reason: "write: \(errnoText())")
        }
        _ = fchmod(fd, 0o600)
        if let account { _ = fchown(fd, account.uid, account.gid) }
    }
}
