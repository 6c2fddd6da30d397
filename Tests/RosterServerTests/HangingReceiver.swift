import NIOCore
import NIOPosix
import Synchronization

/// A webhook receiver on 127.0.0.1 that accepts every connection, reads what it is sent and never answers
/// nor closes: a hung endpoint, as the sender sees it. It runs on NIO's event loop, so holding connections
/// blocks no thread or task of the server under test.
final class HangingReceiver: Sendable {
    private struct State {
        var accepted = 0
        var open = 0
        var peak = 0
        var connections: [any Channel] = []
    }

    private let state = Mutex(State())
    /// Connections accepted so far.
    var accepted: Int { state.withLock { $0.accepted } }
    /// Connections open now (the sender has not given up on them yet).
    var open: Int { state.withLock { $0.open } }
    /// The most connections that were open at once.
    var peak: Int { state.withLock { $0.peak } }

    fileprivate func opened(_ channel: any Channel) {
        state.withLock {
            $0.accepted += 1
            $0.open += 1
            $0.peak = max($0.peak, $0.open)
            $0.connections.append(channel)
        }
    }

    fileprivate func closed() {
        state.withLock { $0.open -= 1 }
    }

    /// Waits until `count` connections are open at once (or the timeout passed); true when they were.
    func waitUntil(open count: Int, timeout: Duration = .seconds(30)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while open < count && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return open >= count
    }

    /// Runs `body` with a hanging receiver and its URL; closes the listener and every held connection after.
    static func run<T: Sendable>(_ body: (HangingReceiver, String) async throws -> T) async throws -> T {
        let receiver = HangingReceiver()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Holder(receiver: receiver))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer {
            listener.close(promise: nil)
            for connection in receiver.state.withLock({ $0.connections }) { connection.close(promise: nil) }
        }
        return try await body(receiver, "http://127.0.0.1:\(listener.localAddress?.port ?? 0)/hook")
    }
}

/// Counts the connection while it is open; drops what it reads; writes nothing.
private final class Holder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let receiver: HangingReceiver

    init(receiver: HangingReceiver) {
        self.receiver = receiver
    }

    func channelActive(context: ChannelHandlerContext) {
        receiver.opened(context.channel)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        receiver.closed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
