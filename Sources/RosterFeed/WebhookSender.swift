import AsyncHTTPClient
import Foundation
import NIOHTTP1
public import RosterStore
import NIOCore
import RosterOutbound
import SCIM

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

    public func send(id: String, body: [UInt8], to url: String, secrets: [WebhookSecret]) async -> WebhookAttempt {
        let headers = [("content-type", "application/json")]
            + WebhookSigner.headers(id: id, timestamp: Int(Date().timeIntervalSince1970), body: body, secrets: secrets)
        return await post(body, to: url, headers: headers)
    }

    /// One Security Event Token pushed as RFC 8935 §2 says: the compact JWS as the body, `application/secevent+jwt`,
    /// asking for a JSON answer. A 400's `err` and `description` (§2.3) go into the attempt's error.
    public func send(securityEvent token: String, to url: String) async -> WebhookAttempt {
        let headers = [("content-type", "application/secevent+jwt"), ("accept", "application/json")]
        return await post(Array(token.utf8), to: url, headers: headers) { response in
            response.status == 400 ? SecurityEventError.describe(response.body).map { "HTTP 400: " + $0 } : nil
        }
    }

    /// One POST of `body`; `problem` may say more of a failed answer than its status.
    private func post(
        _ body: [UInt8], to url: String, headers: [(String, String)], problem: (OutboundResponse) -> String? = { _ in nil }
    ) async -> WebhookAttempt {
        let started = ContinuousClock.now
        func elapsed() -> Int { Int((ContinuousClock.now - started) / .milliseconds(1)) }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "user-agent", value: "Roster-Webhooks")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request)
            let status = response.status
            let retryAfter = [429, 503].contains(status) ? response.headers.first(name: "retry-after").flatMap(Self.retryAfter) : nil
            return WebhookAttempt(status: status, error: problem(response) ?? response.statusProblem, milliseconds: elapsed(), retryAfter: retryAfter)
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

/// An RFC 8935 §2.3 error answer: `{"err": ..., "description": ...}`, `err` one of the codes of §2.4 (IANA's "Security
/// Event Token Error Codes") or another a receiver chose.
public enum SecurityEventError {
    /// "err <err>: <description>" for the delivery log, printable and bounded; nil when `body` is not such an answer.
    public static func describe(_ body: [UInt8]) -> String? {
        guard let json = try? body.withUnsafeBytes({ try JSONValue.read($0) }), let err = json["err"]?.stringValue else { return nil }
        let code = printable(err, limit: 64)
        return json["description"]?.stringValue.map { "err \(code): " + printable($0, limit: 300) } ?? "err \(code)"
    }

    static func printable(_ text: String, limit: Int) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { $0.properties.generalCategory != .control }.prefix(limit)))
    }
}
