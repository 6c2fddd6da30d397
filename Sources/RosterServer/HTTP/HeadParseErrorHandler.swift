import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import SCIM

/// Answers a request whose bytes the HTTP/1.1 parser refuses (a control character in a header, a
/// malformed request line, an oversized header) with a SCIM error body, where Hummingbird would
/// answer an empty 400 (`HTTPChannelHandler` on `HTTPParserError`) or close without any answer.
///
/// The parser fails before a request head exists, so no route, path or API is known: the body is
/// the SCIM error (`/scim/v2` is what identity providers call), with `Connection: close`, as the
/// parser cannot find where the next request would start. An error after a head was delivered
/// (a malformed chunked body) goes on to Hummingbird, whose handler may already be answering.
final class HeadParseErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// A head was read and its response has not ended.
    private var requestInFlight = false
    /// The in-flight request's end was read: a parse error now belongs to the next request.
    private var requestComplete = false
    /// A refused next request, answered once the current response ends (pipelined bytes arrive together).
    private var pending: HTTPResponse.Status?
    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            requestInFlight = true
            requestComplete = false
        case .end: requestComplete = true
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else { return context.write(data, promise: promise) }
        requestInFlight = false
        context.write(data, promise: promise)
        if let status = pending { answer(status, context: context) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Mid-request (a malformed chunked body): Hummingbird's handler is reading it and must hear of it.
        guard let status = Self.status(for: error), !(requestInFlight && !requestComplete) else {
            context.fireErrorCaught(error)
            return
        }
        if requestInFlight {
            pending = status
        } else {
            answer(status, context: context)
        }
    }

    private func answer(_ status: HTTPResponse.Status, context: ChannelHandlerContext) {
        pending = nil
        guard !answered else { return }
        answered = true
        context.answerAndClose(ConnectionAnswer(status: status, detail: Self.detail(for: status)))
    }

    /// 431 for a header past the decoder's limits (RFC 6585 §5), 400 for bytes that are not HTTP/1.1; nil: not a parse error.
    static func status(for error: any Error) -> HTTPResponse.Status? {
        switch error {
        case HTTPParserError.headerOverflow: .init(code: 431, reasonPhrase: "Request Header Fields Too Large")
        case is HTTPParserError, is HTTP1TypeConversionError: .badRequest
        default: nil
        }
    }

    static func detail(for status: HTTPResponse.Status) -> String {
        status.code == 431
            ? "The request's header fields are larger than this server accepts."
            : "The request is not valid HTTP/1.1: its request line or a header field holds bytes RFC 9110 §5.5 and RFC 9112 do not allow (a control character, a space in a name, a malformed line)."
    }
}
