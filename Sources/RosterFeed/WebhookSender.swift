import AsyncHTTPClient
import Foundation
import NIOHTTP1
public import RosterStore
import NIOCore
import RosterOutbound

/// Signs and POSTs webhook bodies through the outbound policy: the receiver's host is resolved once, each
/// address checked, and the connection made to a checked one; redirects are not followed, and only a 2xx
/// within the timeout succeeds. Each attempt opens its own connection.
public struct WebhookSender: Sendable {
    /// A receiver's answer is not needed: at most this much of it is read.
    public static let maximumResponseSize = 64 * 1024

    let client: OutboundClient

    public init(timeout: Duration, policy: WebhookURLPolicy, connectTimeout: Duration = .seconds(5)) {
        client = OutboundClient(
            policy: policy.outbound, connectTimeout: connectTimeout, timeout: timeout, maximumResponseSize: Self.maximumResponseSize,
            truncatesLargeResponses: true)
    }

    /// One attempt now (a test event).
    public static func once(id: String, body: [UInt8], to url: String, secrets: [WebhookSecret], timeout: Duration, policy: WebhookURLPolicy) async -> WebhookAttempt {
        await WebhookSender(timeout: timeout, policy: policy).send(id: id, body: body, to: url, secrets: secrets)
    }

    public func send(id: String, body: [UInt8], to url: String, secrets: [WebhookSecret]) async -> WebhookAttempt {
        let started = ContinuousClock.now
        func elapsed() -> Int { Int((ContinuousClock.now - started) / .milliseconds(1)) }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "Roster-Webhooks")
        for (name, value) in WebhookSigner.headers(id: id, timestamp: Int(Date().timeIntervalSince1970), body: body, secrets: secrets) {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request)
            let status = response.status
            let retryAfter = [429, 503].contains(status) ? response.headers.first(name: "retry-after").flatMap(Self.retryAfter) : nil
            return WebhookAttempt(status: status, error: response.statusProblem, milliseconds: elapsed(), retryAfter: retryAfter)
        } catch {
            return WebhookAttempt(status: nil, error: Self.describe(error), milliseconds: elapsed())
        }
    }

    /// `Retry-After` as seconds or an HTTP date.
    static func retryAfter(_ value: String) -> Duration? {
        if let seconds = Int(value.trimmingCharacters(in: .whitespaces)), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .seconds(max(0, Int(date.timeIntervalSinceNow.rounded(.up))))
    }

    /// What went wrong, for the delivery log: a refusal names the rule (the URL's host, never its path or query).
    static func describe(_ failure: OutboundFailure) -> String {
        if case .refused(let refusal) = failure { return "refused by the outbound policy: " + WebhookURLPolicy.message(refusal, subject: "the URL") }
        return failure.description
    }
}
