import Foundation
import RosterAuth
import Synchronization
import Testing

/// Signing keys as RosterAuth sees them: through its `SigningKeyStore` port, with no database.
@Suite("The access-token authority over its signing-key port")
struct SigningKeyStoreTests {
    /// Keys held in memory: whatever `records` says, and every insert and rotation asked for.
    final class KeysInMemory: SigningKeyStore {
        let records: Mutex<[SigningKeyRecord]>
        let inserts = Mutex(0)

        init(_ records: [SigningKeyRecord]) { self.records = Mutex(records) }

        func verifiable(retiredAfter cutoff: Date) async throws -> [SigningKeyRecord] { records.withLock { $0 } }

        func insertIfNoCurrent(_ key: NewSigningKey) async throws -> Bool {
            inserts.withLock { $0 += 1 }
            return false  // as if another replica's insert had won, and then vanished
        }

        func rotate(to key: NewSigningKey, at now: Date, deletingRetiredBefore cutoff: Date) async throws {}
    }

    static func retired(_ kid: String, publicJWK: String = #"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#) -> SigningKeyRecord {
        SigningKeyRecord(
            kid: kid, privateKey: SigningKeyMaterial(Data(repeating: 1, count: 32)), publicJWK: publicJWK, created: Date(timeIntervalSince1970: 0),
            retired: Date(timeIntervalSince1970: 1))
    }

    @Test("no current key, even after asking the store for one, is AuthError.unavailable (the operator's problem), never a token")
    func noCurrentKey() async throws {
        let store = KeysInMemory([Self.retired("old")])
        let authority = AccessTokenAuthority(keys: store, issuer: "https://roster.example.com", audience: "roster-admin")
        let error = await #expect(throws: AuthError.self) { try await authority.loadKeys() }
        #expect(error?.kind == .unavailable)
        #expect(store.inserts.withLock { $0 } == 1)
    }
}
