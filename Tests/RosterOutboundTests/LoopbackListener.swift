import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A TCP listener on 127.0.0.1 that records every connection it accepts and every request head it reads,
/// and answers each request with `response` (raw HTTP/1.1 bytes; nil: reads and never answers).
struct LoopbackListener: Sendable {
    final class Record: Sendable {
        private let state = Mutex<(accepts: Int, heads: [String])>((0, []))
        var accepts: Int { state.withLock { $0.accepts } }
        var heads: [String] { state.withLock { $0.heads } }
        func accepted() { state.withLock { $0.accepts += 1 } }
        func read(head: String) { state.withLock { $0.heads.append(head) } }
    }

    let record: Record
    let channel: any Channel
    var port: Int { channel.localAddress?.port ?? 0 }
    var accepts: Int { record.accepts }
    var heads: [String] { record.heads }

    /// Runs `body` with a listener, closing it after.
    static func run<T: Sendable>(answering response: [UInt8]?, _ body: (LoopbackListener) async throws -> T) async throws -> T {
        let record = Record()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Answerer(record: record, response: response))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let listener = LoopbackListener(record: record, channel: channel)
        do {
            let result = try await body(listener)
            try? await channel.close()
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// A plain answer: status line, headers and body, then the connection closes.
    static func answer(_ status: String, headers: [String] = [], body: [UInt8] = []) -> [UInt8] {
        let lines = ["HTTP/1.1 \(status)", "content-length: \(body.count)", "connection: close"] + headers
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + body
    }
}

/// Reads one request (head and content-length body), records it, writes the answer and closes.
private final class Answerer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let record: LoopbackListener.Record
    let response: [UInt8]?
    private var received: [UInt8] = []

    init(record: LoopbackListener.Record, response: [UInt8]?) {
        self.record = record
        self.response = response
    }

    func channelActive(context: ChannelHandlerContext) {
        record.accepted()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data).readableBytesView
        received += bytes
        let request = received
        guard let end = request.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
        let head = String(decoding: request[..<end.lowerBound], as: UTF8.self)
        let length = head.split(separator: "\r\n").compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first ?? 0
        guard request.count >= end.upperBound + length else { return }
        received = []
        record.read(head: head)
        guard let response else { return }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: response))).whenComplete { _ in bound.value.close(promise: nil) }
    }
}
