import Foundation
import RosterStore
import Testing

@testable import roster

extension CLISuite {
    @Suite("roster admin-user set-password and disable end the user's sessions")
    struct SessionEndingCommandTests {
        static let password = "Kq9-unique-admin-passphrase"

        @Test("set-password, and disable (enabled again after), from the CLI end every session of the user and nobody else's", arguments: [
            [["admin-user", "set-password", "ada@example.com", "--password-stdin"]],
            [["admin-user", "disable", "ada@example.com"], ["admin-user", "enable", "ada@example.com"]],
        ])
        func commandEndsSessions(_ commands: [[String]]) async throws {
            let url = try await freshDatabase()
            for email in ["ada@example.com", "bob@example.com"] {
                let created = await cli(["admin-user", "create", "--email", email, "--role", "viewer"], database: url)
                #expect(created.succeeded, "\(created.everything)")
            }
            let (ada, bob) = try await inspect(url) { db in
                let users = AdminUsers(database: db)
                let sessions = AdminSessions(database: db)
                func start(_ email: String) async throws -> [UUID] {
                    let user = try #require(try await users.find(email: email))
                    return try await [0, 1].asyncMap { _ in
                        try await sessions.start(.user(user.id), refreshLifetime: .seconds(600), sourceAddress: nil, by: .system).session
                    }
                }
                return (try await start("ada@example.com"), try await start("bob@example.com"))
            }
            for arguments in commands {
                let result = await cli(arguments, database: url, input: Self.password + "\n")
                #expect(result.succeeded, "\(result.everything)")
            }
            try await inspect(url) { db in
                let sessions = AdminSessions(database: db)
                for session in ada {
                    let active = try await sessions.isActive(session)
                    #expect(!active, "Ada's session survived `\(commands[0][1])`")
                }
                for session in bob {
                    let active = try await sessions.isActive(session)
                    #expect(active, "Bob's session ended")
                }
            }
        }
    }
}

extension Array {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
