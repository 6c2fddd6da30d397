public import Foundation
import PostgresNIO

/// Where a newest-first read of a tenant's change feed goes on from: the sequence number of the oldest event its
/// page showed. (Read oldest first, the feed's cursor is the bare sequence number, as it always was.)
public struct NewestFirstPosition: Sendable, Equatable {
    public var sequence: Int64

    public init(sequence: Int64) {
        self.sequence = sequence
    }

    /// The cursor of this position in `tenant`'s feed.
    public func cursor(tenant: UUID) -> String {
        ListCursor.encode(.eventsNewestFirst, [ListCursor.scope(tenant), String(sequence)])
    }

    /// nil when `cursor` is not one of a newest-first read of `tenant`'s feed.
    public init?(cursor: String, tenant: UUID) {
        guard let fields = ListCursor.fields(cursor, of: .eventsNewestFirst, count: 2), fields[0] == ListCursor.scope(tenant),
            let sequence = Int64(fields[1]), sequence > 0
        else { return nil }
        self.init(sequence: sequence)
    }
}

extension EventLog {
    /// A page of a tenant's events, newest first (`query.after` is not read: `position` bounds the page from above),
    /// and the feed's head: the last sequence number given when the page was read (0 before any). The page holds
    /// nothing numbered after that head (`EventSpan`), and numbered events are a gapless prefix 1…head in every
    /// snapshot (0017), so reading on oldest first after the head misses no event committed later and repeats none
    /// the page could show.
    public func readNewestFirst(
        tenant: UUID, _ query: Query, before position: NewestFirstPosition?
    ) async throws -> (page: ListPage<ChangeEvent, NewestFirstPosition>, head: Int64) {
        try await stamp(tenant: tenant)
        let (span, head) = try await span(tenant: tenant, before: position?.sequence)
        guard let span else { return (ListPage(items: [], next: nil), head) }
        let rows = try await database.query(Self.newestFirstStatement(tenant: tenant, query, before: position, within: span))
        let events = try rows.map { try Self.event($0, tenant: tenant) }
        let shown = Array(events.prefix(query.limit))
        let next = events.count > query.limit ? shown.last.map { NewestFirstPosition(sequence: $0.sequence) } : nil
        return (ListPage(items: shown, next: next), head)
    }

    /// `readNewestFirst`'s statement, once it knows the span of the events before `position`.
    static func newestFirstStatement(tenant: UUID, _ query: Query, before position: NewestFirstPosition?, within span: EventSpan) -> PostgresQuery {
        let types = query.types?.map(\.rawValue)
        return """
            SELECT \(unescaped: Self.eventColumns) FROM events
            WHERE tenant_id = \(tenant) AND \(within: span)
              AND (\(position?.sequence)::bigint IS NULL OR seq < \(position?.sequence))
              AND (\(types)::text[] IS NULL OR type = ANY(\(types)::text[]))
              AND (\(query.resource)::uuid IS NULL OR resource_id = \(query.resource))
              AND (\(query.since)::timestamptz IS NULL OR occurred_at >= \(query.since))
            ORDER BY seq DESC
            LIMIT \(query.limit + 1)
            """
    }
}
