public import Foundation
public import RosterStore
public import SCIM

/// Signs the claims of a Security Event Token with Roster's published keys (the access-token authority's, whose JWKS is
/// `/api/v1/auth/jwks.json`) and adds their `iss`. Each call signs with the key current at that moment.
public struct SecurityEventSigner: Sendable {
    let sign: @Sendable ([String: JSONValue]) async throws -> String

    public init(sign: @escaping @Sendable ([String: JSONValue]) async throws -> String) {
        self.sign = sign
    }

    /// The SET of one event for `audience`, signed now.
    public func token(for event: ChangeEvent, audience: String, at now: Date = Date()) async throws -> String {
        try await sign(SecurityEventClaims.claims(event, audience: audience, issuedAt: now))
    }

    /// A test SET for the subscription `subscription`: the OpenID SSF verification event.
    public func test(subscription: UUID, audience: String, id: UUID, at now: Date = Date()) async throws -> String {
        try await sign(SecurityEventClaims.test(subscription: subscription, audience: audience, id: id, issuedAt: now))
    }
}

/// The claims of a SCIM event's SET (RFC 8417 §2.2, RFC 9967 §2), `iss` aside (the signer adds it). One event per SET.
public enum SecurityEventClaims {
    /// `jti` is the event's id: the same on every attempt and replay, so a receiver deduplicates by it (RFC 8935 §2.1
    /// retransmissions); `iat` is the signing time, `toe` when the change committed, `txn` the request's transaction id
    /// (shared by every event of one request, Bulk included). No `sub` and no `exp` (RFC 9967 §2.1, RFC 8417 §2.2).
    public static func claims(_ event: ChangeEvent, audience: String, issuedAt: Date) -> [String: JSONValue] {
        [
            "jti": .string(event.id.uuidString.lowercased()),
            "iat": .integer(Int(issuedAt.timeIntervalSince1970)),
            "aud": .string(audience),
            "txn": .string(event.transaction.uuidString.lowercased()),
            "toe": .integer(Int(event.occurred.timeIntervalSince1970)),
            "sub_id": subject(event),
            "events": .object([event.type.eventURI: payload(event)]),
        ]
    }

    /// RFC 9967 §2.1: `format` scim, the resource's path relative to the SCIM base URL, and its `externalId` when it has one.
    static func subject(_ event: ChangeEvent) -> JSONValue {
        var subject: [String: JSONValue] = [
            "format": "scim",
            "uri": .string("/\(event.resourceType)s/\(event.resourceID.uuidString.lowercased())"),
        ]
        if let externalID = event.data["externalId"]?.stringValue { subject["externalId"] = .string(externalID) }
        return .object(subject)
    }

    /// The event's payload, a notice (RFC 9967 §2.4): the names of the attributes concerned, never their values, and
    /// `version`, the resource's ETag after the change. A delete carries nothing (§2.4.4).
    static func payload(_ event: ChangeEvent) -> JSONValue {
        let version = JSONValue.string("W/\"\(event.resourceVersion)\"")
        switch event.type {
        case .userDeleted, .groupDeleted:
            return [:]
        case .userDeactivated, .userReactivated:
            return ["version": version]
        case .groupMembersAdded, .groupMembersRemoved:
            return ["attributes": ["members"], "version": version]
        case .userCreated, .groupCreated:
            return ["attributes": attributes(event.data, adding: "id"), "version": version]
        case .userUpdated, .groupUpdated:
            // Roster records the resource after the change, not a diff: these are its attributes now, a superset of
            // those the request changed (documented in docs/consumers.md).
            return ["attributes": attributes(event.data), "version": version]
        }
    }

    /// The top-level attribute names of a recorded body (`schemas` is not an attribute), sorted.
    static func attributes(_ body: [String: JSONValue], adding extra: String? = nil) -> JSONValue {
        var names = Set(body.keys.filter { $0 != "schemas" })
        if let extra { names.insert(extra) }
        return .array(names.sorted().map(JSONValue.string))
    }

    /// The OpenID Shared Signals Framework 1.0 verification event (§8.1.4.1), Roster's test event in this format; its
    /// subject is the subscription (an opaque identifier, RFC 9493 §3.2.4).
    public static let verificationEventURI = "https://schemas.openid.net/secevent/ssf/event-type/verification"

    static func test(subscription: UUID, audience: String, id: UUID, issuedAt: Date) -> [String: JSONValue] {
        [
            "jti": .string(id.uuidString.lowercased()),
            "iat": .integer(Int(issuedAt.timeIntervalSince1970)),
            "aud": .string(audience),
            "sub_id": ["format": "opaque", "id": .string(subscription.uuidString.lowercased())],
            "events": .object([verificationEventURI: ["state": .string(id.uuidString.lowercased())]]),
        ]
    }
}
