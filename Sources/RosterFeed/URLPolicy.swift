public import RosterOutbound

/// Which webhook URLs Roster sends to: the outbound policy (RosterOutbound), worded for a subscription's
/// `url`. A receiver on loopback or a private network would let whoever creates a subscription reach
/// inside the network Roster runs in, so those are refused unless the operator allows them (`roster dev` does).
public struct WebhookURLPolicy: Sendable {
    public var outbound: OutboundPolicy
    public var allowPrivate: Bool { outbound.allowPrivate }

    public static let maximumLength = 2048

    public init(allowPrivate: Bool, resolver: any HostResolver = SystemResolver()) {
        outbound = OutboundPolicy(allowPrivate: allowPrivate, resolver: resolver)
    }

    /// Why `text` cannot be a webhook URL as it is created or changed (its text, and the addresses its
    /// name resolves to now), or nil when it can.
    public func refusal(creating text: String) async -> OutboundRefusal? {
        await outbound.refusal(creating: text)
    }

    /// The refusal as the admin API's 400 says it, about `subject` ("'url'").
    public static func message(_ refusal: OutboundRefusal, subject: String = "'url'") -> String {
        if refusal == .notHTTP { return "\(subject) must be an absolute http or https URL, e.g. \"https://app.example.com/webhooks/roster\"." }
        return refusal.sentence(subject: subject)
    }
}
