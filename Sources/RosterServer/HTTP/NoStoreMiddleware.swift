import HTTPTypes
import OpenAPIRuntime

/// Every admin API answer is `Cache-Control: no-store` (RFC 9111 §5.2.2.5): several carry a secret once (a
/// SCIM token, an admin key, a webhook secret, session tokens) and the rest describe who may do what, which
/// neither a browser nor a proxy should keep.
struct NoStoreMiddleware: ServerMiddleware {
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var (response, body) = try await next(request, body, metadata)
        response.headerFields[.cacheControl] = "no-store"
        return (response, body)
    }
}
