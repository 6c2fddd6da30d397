import Foundation
import HTTPTypes
import RosterAuth
import RosterServer
import RosterStore
import SCIM
import Synchronization
import Testing

/// A password verifier that counts its runs and can be made slow, wrapping bcrypt.
final class CountingVerifier: Sendable {
    private let state = Mutex((runs: 0, running: 0))
    let delay: Duration

    init(delay: Duration = .zero) {
        self.delay = delay
    }

    var runs: Int { state.withLock { $0.runs } }
    var running: Int { state.withLock { $0.running } }

    var verifier: PasswordHasher.Verifier {
        { [self] password, hash in
            state.withLock { $0.runs += 1; $0.running += 1 }
            defer { state.withLock { $0.running -= 1 } }
            if delay > .zero { Thread.sleep(forTimeInterval: delay.timeInterval) }
            return PasswordHasher.bcrypt(password, hash)
        }
    }
}

extension ServerSuite {
    @Suite("Sign-in: attempts counted before a password is checked, a cap on checks at once, admin keys throttled too")
    struct SignInThrottleTests {
        static func signIn(_ roster: Roster, _ email: String, _ password: String) async throws -> Reply {
            try await roster.anonymous(.post, "/auth/token", body: #"{"email":"\#(email)","password":"\#(password)"}"#)
        }

        @Test("24 parallel wrong passwords for one account run bcrypt at most 5 times; the rest are 429 with Retry-After (3 rounds)")
        func parallelGuesses() async throws {
            let counter = CountingVerifier()
            try await Roster.run(configure: { configuration in
                configuration.identity.passwordVerifier = counter.verifier
                configuration.identity.concurrentPasswordChecks = 64
                configuration.identity.loginFailuresPerAddress = 1000
            }) { roster in
                for round in 0..<3 {
                    let email = "ada\(round)@example.com"
                    _ = try await roster.createAdminUser(email, roles: ["viewer"])
                    let before = counter.runs
                    let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                        for _ in 0..<24 { group.addTask { try await Self.signIn(roster, email, "wrong guess \(round)!!") } }
                        return try await group.reduce(into: []) { $0.append($1) }
                    }
                    #expect(counter.runs - before <= 5, "round \(round): \(counter.runs - before) bcrypt runs")
                    #expect(replies.filter { $0.status == .unauthorized }.count <= 5)
                    for reply in replies where reply.status != .unauthorized {
                        reply.expectAdminError(.tooManyRequests)
                        #expect(reply.headers[.retryAfter].flatMap { Int($0) }.map { (1...900).contains($0) } == true)
                    }
                    // Throttled: the right password too, without a bcrypt run.
                    let runs = counter.runs
                    try await Self.signIn(roster, email, Roster.password).expectAdminError(.tooManyRequests)
                    #expect(counter.runs == runs)
                }
            }
        }

        @Test("past the cap on password checks running at once, sign-in is 429 with Retry-After at once, without a check")
        func concurrencyCap() async throws {
            // Long enough that the three refused sign-ins below finish inside it on a loaded machine.
            let counter = CountingVerifier(delay: .seconds(8))
            try await Roster.run(configure: { configuration in
                configuration.identity.passwordVerifier = counter.verifier
                configuration.identity.concurrentPasswordChecks = 1
            }) { roster in
                _ = try await roster.createAdminUser("ada@example.com", roles: ["viewer"])
                _ = try await roster.createAdminUser("bob@example.com", roles: ["viewer"])
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        let slow = try await Self.signIn(roster, "ada@example.com", Roster.password)
                        #expect(slow.status == .ok, "\(slow.body)")
                    }
                    while counter.running == 0 { try await Task.sleep(for: .milliseconds(10)) }
                    // One check is running: the next, for another account, is refused without one.
                    for email in ["bob@example.com", "ada@example.com", "nobody@example.com"] {
                        let refused = try await Self.signIn(roster, email, Roster.password)
                        refused.expectAdminError(.tooManyRequests)
                        #expect(refused.headers[.retryAfter] == "1")
                    }
                    #expect(counter.runs == 1)
                    try await group.waitForAll()
                }
                // The slot is free again; refused attempts did not count against Bob.
                #expect(try await Self.signIn(roster, "bob@example.com", Roster.password).status == .ok)
            }
        }

        @Test("admin-key sign-in is throttled per address: every kind of wrong key counts, and is audited without the key")
        func adminKeyThrottle() async throws {
            try await Roster.run(configure: { $0.identity.loginFailuresPerAddress = 4 }) { roster in
                let revoked = try await roster.admin(.post, "/admin-keys", body: #"{"name":"old","scopes":["tenants"]}"#)
                let revokedKey = try #require(revoked.json["key"]?.stringValue)
                _ = try await roster.admin(.delete, "/admin-keys/\(try #require(revoked.json["id"]?.stringValue))")
                let wrong = [
                    "radm_" + String(repeating: "A", count: 43), roster.scimToken, revokedKey, "not a key at all",
                ]
                for key in wrong {
                    try await roster.anonymous(.post, "/auth/token", body: #"{"admin_key":"\#(key)"}"#).expectAdminError(.unauthorized)
                }
                let throttled = try await roster.anonymous(.post, "/auth/token", body: #"{"admin_key":"\#(roster.adminKey)"}"#)
                throttled.expectAdminError(.tooManyRequests)
                #expect(throttled.headers[.retryAfter].flatMap { Int($0) }.map { (1...900).contains($0) } == true)
                let audit = try await roster.admin(.get, "/audit?action=auth.login_failed")
                let entries = audit.json["data"]?.arrayValue ?? []
                #expect(entries.count == wrong.count, "\(audit.body)")
                #expect(entries.allSatisfy { $0["details"] == ["method": "admin_key"] }, "\(audit.body)")
                for key in wrong { #expect(!audit.body.contains(key)) }
            }
        }

        @Test("a good admin key signs in again and again: a success gives its attempt back to the address")
        func adminKeySuccessesDoNotThrottle() async throws {
            try await Roster.run(configure: { $0.identity.loginFailuresPerAddress = 3 }) { roster in
                for _ in 0..<6 {
                    let reply = try await roster.anonymous(.post, "/auth/token", body: #"{"admin_key":"\#(roster.adminKey)"}"#)
                    #expect(reply.status == .ok, "\(reply.body)")
                }
            }
        }
    }
}
