import Foundation
import HTTPTypes
import PostgresNIO
import RosterAuth
import RosterServer
import RosterStore
import SCIM
import Testing

extension ServerSuite {
    @Suite("Sessions end with the credential behind them: password changes, disabling, refresh token races")
    struct SessionEndingTests {
        static let newPassword = "a brand new passphrase"

        /// Whether a session still works: its access token on the admin API, and its refresh token (which rotates it).
        static func works(_ session: (access: String, refresh: String), on roster: Roster) async throws -> (access: Bool, refresh: Bool) {
            let access = try await roster.admin(.get, "/tenants", bearer: session.access).status
            let refresh = try await roster.anonymous(.post, "/auth/refresh", body: #"{"refresh_token":"\#(session.refresh)"}"#).status
            #expect(access == .ok || access == .unauthorized)
            return (access == .ok, refresh == .ok)
        }

        struct Change: Sendable, CustomTestStringConvertible {
            var testDescription: String
            /// Sends the change with Ada's first session at hand (for a change she makes herself).
            var send: @Sendable (Roster, _ ada: String, _ own: (access: String, refresh: String)) async throws -> Reply
            /// Whether the session that made the change goes on.
            var keepsOwnSession: Bool
        }

        static let changes: [Change] = [
            Change(testDescription: "an owner sets Ada's password", send: { roster, ada, _ in
                try await roster.admin(.patch, "/admin/users/\(ada)", body: #"{"password":"\#(newPassword)"}"#)
            }, keepsOwnSession: false),
            Change(testDescription: "Ada changes her own password through one of her sessions", send: { roster, ada, own in
                try await roster.admin(.patch, "/admin/users/\(ada)", bearer: own.access, body: #"{"password":"\#(newPassword)"}"#)
            }, keepsOwnSession: true),
            Change(testDescription: "an owner disables Ada, then enables her again", send: { roster, ada, _ in
                let disabled = try await roster.admin(.patch, "/admin/users/\(ada)", body: #"{"disabled":true}"#)
                #expect(disabled.status == .ok, "\(disabled.body)")
                return try await roster.admin(.patch, "/admin/users/\(ada)", body: #"{"disabled":false}"#)
            }, keepsOwnSession: false),
            Change(testDescription: "Ada disables herself through one of her sessions", send: { roster, ada, own in
                try await roster.admin(.patch, "/admin/users/\(ada)", bearer: own.access, body: #"{"disabled":true}"#)
            }, keepsOwnSession: false),
        ]

        @Test("a password change or disable ends every other session of the user, their access and refresh tokens alike", arguments: changes)
        func passwordOrDisableEndsSessions(_ change: Change) async throws {
            try await Roster.run { roster in
                let ada = try await roster.createAdminUser("ada@example.com", roles: ["owner"])
                let own = try await roster.signIn("ada@example.com")
                let others = [try await roster.signIn("ada@example.com"), try await roster.signIn("ada@example.com")]
                // Someone else's session is not touched.
                _ = try await roster.createAdminUser("bob@example.com", roles: ["viewer"])
                let bob = try await roster.signIn("bob@example.com")

                let reply = try await change.send(roster, ada, own)
                #expect(reply.status == .ok, "\(reply.body)")
                for other in others {
                    let works = try await Self.works(other, on: roster)
                    #expect(!works.access && !works.refresh, "another session of Ada's survived")
                }
                let ownWorks = try await Self.works(own, on: roster)
                #expect(ownWorks.access == change.keepsOwnSession && ownWorks.refresh == change.keepsOwnSession)
                #expect(try await roster.admin(.get, "/audit", bearer: bob.access).status == .forbidden, "Bob's session was ended too")
                let audit = try await roster.admin(.get, "/audit?action=admin_user.updated")
                let ended = audit.json["data"]?.arrayValue?.compactMap { entry -> Int? in
                    if case .integer(let count)? = entry["details"]?["sessions_ended"] { count } else { nil }
                }.reduce(0, +)
                #expect(ended == (change.keepsOwnSession ? 2 : 3), "\(audit.body)")
            }
        }

        @Test("eight parallel presentations of one refresh token yield at most one new pair, and the session ends (10 rounds)")
        func refreshRace() async throws {
            try await Roster.run { roster in
                _ = try await roster.createAdminUser("ada@example.com", roles: ["admin"])
                for round in 0..<10 {
                    let session = try await roster.signIn("ada@example.com")
                    let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                        for _ in 0..<8 {
                            group.addTask {
                                try await roster.anonymous(.post, "/auth/refresh", body: #"{"refresh_token":"\#(session.refresh)"}"#)
                            }
                        }
                        return try await group.reduce(into: []) { $0.append($1) }
                    }
                    let rotated = replies.filter { $0.status == .ok }
                    #expect(rotated.count <= 1, "round \(round): \(rotated.count) rotations of one refresh token")
                    #expect(replies.allSatisfy { $0.status == .ok || $0.status == .unauthorized }, "round \(round)")
                    // The session is over: the first access token, and whatever pair the one winner got.
                    try await roster.admin(.get, "/tenants", bearer: session.access).expectAdminError(.unauthorized)
                    for reply in rotated {
                        let access = try #require(reply.json["access_token"]?.stringValue)
                        let refresh = try #require(reply.json["refresh_token"]?.stringValue)
                        try await roster.admin(.get, "/tenants", bearer: access).expectAdminError(.unauthorized)
                        try await roster.anonymous(.post, "/auth/refresh", body: #"{"refresh_token":"\#(refresh)"}"#)
                            .expectAdminError(.unauthorized)
                    }
                }
            }
        }

        @Test("a presentation that waits on a concurrent use of its refresh token sees that use and ends the session")
        func refreshWaitingOnAnotherUse() async throws {
            try await Roster.run { roster in
                _ = try await roster.createAdminUser("ada@example.com", roles: ["admin"])
                for round in 0..<3 {
                    let session = try await roster.signIn("ada@example.com")
                    let presented = try #require(Secret(presented: session.refresh))
                    let outcome = try await roster.sql { db in
                        let sessions = AdminSessions(database: db)
                        // Another presentation holds the token's row, used but not yet committed.
                        let (holding, release) = AsyncStream<Void>.makeStream()
                        let (held, signal) = AsyncStream<Void>.makeStream()
                        async let other: Void = db.transaction { connection in
                            try await connection.query(
                                "UPDATE admin_refresh_tokens SET used = now() WHERE token_hash = \(presented.hash)", logger: db.logger)
                            signal.yield()
                            for await _ in holding { break }
                        }
                        for await _ in held { break }
                        // This one starts while that use is uncommitted, and must wait for it.
                        async let mine = sessions.refresh(presented, lifetime: .seconds(3600), by: .system)
                        try await Task.sleep(for: .milliseconds(500))
                        release.yield()
                        try await other
                        return try await mine
                    }
                    #expect(outcome == .reused, "round \(round): \(outcome)")
                    try await roster.admin(.get, "/tenants", bearer: session.access).expectAdminError(.unauthorized)
                }
            }
        }
    }
}
