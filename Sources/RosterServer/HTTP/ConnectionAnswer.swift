import HTTPTypes
import NIOCore
import NIOHTTPTypes
import SCIM

/// A whole response a channel handler writes itself, for a request no route will see (a refused head, a
/// passed deadline, a connection past the cap): the error body ErrorMiddleware would give, a SCIM error
/// under `/scim/` or where no path is known yet (`/scim/v2` is what identity providers call), an admin error
/// elsewhere; always `Connection: close`, as the connection ends with it.
struct ConnectionAnswer {
    var status: HTTPResponse.Status
    var detail: String
    /// The request's path, when its head was read.
    var path: String?
    var extraHeaders: HTTPFields = [:]

    var parts: (head: HTTPResponse, body: ByteBuffer) {
        let scim = path.map { $0.hasPrefix("/scim/") } ?? true
        let body: [UInt8]
        if scim {
            let scimType: ScimType? = status == .badRequest ? .invalidSyntax : nil
            body = Array(ScimError(status: Int(status.code), scimType: scimType, detail: detail).body.encoded())
        } else {
            body = Array(JSONValue.object(["error": ["status": .integer(Int(status.code)), "code": .string(code), "message": .string(detail)]]).encoded())
        }
        var fields = extraHeaders
        fields[.contentType] = scim ? "application/scim+json" : "application/json"
        fields[.contentLength] = String(body.count)
        fields[.connection] = "close"
        return (HTTPResponse(status: status, headerFields: fields), ByteBuffer(bytes: body))
    }

    /// The admin API's error code (ErrorMiddleware's names; 408 has none there).
    private var code: String {
        switch status.code {
        case 400: "invalid_request"
        case 408: "request_timeout"
        case 503: "unavailable"
        default: "error"
        }
    }
}

extension ChannelHandlerContext {
    /// Writes `answer` from this handler toward the socket and closes the connection once it is flushed.
    func answerAndClose(_ answer: ConnectionAnswer) {
        let (head, body) = answer.parts
        write(NIOAny(HTTPResponsePart.head(head)), promise: nil)
        write(NIOAny(HTTPResponsePart.body(body)), promise: nil)
        writeAndFlush(NIOAny(HTTPResponsePart.end(nil))).assumeIsolated().whenComplete { _ in self.close(promise: nil) }
    }
}
