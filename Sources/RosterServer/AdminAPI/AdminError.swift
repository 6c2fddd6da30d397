import Foundation
public import HTTPTypes

/// An admin API failure: `{"error": {"status", "code", "message"}}`.
public struct AdminError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Seconds a throttled client waits (`Retry-After`).
    public var retryAfter: Int?

    public init(status: HTTPResponse.Status, code: String, message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public static func unauthorized(_ message: String) -> AdminError { .init(status: .unauthorized, code: "unauthorized", message: message) }
    public static func forbidden(_ message: String) -> AdminError { .init(status: .forbidden, code: "forbidden", message: message) }
    public static func notFound(_ message: String) -> AdminError { .init(status: .notFound, code: "not_found", message: message) }
    public static func invalidRequest(_ message: String) -> AdminError { .init(status: .badRequest, code: "invalid_request", message: message) }
    public static func conflict(_ message: String) -> AdminError { .init(status: .conflict, code: "conflict", message: message) }
    public static func throttled(_ message: String, retryAfter: Int) -> AdminError {
        .init(status: .tooManyRequests, code: "too_many_attempts", message: message, retryAfter: retryAfter)
    }
}
