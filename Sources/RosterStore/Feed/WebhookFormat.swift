/// What a subscription's deliveries carry.
public enum WebhookFormat: String, Sendable, CaseIterable {
    /// The event as JSON, signed per Standard Webhooks with the subscription's secret (the default).
    case standardWebhooks = "standard_webhooks"
    /// One Security Event Token per event (RFC 8417, RFC 9967's SCIM profile), signed with Roster's published keys
    /// and pushed as RFC 8935 says.
    case securityEventToken = "set"
}

/// The `aud` a subscription's Security Event Tokens carry, as an admin sets it.
public enum SecurityEventAudience {
    /// Longest accepted (the column's check says the same).
    public static let maximumLength = 512

    /// Why `value` cannot be an `aud`, or nil when it can: 1 to 512 characters of printable ASCII without spaces, and a
    /// URI with a scheme when it has a colon (RFC 7519 §2, StringOrURI).
    public static func problem(_ value: String) -> String? {
        guard !value.isEmpty, value.utf8.count <= maximumLength else {
            return "'set_audience' must be 1 to \(maximumLength) characters long."
        }
        guard value.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            return "'set_audience' must be printable ASCII without spaces or control characters."
        }
        if let colon = value.firstIndex(of: ":") {
            let scheme = value[..<colon]
            let valid = scheme.first.map(\.isLetter) == true
                && scheme.allSatisfy { $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }
            guard valid, value.index(after: colon) < value.endIndex else {
                return "'set_audience' has a colon, so it must be a URI with a scheme (RFC 7519 StringOrURI), e.g. https://app.example.com."
            }
        }
        return nil
    }
}
