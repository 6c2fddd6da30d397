import Crypto
public import Foundation
import PostgresNIO
import SCIM

/// Where a cursor-paginated query (RFC 9865) goes on from: a row's sort key and id, and whether
/// the page lies after that row (`nextCursor`) or before it (`previousCursor`).
public struct CursorPosition: Sendable, Equatable, Codable {
    /// The row's sort key as text (nil when it sorted as NULL).
    public var key: String?
    public var id: UUID
    public var backward: Bool

    public init(key: String?, id: UUID, backward: Bool = false) {
        self.key = key
        self.id = id
        self.backward = backward
    }

    /// Cursors issued before `backward` existed still read, as forward ones.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decodeIfPresent(String.self, forKey: .key)
        id = try container.decode(UUID.self, forKey: .id)
        backward = try container.decodeIfPresent(Bool.self, forKey: .backward) ?? false
    }
}

/// An opaque, tamper-evident cursor: the position plus what it is bound to, HMAC-signed.
///
/// A cursor is valid only for the tenant, resource type, query and page size that made it, and
/// for `lifetime` seconds; it grants nothing: every page still runs as the caller's own token.
public struct CursorCodec: Sendable {
    /// RFC 9865 `cursorTimeout`: the least time a cursor stays valid between pages.
    public static let lifetime = TimeInterval(Pagination.cursorTimeout)
    let secret: Data

    public init(secret: Data) {
        self.secret = secret
    }

    private var key: SymmetricKey { SymmetricKey(data: secret) }

    struct Payload: Codable {
        var tenant: UUID
        var type: String
        var query: String
        var count: Int
        var position: CursorPosition
        var expires: Int
    }

    public func encode(_ position: CursorPosition, tenant: UUID, type: String, query: String, count: Int, now: Date = Date()) -> String {
        let payload = Payload(
            tenant: tenant, type: type, query: Self.digest(query), count: count, position: position,
            expires: Int(now.timeIntervalSince1970 + Self.lifetime))
        let body = (try? JSONEncoder().encode(payload)) ?? Data()
        let signature = Data(HMAC<SHA256>.authenticationCode(for: body, using: key))
        return Base64URL.encode(body) + "." + Base64URL.encode(signature)
    }

    /// The position of a cursor this server issued for exactly this tenant, type, query and count.
    public func decode(_ cursor: String, tenant: UUID, type: String, query: String, count: Int, now: Date = Date()) throws(StoreError) -> CursorPosition {
        let invalid = StoreError.invalidCursor("The cursor is not one this server issued for this query; start again with an empty cursor.")
        let parts = cursor.split(separator: ".")
        guard parts.count == 2, let body = Base64URL.decode(String(parts[0])), let signature = Base64URL.decode(String(parts[1])),
            HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: body, using: key),
            let payload = try? JSONDecoder().decode(Payload.self, from: body)
        else { throw invalid }
        guard payload.tenant == tenant, payload.type == type, payload.query == Self.digest(query) else { throw invalid }
        guard payload.count == count else {
            throw .invalidCount("count must stay \(payload.count), as in the query that made this cursor.")
        }
        guard Double(payload.expires) >= now.timeIntervalSince1970 else {
            throw .expiredCursor("The cursor has expired (cursors last \(Int(Self.lifetime)) seconds); start again with an empty cursor.")
        }
        return payload.position
    }

    private static func digest(_ query: String) -> String {
        Base64URL.encode(Data(SHA256.hash(data: Data(query.utf8))))
    }
}

/// Secrets shared by every replica through the database.
public struct ServerSecrets: Sendable {
    let database: RosterDatabase

    public init(database: RosterDatabase) {
        self.database = database
    }

    public func cursorKey() async throws -> Data {
        guard let row = try await database.query("SELECT secret, secret_sealed FROM server_secrets WHERE name = 'cursor'").first else {
            throw StoreError.notFound("cursor secret")
        }
        let (plaintext, sealed) = try row.decode((Data?, Data?).self)
        return try database.secrets.reveal(plaintext: plaintext, sealed: sealed, for: .serverSecret("cursor"))
    }
}
