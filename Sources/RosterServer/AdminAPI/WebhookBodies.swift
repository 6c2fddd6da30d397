import Foundation
import RosterFeed
import RosterStore

/// The `WebhookCreate` body (openapi-generator-config.yaml puts it in place of the generated type).
/// Event types stay strings until `WebhooksHandler.eventTypes` checks them, so an unknown one is a 400
/// naming the valid ones rather than a decoding error.
struct WebhookCreateBody: Codable, Hashable, Sendable {
    var url: String
    /// nil: every type.
    var eventTypes: [String]?
    var description: String?
    /// nil: `standard_webhooks`. A string until `WebhooksHandler.format` checks it.
    var format: String?
    /// nil: the URL.
    var setAudience: String?

    enum CodingKeys: String, CodingKey {
        case url
        case eventTypes = "event_types"
        case description
        case format
        case setAudience = "set_audience"
    }

    init(url: String, eventTypes: [String]? = nil, description: String? = nil, format: String? = nil, setAudience: String? = nil) {
        self.url = url
        self.eventTypes = eventTypes
        self.description = description
        self.format = format
        self.setAudience = setAudience
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        url = try container.decode(String.self, forKey: .url)
        eventTypes = try container.decodeIfPresent([String].self, forKey: .eventTypes)
        description = try container.decodeUnlessAbsent(String.self, forKey: .description)
        format = try container.decodeUnlessAbsent(String.self, forKey: .format)
        setAudience = try container.decodeUnlessAbsent(String.self, forKey: .setAudience)
    }
}

/// The `WebhookUpdate` body: only the fields present change, and `event_types: null` (every type)
/// differs from leaving `event_types` out, which the generated type could not tell apart.
struct WebhookUpdateBody: Codable, Hashable, Sendable {
    var url: String?
    /// nil: unchanged; `.some(nil)`: every type.
    var eventTypes: [String]??
    var description: String?
    var enabled: Bool?
    var format: String?
    /// nil: unchanged; `.some(nil)`: the URL again.
    var setAudience: String??

    enum CodingKeys: String, CodingKey {
        case url
        case eventTypes = "event_types"
        case description
        case enabled
        case format
        case setAudience = "set_audience"
    }

    init(
        url: String? = nil, eventTypes: [String]?? = nil, description: String? = nil, enabled: Bool? = nil, format: String? = nil,
        setAudience: String?? = nil
    ) {
        self.url = url
        self.eventTypes = eventTypes
        self.description = description
        self.enabled = enabled
        self.format = format
        self.setAudience = setAudience
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        url = try container.decodeUnlessAbsent(String.self, forKey: .url)
        eventTypes = container.contains(.eventTypes) ? .some(try container.decodeIfPresent([String].self, forKey: .eventTypes)) : .none
        description = try container.decodeUnlessAbsent(String.self, forKey: .description)
        enabled = try container.decodeUnlessAbsent(Bool.self, forKey: .enabled)
        format = try container.decodeUnlessAbsent(String.self, forKey: .format)
        setAudience = container.contains(.setAudience) ? .some(try container.decodeIfPresent(String.self, forKey: .setAudience)) : .none
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(url, forKey: .url)
        if let eventTypes { try container.encode(eventTypes, forKey: .eventTypes) }
        try container.encodeIfPresent(description, forKey: .description)
        try container.encodeIfPresent(enabled, forKey: .enabled)
        try container.encodeIfPresent(format, forKey: .format)
        if let setAudience { try container.encode(setAudience, forKey: .setAudience) }
    }
}

extension KeyedDecodingContainer {
    /// nil when the key is absent; a present `null` is refused, as the document does not allow it.
    func decodeUnlessAbsent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        contains(key) ? try decode(type, forKey: key) : nil
    }
}

extension WebhooksHandler {
    /// `format` as the store takes it; nil: unchanged (an update) or the default (a creation).
    static func format(_ name: String?) throws -> WebhookFormat? {
        try name.map { name in
            guard let format = WebhookFormat(rawValue: name) else {
                throw AdminError.invalidRequest(
                    "'format' is one of \(WebhookFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            return format
        }
    }

    /// `event_types` as the store takes them: nil for every type, else the named ones once each, in the document's order.
    static func eventTypes(_ names: [String]?) throws -> [EventType]? {
        guard let names else { return nil }
        let valid = EventType.allCases.map(\.rawValue).joined(separator: ", ")
        guard !names.isEmpty else {
            throw AdminError.invalidRequest("'event_types' names at least one event type (\(valid)); leave it out or send null for every type.")
        }
        let types = try names.map { name in
            guard let type = EventType(rawValue: name) else {
                throw AdminError.invalidRequest("'event_types' lists an unknown event type; the event types are \(valid).")
            }
            return type
        }
        return EventType.allCases.filter(types.contains)
    }

    /// A URL the outbound policy accepts (its text, and the addresses its host name resolves to now), at most
    /// 2048 characters (counted as JSON Schema counts them, by code point).
    func webhookURL(_ url: String) async throws -> String {
        guard url.unicodeScalars.count <= WebhookURLPolicy.maximumLength else {
            throw AdminError.invalidRequest("'url' must be at most \(WebhookURLPolicy.maximumLength) characters.")
        }
        if let refusal = await webhookPolicy.refusal(creating: url) { throw AdminError.invalidRequest(WebhookURLPolicy.message(refusal)) }
        return url
    }

    /// A one-line description of at most 1000 characters.
    static func webhookDescription(_ description: String) throws -> String {
        guard description.unicodeScalars.count <= 1000 else {
            throw AdminError.invalidRequest("'description' must be at most 1000 characters.")
        }
        // Control and format characters (U+0000, line breaks) have no place in a one-line label.
        guard description.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) }) else {
            throw AdminError.invalidRequest("'description' must be one line without control or invisible formatting characters.")
        }
        return description
    }
}
