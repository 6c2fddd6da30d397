import Foundation

/// Bodies where a field may be left out but never sent as null (openapi-generator-config.yaml puts them
/// in place of the generated types, which read null as absent and so accepted what the schema forbids).

/// The `AdminUserUpdate` body: the fields present change.
struct AdminUserUpdateBody: Codable, Hashable, Sendable {
    var displayName: String?
    var password: String?
    var disabled: Bool?

    enum CodingKeys: String, CodingKey {
        case displayName = "display_name"
        case password
        case disabled
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        displayName = try container.decodeUnlessAbsent(String.self, forKey: .displayName)
        password = try container.decodeUnlessAbsent(String.self, forKey: .password)
        disabled = try container.decodeUnlessAbsent(Bool.self, forKey: .disabled)
    }
}

/// The `TenantRateLimitUpdate` body: `scim`, `admin` or both, and nothing else.
struct TenantRateLimitUpdateBody: Codable, Hashable, Sendable {
    var scim: Components.Schemas.RateLimit?
    var admin: Components.Schemas.RateLimit?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case scim
        case admin
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = all.allKeys.first(where: { CodingKeys(rawValue: $0.stringValue) == nil }) {
            throw DecodingError.dataCorrupted(.init(codingPath: [unknown], debugDescription: "not a member of this body"))
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        scim = try container.decodeUnlessAbsent(Components.Schemas.RateLimit.self, forKey: .scim)
        admin = try container.decodeUnlessAbsent(Components.Schemas.RateLimit.self, forKey: .admin)
    }
}
