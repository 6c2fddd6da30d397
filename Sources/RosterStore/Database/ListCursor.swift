public import Foundation
import PostgresNIO
import SCIM

/// The cursors of the admin API's lists (`cursor` in, `next_cursor` out): base64url of the list's tag and the
/// values its next page starts after, dot-separated. The audit log's (`a1.<µs>.<source>.<key>.<seq>`) was the
/// first; every list's starts with the scope it was read in (a tenant, a role, a subscription; `-` for a list of
/// all the caller sees), so a cursor read back on another list or in another scope is refused, not reinterpreted.
///
/// Opaque, not signed: a well-formed but edited cursor only moves the page among the rows the caller may read
/// anyway, since every page runs with the caller's own filters, the tenant's first.
public enum ListCursor {
    /// The list a cursor pages: its first field.
    public enum List: String, Sendable, CaseIterable {
        case audit = "a1"
        case tenants = "t1"
        case scimTokens = "s1"
        case adminKeys = "k1"
        case webhooks = "w1"
        case webhookDeliveries = "d1"
        case adminUsers = "u1"
        case roles = "r1"
        case roleGrants = "g1"
        case setupLinks = "l1"
        /// The change feed read newest first (read oldest first, its cursor is the bare sequence number).
        case eventsNewestFirst = "e1"
    }

    /// The longest cursor read (the API documents it as `cursor`'s maxLength).
    public static let maxLength = 200

    static func encode(_ list: List, _ fields: [String]) -> String {
        Base64URL.encode(Data(([list.rawValue] + fields).joined(separator: ".").utf8))
    }

    /// The `count` fields after the tag of a cursor of `list`; nil when `cursor` is not one.
    static func fields(_ cursor: String, of list: List, count: Int) -> [String]? {
        // Visible ASCII only: a NUL would end a field early for a parser underneath (UUID's does), hiding an edit.
        guard cursor.utf8.count <= maxLength, let data = Base64URL.decode(cursor), data.allSatisfy({ (0x21...0x7E).contains($0) }),
            let text = String(data: data, encoding: .utf8)
        else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == count + 1, parts[0] == list.rawValue else { return nil }
        return Array(parts.dropFirst())
    }

    /// The scope field: the id a list is read in, or `-` for a list of everything the caller sees.
    static func scope(_ id: UUID?) -> String { id?.uuidString.lowercased() ?? "-" }

    /// A time field: microseconds since 1970, within years 1 to 9999, so that an edited cursor's time is refused as a
    /// cursor, not sent to PostgreSQL, which cannot add it to 'epoch' (and would refuse the statement).
    static func microseconds(_ field: String) -> Int64? {
        guard let value = Int64(field), (-62_135_596_800_000_000...253_402_300_799_999_999).contains(value) else { return nil }
        return value
    }
}

/// One page of an admin list, and where the next one starts: nil on the last page.
public struct ListPage<Item: Sendable, Position: Sendable>: Sendable {
    public var items: [Item]
    public var next: Position?

    public init(items: [Item], next: Position?) {
        self.items = items
        self.next = next
    }

    /// Every item of a list, following its pages to the last (the command line lists everything).
    static func all(pageSize: Int = 500, _ read: (Position?, Int) async throws -> ListPage) async throws -> [Item] {
        var items: [Item] = []
        var position: Position?
        repeat {
            let page = try await read(position, pageSize)
            items += page.items
            position = page.next
        } while position != nil
        return items
    }
}

/// Where a list in creation order goes on from: its last row's `created`, in whole microseconds (PostgreSQL's own
/// precision; a `Date` would round), and its id, the tie-breaker among rows created in one transaction.
public struct CreatedPosition: Sendable, Equatable {
    public var microseconds: Int64
    public var id: UUID

    public init(microseconds: Int64, id: UUID) {
        self.microseconds = microseconds
        self.id = id
    }

    /// The cursor of this position in `list`, read in `scope` (nil: a list of everything the caller sees).
    public func cursor(_ list: ListCursor.List, scope: UUID? = nil) -> String {
        ListCursor.encode(list, [ListCursor.scope(scope), String(microseconds), id.uuidString.lowercased()])
    }

    /// nil when `cursor` is not one of `list` in `scope`.
    public init?(cursor: String, _ list: ListCursor.List, scope: UUID? = nil) {
        guard let fields = ListCursor.fields(cursor, of: list, count: 3), fields[0] == ListCursor.scope(scope),
            let microseconds = ListCursor.microseconds(fields[1]), let id = UUID(uuidString: fields[2])
        else { return nil }
        self.init(microseconds: microseconds, id: id)
    }

    /// A row's position time as SQL: the column in whole microseconds since 1970 (exact: `extract` gives numeric).
    static func microseconds(of column: String) -> String { "(extract(epoch FROM \(column)) * 1000000)::bigint" }
    /// The last column of a page's rows: `created` as a position.
    static let createdColumn = microseconds(of: "created")
}

extension ListPage where Position == CreatedPosition {
    /// The page in `rows`, read with `LIMIT limit + 1` and `CreatedPosition.createdColumn` (or another column's
    /// microseconds) as each row's last column.
    static func inCreationOrder(
        _ rows: [PostgresRow], limit: Int, decode: ([PostgresRow]) throws -> [Item], id: (Item) -> UUID
    ) throws -> ListPage {
        let shown = Array(rows.prefix(limit))
        let items = try decode(shown)
        guard rows.count > limit, let last = shown.last?.makeRandomAccess(), let item = items.last else { return ListPage(items: items, next: nil) }
        return ListPage(items: items, next: CreatedPosition(microseconds: try last[last.count - 1].decode(Int64.self), id: id(item)))
    }
}

extension PostgresQuery.StringInterpolation {
    /// The rows after `position` in (`created`, `id`) order, or every row (`TRUE`) for the first page. The cursor's
    /// time is exact in SQL: 'epoch' plus whole microseconds, bound. Column names are the repository's, never input.
    mutating func appendInterpolation(after position: CreatedPosition?, created: String = "created", id: String = "id") {
        guard let position else {
            appendLiteral("TRUE")
            return
        }
        appendLiteral("(\(created), \(id)) > (timestamptz 'epoch' + ")
        appendInterpolation(position.microseconds)
        appendLiteral("::bigint * interval '1 microsecond', ")
        appendInterpolation(position.id)
        appendLiteral("::uuid)")
    }
}
