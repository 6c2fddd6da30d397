import ArgumentParser
import Foundation
import Logging
import RosterAuth
import RosterServer
import RosterStore

struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth", abstract: "Manage how admins authenticate.", subcommands: [RotateSigningKey.self])

    struct RotateSigningKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-signing-key",
            abstract: "Sign admin access tokens with a new key from now on; those the previous key signed stay valid until they expire.",
            discussion: """
                Every replica signs with the new key within a minute, and verifies tokens of the previous one while they may \
                live. Run it with the ROSTER_ACCESS_TOKEN_SECONDS the servers use: keys retired longer ago than that are deleted.
                """)
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let settings = try environmentSettings()
            let secrets = try commandSecrets()
            let keys = try await withDatabase(url: database.url(), logger: makeLogger(level: .warning), secrets: secrets) { db in
                // Issuer and audience play no part in a rotation; the lifetime decides which retired keys may go.
                let authority = AccessTokenAuthority(keys: SigningKeyRepository(database: db), issuer: settings.publicURL, audience: AdminIdentityConfiguration.accessTokenAudience,
                    lifetime: settings.identity.accessTokenLifetime)
                try await authority.rotate()
                return try await SigningKeyRepository(database: db).verifiable(retiredAfter: .distantPast)
            }
            guard let current = keys.first(where: \.isCurrent) else { throw CLIFailure("No current signing key after the rotation.") }
            say("Admin access tokens are now signed with key \(current.kid); webhook Security Event Tokens a minute from now, once every replica publishes it.")
            if keys.count > 1 { say("\(keys.count - 1) earlier key(s) verify the tokens they signed until those expire.") }
        }
    }
}
