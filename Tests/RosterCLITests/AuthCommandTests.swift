import Foundation
import RosterAuth
import RosterStore
import Testing

@testable import roster

extension CLISuite {
    @Suite("roster auth rotate-signing-key")
    struct AuthCommandTests {
        @Test("a new key signs from now on, and a token the previous key signed still verifies")
        func rotate() async throws {
            let url = try await freshDatabase()
            @Sendable func authority(_ db: RosterDatabase) -> AccessTokenAuthority {
                AccessTokenAuthority(keys: SigningKeyRepository(database: db), issuer: "https://roster.example.com", audience: "roster-admin")
            }
            let (before, oldKID) = try await inspect(url) { db in
                let issued = try await authority(db).issue(subject: .user(UUID()), sessionID: UUID())
                let current = try await SigningKeyRepository(database: db).verifiable(retiredAfter: .distantPast).first(where: \.isCurrent)
                return (issued.token, try #require(current).kid)
            }

            let rotated = await cli(["auth", "rotate-signing-key"], database: url)
            #expect(rotated.succeeded, "\(rotated.everything)")
            #expect(rotated.output.contains("1 earlier key(s) verify"))

            try await inspect(url) { db in
                let keys = try await SigningKeyRepository(database: db).verifiable(retiredAfter: .distantPast)
                let current = try #require(keys.first { $0.isCurrent })
                #expect(current.kid != oldKID)
                #expect(rotated.output.contains(current.kid))
                #expect(keys.contains { $0.kid == oldKID && $0.retired != nil })
                // A replica started now verifies the old token and signs with the new key.
                let replica = authority(db)
                _ = try await replica.verify(before)
                let after = try await replica.issue(subject: .user(UUID()), sessionID: UUID())
                #expect(after.token.split(separator: ".").first.map(String.init).flatMap(Self.kid) == current.kid)
            }
            #expect(!rotated.everything.contains("PRIVATE") && !rotated.everything.contains("\"d\""))
        }

        static func kid(_ header: String) -> String? {
            var base64 = header.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
            guard let data = Data(base64Encoded: base64),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            else { return nil }
            return object["kid"] as? String
        }
    }
}
