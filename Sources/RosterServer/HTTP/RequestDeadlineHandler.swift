import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Bounds how long a client takes over each part of its requests, which no byte limit does: a client
/// sending one header byte a second stays under every size limit, and NIO's idle handler (which each
/// byte resets) never fires. One clock runs at a time:
/// - idle, while nothing of a next request has come and no response is owed: `idleTimeout`, then close
///   (nothing was asked, so nothing is answered: RFC 9112 §9.8);
/// - head, from a request's first byte to its whole head: `headerTimeout`, then 408 and close;
/// - body, from the head to the request's end: `bodyTimeout`, then 408 and close (only close once its
///   response has begun).
/// No clock runs while the server owes an earlier response: that time is the server's, bounded elsewhere.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// What the client is sending, and since when its clock runs.
    private enum Reading {
        case nothing(since: NIODeadline)
        case head(since: NIODeadline)
        /// `path` picks the 408's error body (SCIM or admin).
        case body(since: NIODeadline, path: String)
    }

    private let limits: HTTPLimits
    private var reading = Reading.nothing(since: .now())
    private var headsRead = 0
    private var responseHeadsWritten = 0
    private var responsesEnded = 0
    private var timer: Scheduled<Void>?
    /// Kept from handlerAdded to handlerRemoved, for the timer and for bytes the front handler reports.
    private var context: ChannelHandlerContext?
    /// A deadline passed: the connection is closing and nothing more is read or written.
    private var finished = false

    init(limits: HTTPLimits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // Before the HTTP decoder, which holds a partial head without telling anyone bytes came.
        try? context.pipeline.syncOperations.addHandler(ByteArrivalHandler(deadlines: self), position: .first)
        if context.channel.isActive { restart() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        restart()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finished = true
        timer?.cancel()
        context.fireChannelInactive()
    }

    /// Bytes came from the socket: with no request under way, they start the next one's head clock.
    fileprivate func bytesArrived() {
        guard case .nothing = reading, !finished else { return }
        reading = .head(since: .now())
        schedule()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            headsRead += 1
            reading = .body(since: .now(), path: head.path ?? "/")
            schedule()
        case .body: break
        case .end:
            reading = .nothing(since: .now())
            schedule()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !finished else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.kind != .informational: responseHeadsWritten += 1
        case .head, .body: break
        case .end:
            let wasBlocked = blocked
            responsesEnded += 1
            // The server's part is done: the client's clock starts now, not from when it was blocked.
            if wasBlocked && !blocked { restart() }
        }
        context.write(data, promise: promise)
    }

    /// Responses to requests already read and not yet ended.
    private var responsesOwed: Int { headsRead - responsesEnded }

    /// Whether the server, not the client, is the one to wait for: an earlier request's response is still owed.
    private var blocked: Bool {
        if case .body = reading { responsesOwed > 1 } else { responsesOwed > 0 }
    }

    /// Starts the current clock afresh from now.
    private func restart() {
        let now = NIODeadline.now()
        switch reading {
        case .nothing: reading = .nothing(since: now)
        case .head: reading = .head(since: now)
        case .body(_, let path): reading = .body(since: now, path: path)
        }
        schedule()
    }

    private func schedule() {
        timer?.cancel()
        timer = nil
        guard let context, !finished, !blocked else { return }
        let deadline =
            switch reading {
            case .nothing(let since): since + TimeAmount(limits.idleTimeout)
            case .head(let since): since + TimeAmount(limits.headerTimeout)
            case .body(let since, _): since + TimeAmount(limits.bodyTimeout)
            }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in expire() }
    }

    private func expire() {
        timer = nil
        guard let context, !finished, !blocked else { return }
        finished = true
        switch reading {
        case .nothing:
            context.close(promise: nil)
        case .head:
            let seconds = limits.headerTimeout.components.seconds
            context.answerAndClose(ConnectionAnswer(
                status: .requestTimeout, detail: "The request's head did not arrive within \(seconds) s of its first byte."))
        case .body(_, let path):
            // Once the server began this request's response, a second one cannot follow it on the wire.
            guard responseHeadsWritten == responsesEnded, responseHeadsWritten < headsRead else { return context.close(promise: nil) }
            let seconds = limits.bodyTimeout.components.seconds
            context.answerAndClose(ConnectionAnswer(
                status: .requestTimeout, detail: "The request's body did not arrive within \(seconds) s of its head.", path: path))
        }
    }
}

/// Sits before the HTTP decoder and tells the deadline handler when bytes arrive.
private final class ByteArrivalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let deadlines: RequestDeadlineHandler

    init(deadlines: RequestDeadlineHandler) {
        self.deadlines = deadlines
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        deadlines.bytesArrived()
        context.fireChannelRead(data)
    }
}
