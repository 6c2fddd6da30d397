import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a command reads and writes besides its arguments: this process's standard streams and
/// environment, or a test's collector and dictionary (task-local, so parallel tests never share them).
struct CommandIO: Sendable {
    /// Writes one line of the command's output.
    var write: @Sendable (String) -> Void
    var environment: [String: String]
    /// A secret from standard input: typed twice without echo on a terminal, else all of the input.
    var readSecret: @Sendable (_ prompt: String) throws -> String

    @TaskLocal static var current = CommandIO.process

    static let process = CommandIO(
        write: { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) },
        environment: ProcessInfo.processInfo.environment,
        readSecret: StandardInput.readSecret)
}

enum StandardInput {
    static func readSecret(prompt: String) throws -> String {
        if isatty(STDIN_FILENO) == 1 {
            let typed = try line(prompt)
            guard try line("Again, to confirm: ") == typed else { throw CLIFailure("The two entries differ; nothing was changed.") }
            return typed
        }
        guard let text = String(data: FileHandle.standardInput.readDataToEndOfFile(), encoding: .utf8) else {
            throw CLIFailure("Standard input is not UTF-8 text.")
        }
        return text.droppingLineEnding()
    }

    /// One line typed at the terminal with echo off; the terminal's settings are restored afterwards.
    private static func line(_ prompt: String) throws -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        var saved = termios()
        let canSilence = tcgetattr(STDIN_FILENO, &saved) == 0
        if canSilence {
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        }
        defer {
            if canSilence { tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved) }
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true) else { throw CLIFailure("Standard input ended before a password was typed.") }
        return line
    }
}

extension String {
    /// Without the one line ending `echo` or a file's last line adds; other whitespace is the secret's own.
    func droppingLineEnding() -> String {
        // By scalars: "\r\n" is one Character, so Character-wise trimming would miscount.
        var scalars = unicodeScalars[...]
        guard scalars.last == "\n" else { return self }
        scalars.removeLast()
        if scalars.last == "\r" { scalars.removeLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
