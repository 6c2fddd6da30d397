import ArgumentParser
import Foundation
import Logging
import RosterServer
import RosterStore

struct SecretsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets", abstract: "Manage the key that encrypts stored secrets (ROSTER_SECRET_KEY).",
        subcommands: [Rotate.self, GenerateKey.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-encrypt every stored secret under the current key (the first of ROSTER_SECRET_KEY).",
            discussion: """
                Keep the older keys in ROSTER_SECRET_KEY, after the new one, until this has run: they decrypt what they \
                sealed. Afterwards no secret needs them and they may be removed. Safe to run again, and while servers run.
                """)
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            guard case .encrypted(let keyring) = try commandSecrets() else {
                throw CLIFailure("roster secrets rotate needs ROSTER_SECRET_KEY or ROSTER_SECRET_KEY_FILE (ROSTER_ALLOW_PLAINTEXT_SECRETS stores no key).")
            }
            let report: StoredSecrets.Report
            do {
                report = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning), secrets: .encrypted(keyring)) {
                    try await StoredSecrets(database: $0).rotate(to: keyring)
                }
            } catch let error as SecretsAtRestError {
                throw CLIFailure(error.description + " Nothing was changed.")
            }
            let current = report.sealedByKeyID[keyring.currentKeyID] ?? 0
            say("Stored secrets are encrypted under key '\(keyring.currentKeyID)': \(report.resealed) re-encrypted from older keys, "
                + "\(report.sealedFromPlaintext) encrypted from plaintext, \(current - report.resealed - report.sealedFromPlaintext) already under it.")
            let unused = keyring.keyIDs.dropFirst().filter { report.sealedByKeyID[$0] == nil }
            if !unused.isEmpty {
                say("No stored secret needs key id \(unused.map { "'\($0)'" }.joined(separator: ", ")) any more: it may be removed from ROSTER_SECRET_KEY.")
            }
        }
    }

    struct GenerateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate-key",
            abstract: "Print a new key entry, <key id>:<base64 of 32 random bytes>, for ROSTER_SECRET_KEY (put it first to make it current).")
        @Option(help: "Its key id: 1–32 letters, digits, '.', '_' or '-' (default: k and today's date, e.g. k20270131).")
        var id: String?

        func validate() throws {
            if let id, !SecretKeyring.isValidKeyID(id) { throw ValidationError("--id must be 1–32 letters, digits, '.', '_' or '-'.") }
        }

        func run() async throws {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyyMMdd"
            say(SecretKeyring.generateEntry(keyID: id ?? "k" + formatter.string(from: Date())))
        }
    }
}
