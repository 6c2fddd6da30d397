import HTTPTypes
import NIOCore
import NIOHTTPTypes
import Synchronization

/// This process's open connections, on every event loop: those served, and those past the cap held only
/// long enough to answer (see ConnectionCapHandler).
final class ConnectionSlots: Sendable {
    enum Admission {
        case served, overflow, refused
    }

    let limits: HTTPLimits
    private let counts = Mutex((served: 0, overflow: 0))

    init(limits: HTTPLimits) {
        self.limits = limits
    }

    func admit() -> Admission {
        counts.withLock { counts in
            if counts.served < limits.maxConnections {
                counts.served += 1
                return .served
            }
            if counts.overflow < limits.overflowConnections {
                counts.overflow += 1
                return .overflow
            }
            return .refused
        }
    }

    func release(_ admission: Admission) {
        counts.withLock { counts in
            switch admission {
            case .served: counts.served -= 1
            case .overflow: counts.overflow -= 1
            case .refused: break
            }
        }
    }
}

/// Caps the connections one process serves (`ROSTER_HTTP_MAX_CONNECTIONS`). Hummingbird's own cap stops
/// accepting, which leaves clients waiting in the listen backlog with no answer; here every connection is
/// accepted and one past the cap is answered at once: its request gets 503 with `Retry-After` (server
/// capacity, RFC 9110 §15.6.4), so a client or load balancer tries again or elsewhere.
///
/// Health probes (`/api/health`, `/live`, `/ready`) past the cap are served as usual, then closed: a
/// liveness probe failing because the replica is busy would have the orchestrator kill the very replica
/// doing the work. Past the cap a few connections (`overflowConnections`) are held to answer; past those
/// a connection is closed at accept, and one that sends no head within `headerTimeout` is closed.
final class ConnectionCapHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    static let probePaths: Set<String> = ["/api/health", "/api/health/live", "/api/health/ready"]

    private let slots: ConnectionSlots
    private var admission: ConnectionSlots.Admission?
    /// Past the cap: whether a head came, and whether it was a probe served as usual.
    private var headRead = false
    private var probe = false
    private var answered = false
    private var waitForHead: Scheduled<Void>?

    init(slots: ConnectionSlots) {
        self.slots = slots
    }

    func handlerAdded(context: ChannelHandlerContext) {
        admission = slots.admit()
        if context.channel.isActive { activated(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        waitForHead?.cancel()
        if let admission { slots.release(admission) }
        admission = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        activated(context)
        context.fireChannelActive()
    }

    private func activated(_ context: ChannelHandlerContext) {
        switch admission {
        case .refused: context.close(promise: nil)
        case .overflow where waitForHead == nil:
            waitForHead = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(slots.limits.headerTimeout)) { [self] in
                if !headRead { context.close(promise: nil) }
            }
        default: break
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard admission != .served else { return context.fireChannelRead(data) }
        guard !answered, admission == .overflow else { return }
        if case .head(let head) = unwrapInboundIn(data), !headRead {
            headRead = true
            let path = String((head.path ?? "/").prefix { character in character != "?" })
            probe = head.method == .get && Self.probePaths.contains(path)
            if !probe {
                answered = true
                return context.answerAndClose(ConnectionAnswer(
                    status: .serviceUnavailable,
                    detail: "This server holds as many connections as it takes (\(slots.limits.maxConnections)); retry shortly.",
                    path: path, extraHeaders: [.retryAfter: "1"]))
            }
        }
        if probe { context.fireChannelRead(data) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard probe else { return context.write(data, promise: promise) }
        switch unwrapOutboundIn(data) {
        case .head(var head):
            head.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            // One probe per connection past the cap.
            context.writeAndFlush(data, promise: promise)
            context.close(promise: nil)
        }
    }
}
