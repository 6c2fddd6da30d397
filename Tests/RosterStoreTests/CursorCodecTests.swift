import Foundation
@testable import RosterStore
import SCIM
import Testing

@Suite("Cursor codec")
struct CursorCodecTests {
    let codec = CursorCodec(secret: Data(repeating: 7, count: 32))
    let tenant = UUID()
    let position = CursorPosition(key: "alice", id: UUID())

    @Test("a cursor decodes back to its position for the same tenant, type, query and count")
    func roundTrip() throws {
        let cursor = codec.encode(position, tenant: tenant, type: "User", query: "q", count: 10)
        #expect(try codec.decode(cursor, tenant: tenant, type: "User", query: "q", count: 10) == position)
    }

    @Test("a cursor past its lifetime is expiredCursor")
    func expiry() {
        let cursor = codec.encode(position, tenant: tenant, type: "User", query: "q", count: 10)
        let later = Date().addingTimeInterval(CursorCodec.lifetime + 5)
        do {
            _ = try codec.decode(cursor, tenant: tenant, type: "User", query: "q", count: 10, now: later)
            Issue.record("an expired cursor was taken")
        } catch {
            guard case .expiredCursor = error else { Issue.record("\(error)"); return }
        }
    }

    @Test("another server's key does not verify")
    func otherKey() {
        let cursor = codec.encode(position, tenant: tenant, type: "User", query: "q", count: 10)
        let other = CursorCodec(secret: Data(repeating: 8, count: 32))
        #expect(throws: StoreError.self) { try other.decode(cursor, tenant: tenant, type: "User", query: "q", count: 10) }
        do {
            _ = try other.decode(cursor, tenant: tenant, type: "User", query: "q", count: 10)
        } catch {
            guard case .invalidCursor = error else { Issue.record("\(error)"); return }
        }
    }
}
