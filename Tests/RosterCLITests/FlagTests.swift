import ArgumentParser
import Foundation
import PostgresNIO
import RosterServer
import RosterStore
import RosterTestSupport
import Testing

@testable import roster

#if canImport(Glibc)
import Glibc
#endif

extension CLISuite {
    @Suite("Numeric and boolean flags reach what they control")
    struct FlagTests {
        static func freePort() throws -> Int { try LoopbackConnection.freePort() }

        /// The status line of `GET /api/health` on 127.0.0.1:`port`, or nil while nothing answers there.
        static func healthStatusLine(port: Int) -> String? {
            guard let connection = try? LoopbackConnection(port: port),
                connection.send("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
                let bytes = connection.receive(), !bytes.isEmpty
            else { return nil }
            return String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n").first
        }

        /// The `roster` executable built beside this test bundle (`swift build --build-tests` builds both).
        static var rosterExecutable: URL {
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("roster")
        }

        @Test("the roster binary's serve --port P --host 127.0.0.1 listens there, with ROSTER_PORT and ROSTER_HOST naming others")
        func serveListensOnFlagPort() async throws {
            let url = try await freshDatabase()
            let port = try Self.freePort()
            let environmentPort = try Self.freePort()
            let executable = Self.rosterExecutable
            try #require(FileManager.default.isExecutableFile(atPath: executable.path), "no roster binary at \(executable.path)")
            let server = Process()
            server.executableURL = executable
            server.arguments = ["serve", "--port", String(port), "--host", "127.0.0.1", "--database-url", url, "--log-level", "warning"]
            server.environment = [
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                "ROSTER_PORT": String(environmentPort), "ROSTER_HOST": "0.0.0.0", "ROSTER_WEBHOOKS": "false",
                "ROSTER_SECRET_KEY": TestSecrets.entry,
            ]
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle.nullDevice
            try server.run()
            defer {
                if server.isRunning { kill(server.processIdentifier, SIGKILL) }
            }
            var statusLine: String?
            for _ in 0..<600 where statusLine == nil && server.isRunning {
                try await Task.sleep(for: .milliseconds(100))
                statusLine = Self.healthStatusLine(port: port)
            }
            #expect(statusLine?.hasPrefix("HTTP/1.1 200") == true, "serve does not answer on --port \(port) (still running: \(server.isRunning))")
            #expect(Self.healthStatusLine(port: environmentPort) == nil, "serve listens on ROSTER_PORT, not --port")
            server.terminate()
            for _ in 0..<100 where server.isRunning { try await Task.sleep(for: .milliseconds(100)) }
            #expect(!server.isRunning, "serve did not stop on SIGTERM")
        }

        @Test("serve's --port and --host reach the configuration as an integer and a string, over ROSTER_PORT and ROSTER_HOST")
        func serveFlagsInConfiguration() throws {
            func configuration(_ arguments: [String], environment: [String: String] = [:]) throws -> RosterConfiguration {
                let command = try #require(try Roster.parseAsRoot(["serve"] + arguments) as? Serve)
                let io = CommandIO(write: { _ in }, environment: environment, readSecret: { _ in "" })
                return try CommandIO.$current.withValue(io) { try command.server.configuration(databaseURL: "postgres://x@127.0.0.1/x") }
            }
            #expect(try configuration(["--port", "9000"]).port == 9000)
            #expect(try configuration(["--port", "9000"], environment: ["ROSTER_PORT": "9100"]).port == 9000)
            #expect(try configuration([], environment: ["ROSTER_PORT": "9100"]).port == 9100)
            #expect(try configuration([]).port == 8080)
            #expect(try configuration(["--host", "0.0.0.0"], environment: ["ROSTER_HOST": "10.0.0.1"]).host == "0.0.0.0")
            #expect(try configuration([], environment: ["ROSTER_HOST": "10.0.0.1"]).host == "10.0.0.1")
        }

        @Test("every numeric and boolean flag of every command parses to its typed value", arguments: [
            (["serve", "--port", "9000"], "serve --port"),
            (["dev", "--port", "9001"], "dev --port"),
            (["token", "create", "--name", "n", "--expires-in-days", "7"], "token create --expires-in-days"),
            (["admin-user", "list", "--json"], "admin-user list --json"),
            (["admin-user", "create", "--email", "a@example.com", "--password-stdin"], "admin-user create --password-stdin"),
            (["admin-user", "set-password", "a@example.com", "--password-stdin"], "admin-user set-password --password-stdin"),
        ])
        func typedFlags(arguments: [String], flag: String) throws {
            let command = try Roster.parseAsRoot(arguments)
            switch command {
            case let serve as Serve: #expect(serve.server.port == 9000, "\(flag)")
            case let dev as Dev: #expect(dev.port == 9001, "\(flag)")
            case let create as TokenCommand.Create: #expect(create.expiresInDays == 7, "\(flag)")
            case let list as AdminUserCommand.List: #expect(list.json, "\(flag)")
            case let create as AdminUserCommand.Create: #expect(create.password.fromStandardInput, "\(flag)")
            case let set as AdminUserCommand.SetPassword: #expect(set.password.fromStandardInput, "\(flag)")
            default: Issue.record("\(flag) parsed to \(type(of: command))")
            }
        }

        @Test("--port outside 1…65535 is refused by serve and dev before anything starts", arguments: ["0", "65536", "-1"])
        func portRange(value: String) async throws {
            for command in ["serve", "dev"] {
                let result = await cli([command, "--port", value], database: nil)
                #expect(!result.succeeded, "\(command) --port \(value)")
                #expect(result.everything.contains("--port") || result.everything.contains("port"), "\(result.everything)")
            }
        }

        @Test("token create --expires-in-days stores an expiry that many days ahead")
        func expiresInDays() async throws {
            let url = try await freshDatabase()
            let result = await cli(["token", "create", "--name", "n", "--expires-in-days", "7"], database: url)
            #expect(result.succeeded, "\(result.everything)")
            let days = try await inspect(url) { db in
                try await db.query("SELECT extract(epoch FROM expires - now())::float8 / 86400 FROM scim_tokens").map { try $0.decode(Double.self) }
            }
            #expect(days.count == 1 && abs(days[0] - 7) < 0.01, "\(days)")
        }
    }
}
