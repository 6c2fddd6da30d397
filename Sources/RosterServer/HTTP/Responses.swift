import Foundation
import Hummingbird
import SCIM

/// `application/scim+json` responses (RFC 7644 §3.1).
enum ScimResponse {
    static func json(_ status: HTTPResponse.Status, _ body: JSONValue, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/scim+json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body.encodedBytes())))
    }

    /// A resource with its `Location` and `ETag` headers (RFC 7644 §3.3, §3.14).
    static func resource(_ status: HTTPResponse.Status, _ body: JSONValue, meta: ResourceMeta) -> Response {
        json(status, body, headers: [.location: meta.location, .eTag: meta.etag])
    }
}

/// `application/json` responses of the admin API.
enum AdminResponse {
    static func json(_ status: HTTPResponse.Status, _ body: JSONValue) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body.encodedBytes())))
    }
}

extension Request {
    /// The body as JSON, within the context's size limit; malformed JSON is `invalidSyntax`.
    func scimJSON(context: some RequestContext) async throws -> JSONValue {
        let buffer = try await body.collect(upTo: context.maxUploadSize)
        // Parsed where the bytes lie: a 16 MiB Bulk body is not copied again first.
        return try buffer.withUnsafeReadableBytes { bytes throws(ScimError) in try JSONValue.parse(bytes) }
    }
}
