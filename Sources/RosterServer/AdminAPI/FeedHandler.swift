import Foundation
import OpenAPIRuntime
import RosterAuth
import RosterStore
import SCIM

/// `/api/v1/events` (the key's tenant) and `/api/v1/tenants/{tenant}/events`: the change feed, by cursor, oldest
/// first (commit order) or newest first.
struct FeedHandler: Sendable {
    let tenants: TenantRepository
    let events: EventLog

    /// Both routes' events, `tenant` nil for the credential's.
    func list(
        tenant reference: String?, after: String?, newestFirst: Bool = false, limit: Int?, types: String?, resource: String?, since: Date?
    ) async throws -> Components.Schemas.EventList {
        let principal = try AuthenticatedAdmin.require(.feedRead)
        let tenant = try await tenants.tenant(named: reference, for: principal, scope: .feedRead)
        var query = EventLog.Query()
        var before: NewestFirstPosition?
        if let after, newestFirst {
            guard let position = NewestFirstPosition(cursor: after, tenant: tenant.id) else {
                throw AdminError.invalidRequest(
                    "With order=desc, 'after' must be the next_cursor of an earlier order=desc answer on this tenant; to read events newer than a position, leave out 'order'.")
            }
            before = position
        } else if let after {
            guard let sequence = Int64(after), sequence >= 0 else {
                throw AdminError.invalidRequest("'after' must be the next_cursor of an earlier answer (in the same order) or a poll_cursor.")
            }
            query.after = sequence
        }
        if let limit {
            guard (1...1000).contains(limit) else { throw AdminError.invalidRequest("'limit' must be between 1 and 1000.") }
            query.limit = limit
        }
        if let types {
            query.types = try types.split(separator: ",").map { name in
                let name = name.trimmingCharacters(in: .whitespaces)
                guard let type = EventType(rawValue: name) else {
                    throw AdminError.invalidRequest(
                        "'type' lists event types, comma-separated: \(EventType.allCases.map(\.rawValue).joined(separator: ", ")).")
                }
                return type
            }
        }
        if let resource {
            guard let id = UUID(uuidString: resource) else { throw AdminError.invalidRequest("'resource_id' must be a user's or group's id.") }
            query.resource = id
        }
        query.since = since
        guard newestFirst else {
            let page = try await events.read(tenant: tenant.id, query)
            return .init(data: try page.map(Components.Schemas.Event.init), nextCursor: String(page.last?.sequence ?? query.after))
        }
        let (page, head) = try await events.readNewestFirst(tenant: tenant.id, query, before: before)
        // The head only on the first page: a later page's would pass over events committed since the first.
        return .init(
            data: try page.items.map(Components.Schemas.Event.init), nextCursor: page.next?.cursor(tenant: tenant.id),
            pollCursor: before == nil ? String(head) : nil)
    }
}

extension AdminAPI {
    func listEvents(_ input: Operations.ListEvents.Input) async throws -> Operations.ListEvents.Output {
        let q = input.query
        return .ok(.init(body: .json(try await feed.list(
            tenant: nil, after: q.after, newestFirst: q.order == .desc, limit: q.limit, types: q._type, resource: q.resourceId, since: q.since))))
    }

    func listTenantEvents(_ input: Operations.ListTenantEvents.Input) async throws -> Operations.ListTenantEvents.Output {
        let q = input.query
        return .ok(.init(body: .json(try await feed.list(
            tenant: input.path.tenant, after: q.after, newestFirst: q.order == .desc, limit: q.limit, types: q._type, resource: q.resourceId,
            since: q.since))))
    }
}

extension Components.Schemas.Event {
    /// Read from `ChangeEvent.json`, the webhook's shape: one rendering of an event for both ways of reading the feed.
    init(_ event: ChangeEvent) throws {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = SCIMDate.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 date"))
            }
            return date
        }
        self = try decoder.decode(Self.self, from: event.json.encoded())
        // The instant itself, not its text read back: milliseconds parsed from text can land a hair below the
        // instant (…49.685 as 49.68499…), and the writer, which truncates, would then write …49.684.
        occurredAt = event.occurred
    }
}

extension Components.Schemas.EventType {
    init(_ type: EventType) {
        self =
            switch type {
            case .userCreated: .user_created
            case .userUpdated: .user_updated
            case .userDeactivated: .user_deactivated
            case .userReactivated: .user_reactivated
            case .userDeleted: .user_deleted
            case .groupCreated: .group_created
            case .groupUpdated: .group_updated
            case .groupDeleted: .group_deleted
            case .groupMembersAdded: .group_members_added
            case .groupMembersRemoved: .group_members_removed
            }
    }
}

extension JSONValue {
    /// The value as swift-openapi-runtime's untyped containers take it.
    var unvalidated: (any Sendable)? {
        switch self {
        case .null: nil
        case .bool(let value): value
        case .integer(let value): value
        case .decimal(let value): value
        case .string(let value): value
        case .array(let items): items.map(\.unvalidated)
        case .object(let object): object.mapValues(\.unvalidated)
        }
    }
}
