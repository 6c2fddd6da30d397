import Foundation
import RosterAuth

/// What may change without a restart (`GET/PUT /api/v1/config`; docs/operators/runtime-settings.md), as stored and
/// as a PUT body. Every section is optional: one the document leaves out (or sets to null) is the process
/// configuration's. openapi-generator-config.yaml puts this type in place of the `RuntimeSettingsUpdate`
/// schema, so a misspelt key is a 400 naming it rather than a section silently falling back.
struct RuntimeSettings: Codable, Hashable, Sendable {
    var rateLimits: RateLimitSettings?
    var listPageSize: ListPageSize?
    /// Seconds to wait: `[0]` before a first attempt, `[n]` after the n-th failure (as ROSTER_WEBHOOK_RETRY_SCHEDULE).
    var webhookRetrySchedule: [Double]?
    /// The same objects as ROSTER_OIDC_ISSUERS.
    var trustedIssuers: [TrustedIssuer]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case rateLimits = "rate_limits"
        case listPageSize = "list_page_size"
        case webhookRetrySchedule = "webhook_retry_schedule"
        case trustedIssuers = "trusted_issuers"
    }

    /// The answer's read-only members, accepted and ignored in a PUT so that a GET's answer can be sent back edited.
    static let readOnlyKeys: Set<String> = ["version", "overridden"]

    init(
        rateLimits: RateLimitSettings? = nil, listPageSize: ListPageSize? = nil, webhookRetrySchedule: [Double]? = nil,
        trustedIssuers: [TrustedIssuer]? = nil
    ) {
        self.rateLimits = rateLimits
        self.listPageSize = listPageSize
        self.webhookRetrySchedule = webhookRetrySchedule
        self.trustedIssuers = trustedIssuers
    }

    init(from decoder: any Decoder) throws {
        try Self.refuseUnknownKeys(in: decoder, known: Set(CodingKeys.allCases.map(\.rawValue)).union(Self.readOnlyKeys), section: nil)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        rateLimits = try container.decodeIfPresent(RateLimitSettings.self, forKey: .rateLimits)
        listPageSize = try container.decodeIfPresent(ListPageSize.self, forKey: .listPageSize)
        webhookRetrySchedule = try container.decodeIfPresent([Double].self, forKey: .webhookRetrySchedule)
        trustedIssuers = try Self.issuers(in: container, forKey: .trustedIssuers)
    }

    /// `trusted_issuers`, each issuer's misspelt member refused by name; nil when absent or null.
    static func issuers<Key: CodingKey>(in container: KeyedDecodingContainer<Key>, forKey key: Key) throws -> [TrustedIssuer]? {
        guard container.contains(key), try !container.decodeNil(forKey: key) else { return nil }
        var issuers = try container.nestedUnkeyedContainer(forKey: key)
        while !issuers.isAtEnd {
            let index = issuers.currentIndex
            try Self.refuseUnknownKeys(in: issuers.superDecoder(), known: TrustedIssuer.keys, section: "\(key.stringValue)[\(index)]")
        }
        return try container.decode([TrustedIssuer].self, forKey: key)
    }

    /// The top-level sections this document sets.
    var sections: [String] {
        CodingKeys.allCases.filter { key in
            switch key {
            case .rateLimits: rateLimits != nil
            case .listPageSize: listPageSize != nil
            case .webhookRetrySchedule: webhookRetrySchedule != nil
            case .trustedIssuers: trustedIssuers != nil
            }
        }.map(\.rawValue)
    }

    /// A 400 naming the first key that is not one of `known` (a JSON object only; other shapes fail their own decoding).
    static func refuseUnknownKeys(in decoder: any Decoder, known: Set<String>, section: String?) throws {
        guard let container = try? decoder.container(keyedBy: AnyKey.self) else { return }
        guard let unknown = container.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) else { return }
        let field = section.map { "\($0).\(unknown)" } ?? unknown
        throw AdminError.invalidRequest(
            "'\(field)' is not a runtime setting; \(section.map { "'\($0)' takes" } ?? "the sections are") \(known.subtracting(readOnlyKeys).sorted().joined(separator: ", ")).")
    }

    struct AnyKey: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
}

/// `rate_limits`: what every SCIM token and admin key get unless an override says otherwise, each
/// `off` or `<requests>/<seconds>s` as ROSTER_RATE_LIMIT_SCIM and ROSTER_RATE_LIMIT_ADMIN write them.
struct RateLimitSettings: Codable, Hashable, Sendable {
    var scim: String
    var admin: String

    init(scim: String, admin: String) {
        self.scim = scim
        self.admin = admin
    }

    init(from decoder: any Decoder) throws {
        try RuntimeSettings.refuseUnknownKeys(in: decoder, known: ["scim", "admin"], section: "rate_limits")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        scim = try container.decode(String.self, forKey: .scim)
        admin = try container.decode(String.self, forKey: .admin)
    }

    /// Requests per window and the window's seconds, as the rate limiter takes them.
    static let requests = 1...1_000_000
    static let seconds = 1...86_400

    /// `"3000/60s"` → (3000, 60); nil for `off`; throws the rule for anything else.
    static func parse(_ text: String, field: String) throws -> (requests: Int, seconds: Int)? {
        let text = text.trimmingCharacters(in: .whitespaces)
        if text.lowercased() == "off" { return nil }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 2, parts[1].hasSuffix("s"), let limit = Int(parts[0]), let window = Int(parts[1].dropLast()),
            requests.contains(limit), seconds.contains(window)
        {
            return (limit, window)
        }
        throw AdminError.invalidRequest(
            "'\(field)' must be off or <requests>/<seconds>s with 1…1000000 requests and 1…86400 seconds, e.g. 3000/60s.")
    }
}

/// `list_page_size`: a SCIM list's page size when the request gives no `count`, and the most any `count` gets.
struct ListPageSize: Codable, Hashable, Sendable {
    var `default`: Int
    var max: Int

    init(default: Int, max: Int) {
        self.default = `default`
        self.max = max
    }

    init(from decoder: any Decoder) throws {
        try RuntimeSettings.refuseUnknownKeys(in: decoder, known: ["default", "max"], section: "list_page_size")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.default = try container.decode(Int.self, forKey: .default)
        max = try container.decode(Int.self, forKey: .max)
    }
}

extension TrustedIssuer {
    /// The members a trusted issuer's JSON may have (TrustedIssuer's coding keys), so a misspelt one is refused by name.
    static let keys = Set(CodingKeys.allCases.map(\.rawValue))
}
