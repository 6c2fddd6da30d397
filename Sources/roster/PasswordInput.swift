import ArgumentParser
import Foundation
import RosterAuth

/// Where a password comes from. Never a flag's own value: that would stay in shell history and show in `ps`.
struct PasswordOptions: ParsableArguments {
    @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input (typed twice, without echo, on a terminal).")
    var fromStandardInput = false

    @Option(name: .customLong("password-env"), help: ArgumentHelp("Read the password from this environment variable.", valueName: "VAR"))
    var environmentVariable: String?

    @Option(name: .customLong("password-file"), help: ArgumentHelp("Read the password from this file, e.g. a container secret.", valueName: "PATH"))
    var file: String?

    func validate() throws {
        guard [fromStandardInput, environmentVariable != nil, file != nil].filter({ $0 }).count <= 1 else {
            throw ValidationError("Give at most one of --password-stdin, --password-env and --password-file.")
        }
    }

    /// The source given, if any.
    var source: PasswordSource? {
        if fromStandardInput { return .standardInput }
        if let environmentVariable { return .environment(environmentVariable) }
        return file.map(PasswordSource.file)
    }
}

/// Where a password is read from, once the command needs it.
enum PasswordSource: Sendable, Equatable {
    case standardInput
    case environment(String)
    case file(String)

    /// The password, once it meets the length rules (the error names the rule, never the password).
    func read() throws -> String {
        let io = CommandIO.current
        let password =
            switch self {
            case .standardInput: try io.readSecret("Password: ")
            case .environment(let name): try Self.variable(name, in: io.environment)
            case .file(let path): try Self.contents(of: path)
            }
        if let problem = PasswordHasher.problem(with: password) { throw CLIFailure(problem) }
        return password
    }

    private static func variable(_ name: String, in environment: [String: String]) throws -> String {
        guard let value = environment[name], !value.isEmpty else { throw CLIFailure("The environment variable \(name) is not set.") }
        return value
    }

    /// A secret file's text without its final line ending.
    private static func contents(of path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIFailure("Cannot read the password file \(path).") }
        guard let text = String(data: data, encoding: .utf8) else { throw CLIFailure("The password file \(path) is not UTF-8 text.") }
        return text.droppingLineEnding()
    }
}
