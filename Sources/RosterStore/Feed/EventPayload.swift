import Foundation
public import SCIM

extension ChangeEvent {
    /// The event as applications see it, the one shape of both the webhook's `data` and the pull API's event
    /// (`GET /api/v1/events` decodes its answer from this, so the two cannot drift apart).
    public var json: JSONValue {
        var actor: [String: JSONValue] = ["type": .string(self.actor.type)]
        if let id = self.actor.id { actor["id"] = .string(id.uuidString.lowercased()) }
        return [
            "id": .string(id.uuidString.lowercased()),
            "sequence": .integer(Int(sequence)),
            "type": .string(type.rawValue),
            "event_uri": .string(type.eventURI),
            "tenant_id": .string(tenant.uuidString.lowercased()),
            "resource_type": .string(resourceType),
            "resource_id": .string(resourceID.uuidString.lowercased()),
            "resource_version": .integer(Int(resourceVersion)),
            "actor": .object(actor),
            "transaction_id": .string(transaction.uuidString.lowercased()),
            "occurred_at": .string(SCIMDate.format(occurred)),
            "data": .object(data),
        ]
    }
}
