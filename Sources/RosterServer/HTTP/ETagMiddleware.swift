import Foundation
import HTTPTypes
import OpenAPIRuntime

/// Sends a generated operation's `ETag` as written: the runtime percent-encodes header values
/// (`"3"` would leave as `%223%22`, which no client compares equal; apple/swift-openapi-generator#857).
/// An entity tag is a quoted string without `%` (RFC 9110 §8.8.3), so decoding it back loses nothing.
struct ETagMiddleware: ServerMiddleware {
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var (response, body) = try await next(request, body, metadata)
        if let tag = response.headerFields[.eTag], let decoded = tag.removingPercentEncoding {
            response.headerFields[.eTag] = decoded
        }
        return (response, body)
    }
}
