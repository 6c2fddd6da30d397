public import Foundation
import PostgresNIO

/// Where in time the events a read asks for lie, from `event_days` (0023_event_days.sql): the whole UTC days that hold
/// them, and the highest sequence number on those days when it was read. A read bounds `occurred_at` by `from` and
/// `until` as parameters, so the planner reads only those days' partitions of `events`, and `seq` by `head`, so an
/// event numbered after the span was read (perhaps on an earlier day) is left to the next read, not passed over.
struct EventSpan: Sendable, Equatable {
    var from: Date
    /// Exclusive.
    var until: Date
    var head: Int64
}

extension EventLog {
    /// The span of `tenant`'s events numbered after `after` (and at most `through`), nil when none is left; and, when more
    /// are numbered than `pageSize`, the narrower span of those numbered up to `after + pageSize`: the days of the first
    /// page of an unfiltered read, one or two however far behind the reader is.
    func spans(tenant: UUID, after: Int64, through: Int64?, pageSize: Int) async throws -> (all: EventSpan, first: EventSpan?)? {
        let firstPage = after + Int64(pageSize)
        // A day's end is its start plus 24 hours, not '1 day', which the session's time zone could make 23 or 25.
        let rows = try await database.query(
            """
            SELECT min(day), max(day) + interval '24 hours', least(max(last_seq), \(through)),
                   min(day) FILTER (WHERE first_seq <= \(firstPage)), max(day) FILTER (WHERE first_seq <= \(firstPage)) + interval '24 hours'
            FROM event_days
            WHERE tenant_id = \(tenant) AND last_seq > \(after) AND (\(through)::bigint IS NULL OR first_seq <= \(through))
            """)
        guard let row = rows.first else { return nil }
        let (from, until, head, firstFrom, firstUntil) = try row.decode((Date?, Date?, Int64?, Date?, Date?).self)
        guard let from, let until, let head, head > after else { return nil }
        let all = EventSpan(from: from, until: until, head: head)
        guard head > firstPage, let firstFrom, let firstUntil else { return (all, nil) }
        return (all, EventSpan(from: firstFrom, until: firstUntil, head: firstPage))
    }

    /// The span of `tenant`'s events numbered before `before` (nil: all of them), nil when there is none; and the feed's
    /// head, the highest number any of its events left has (0 before any), read in the same statement.
    func span(tenant: UUID, before: Int64?) async throws -> (span: EventSpan?, head: Int64) {
        let rows = try await database.query(
            """
            SELECT min(day) FILTER (WHERE \(before)::bigint IS NULL OR first_seq < \(before)),
                   max(day) FILTER (WHERE \(before)::bigint IS NULL OR first_seq < \(before)) + interval '24 hours',
                   coalesce(max(last_seq), 0)
            FROM event_days WHERE tenant_id = \(tenant)
            """)
        guard let row = rows.first else { return (nil, 0) }
        let (from, until, head) = try row.decode((Date?, Date?, Int64).self)
        guard let from, let until else { return (nil, head) }
        return (EventSpan(from: from, until: until, head: head), head)
    }
}

extension PostgresQuery.StringInterpolation {
    /// The conditions that keep a read of `events` (unqualified) within `span`.
    mutating func appendInterpolation(within span: EventSpan) {
        appendLiteral("seq <= ")
        appendInterpolation(span.head)
        appendLiteral(" AND occurred_at >= ")
        appendInterpolation(span.from)
        appendLiteral(" AND occurred_at < ")
        appendInterpolation(span.until)
    }
}
